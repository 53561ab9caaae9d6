/*
 * fuzz_native - libFuzzer target for the Native block splitter (native.h).
 *
 * Byte 0 bounds the rows per block, byte 1 picks the mode: even, the rest
 * is entropy for valid RowBinary rows of a plan with a column of every
 * kind; odd, the rest is taken as rows as they are.  Whatever blocks come
 * out are read back by an independent reader (tests/common/nativecheck.c)
 * and must give exactly the rows they were made from, in blocks of the
 * bounded size: all of them for valid rows, a prefix of whole rows before
 * a refusal otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chtype.h"
#include "native.h"
#include "rowplan.h"
#include "../common/nativecheck.h"

static const char columns[] =
    "i8 Int8, u64 UInt64, i128 Int128, u256 UInt256, f32 Float32, bf BFloat16, b Bool, d Decimal(9, 2), "
    "dw Decimal(40, 5), s String, fs FixedString(3), u UUID, ip4 IPv4, ip6 IPv6, e Enum8('a' = -1), "
    "dt Date, d32 Date32, t DateTime('UTC'), t64 DateTime64(9, 'UTC'), n Nullable(Int32), "
    "lc LowCardinality(Nullable(String)), a Array(Nullable(UInt8)), aa Array(Array(String)), "
    "m Map(String, Array(Int16)), tu Tuple(x UInt8, y Tuple(p String, q Date)), "
    "nt Nullable(Tuple(a UInt8, b String)), ne Nested(k String, v Float64), "
    "an Array(Nested(k LowCardinality(String), v Array(UInt8))), "
    "v Variant(Int64, String, Array(Variant(UInt8, Tuple(s String, n Nullable(Int8))))), "
    "tv Tuple(a Variant(Bool), b Map(String, Variant(Date, String)))";

static chcolumns cols;
static rowplan plan;
static buf rows, out, back;

static void setup(void) {
    char err[512];
    if (chcolumns_parse(columns, &cols, err, sizeof err) || rowplan_build(&plan, &cols, err, sizeof err)) {
        fprintf(stderr, "fuzz_native: %s\n", err);
        abort();
    }
    buf_init(&rows, 1 << 16);
    buf_init(&out, 1 << 16);
    buf_init(&back, 1 << 16);
}

static void check(int ok, const char *what, const char *detail) {
    if (ok) return;
    fprintf(stderr, "fuzz_native: %s %s\n", what, detail);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 2) return 0;
    size_t max_rows = 1 + data[0] % 16;
    int generated = !(data[1] & 1);
    rows.len = out.len = back.len = 0;
    size_t want_rows = 0;
    if (generated) {
        nativecheck_src src = {data + 2, size - 2};
        want_rows = 1 + (size > 2 ? data[2] % 40 : 0);
        for (size_t r = 0; r < want_rows; r++) nativecheck_row(&plan, &src, &rows);
    } else {
        buf_put(&rows, data + 2, size - 2);
    }
    native *n = native_open(&plan, max_rows, 1 + (size_t)data[1] * 64);
    char err[512];
    size_t blocks = 0, nrows = 0, nblocks = 0, biggest = 0;
    int rc = native_encode(n, rows.data, rows.len, &out, &blocks, err, sizeof err);
    check(!generated || rc == 0, "valid rows refused:", err);
    check(nativecheck_read(&plan, out.data, out.len, &back, &nrows, &nblocks, &biggest, err, sizeof err) == 0,
          "block does not read back:", err);
    check(nblocks == blocks, "block count", "differs");
    check(biggest <= max_rows, "a block holds more rows than", "the bound");
    if (rc == 0) {
        check(back.len == rows.len && !memcmp(back.data, rows.data, rows.len), "rows", "differ after the round trip");
        if (generated) check(nrows == want_rows, "row count", "differs");
    } else {
        check(back.len <= rows.len && !memcmp(back.data, rows.data, back.len), "blocks before a refusal",
              "are not a prefix of the rows");
    }
    native_close(n);
    return 0;
}
