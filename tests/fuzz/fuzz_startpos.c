/*
 * fuzz_startpos - the reader of the input query's positions (startpos.h),
 * the one parser that takes bytes ClickHouse computed from a table.
 *
 * Accepted input must give starts a consumer can use as they are: sorted
 * by partition with no partition twice, partitions and offsets not
 * negative, and no more rows than the bytes could hold.  The starts are
 * then written back as RowBinaryWithNamesAndTypes (Int32, Int64) and read
 * again, which must give the same list: the reader's notion of a position
 * is independent of the integer types the query happened to produce.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "startpos.h"

static void fail_check(const char *what) {
    fprintf(stderr, "fuzz_startpos: %s\n", what);
    abort();
}

static void put_string(buf *b, const char *s) {
    buf_u8(b, (unsigned char)strlen(s));
    buf_put(b, s, strlen(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    partition_start *starts = NULL;
    size_t n = 0;
    char err[512] = "";
    if (startpos_parse(data, size, &starts, &n, err, sizeof err)) {
        if (strncmp(err, "input query: ", 13) || !err[13]) fail_check("a refusal without its reason");
        free(starts);
        return 0;
    }
    if (n > size / 2) fail_check("more starts than the bytes can hold");
    for (size_t i = 0; i < n; i++) {
        if (starts[i].partition < 0 || starts[i].start.value < 0) fail_check("a negative position");
        if (starts[i].start.kind != OFFSET_ABSOLUTE) fail_check("a start that is not an absolute offset");
        if (i && starts[i].partition <= starts[i - 1].partition) fail_check("starts not sorted or repeated");
    }

    buf b;
    buf_init(&b, 64 + n * 12);
    buf_u8(&b, 2);
    put_string(&b, "p");
    put_string(&b, "o");
    put_string(&b, "Int32");
    put_string(&b, "Int64");
    for (size_t i = 0; i < n; i++) {
        int32_t p = starts[i].partition;
        int64_t o = starts[i].start.value;
        for (int k = 0; k < 4; k++) buf_u8(&b, (unsigned char)((uint32_t)p >> (8 * k)));
        for (int k = 0; k < 8; k++) buf_u8(&b, (unsigned char)((uint64_t)o >> (8 * k)));
    }
    partition_start *again = NULL;
    size_t m = 0;
    int rc = startpos_parse(b.data, b.len, &again, &m, err, sizeof err);
    /* No rows is its own refusal (an empty table is not an input query),
     * so the round trip applies to lists with something in them. */
    if (n && (rc || m != n)) fail_check("written back, the starts do not read again");
    for (size_t i = 0; n && i < n; i++)
        if (again[i].partition != starts[i].partition || again[i].start.kind != starts[i].start.kind ||
            again[i].start.value != starts[i].start.value)
            fail_check("written back and read again, the starts differ");
    free(again);
    buf_free(&b);
    free(starts);
    return 0;
}
