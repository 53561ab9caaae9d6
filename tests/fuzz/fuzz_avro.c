/*
 * fuzz_avro - arbitrary Avro datums against arbitrary writer schemas.
 *
 * The input is a schema (JSON), a NUL byte, then the datum.  The column
 * list is the one --describe derives from the schema, so every schema
 * that parses is compiled against columns it fits, and the datum is
 * decoded with it: the schema reader, the column derivation, the compiler
 * and the decoder all meet fuzzed input.  Seeds: tests/fuzz/corpus/avro.
 * Any input must give a row or a clean refusal, never a crash, a leak or
 * a sanitizer report; a refused datum leaves the output as it was, and an
 * accepted one is exactly one well-formed RowBinary row (rbcheck.h).
 * Decoded into Native columns too (-O Native), after a row already in the
 * block, the datum gives the block its RowBinary row split into columns
 * gives, or is refused alike with every column as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chtype.h"
#include "formats/avro.h"
#include "formats/formats.h"
#include "native.h"
#include "rbcheck.h"
#include "rowbuild.h"
#include "rowplan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul) return 0;
    size_t slen = (size_t)(nul - data);
    const uint8_t *datum = nul + 1;
    size_t dlen = size - slen - 1;
    char err[512];
    av_schema s;
    if (av_schema_parse((const char *)data, slen, &s, err, sizeof err)) return 0;
    buf cols_text;
    buf_init(&cols_text, 256);
    int ok = kb_avro_columns(&s, &cols_text, err, sizeof err) == 0;
    av_schema_free(&s);
    chcolumns cols = {0};
    rowplan plan;
    int have_plan = 0;
    void *dec = NULL;
    if (ok) {
        buf_u8(&cols_text, 0);
        ok = chcolumns_parse((const char *)cols_text.data, &cols, err, sizeof err) == 0 &&
             (have_plan = rowplan_build(&plan, &cols, err, sizeof err) == 0);
    }
    if (ok) {
        char *schema = strndup((const char *)data, slen);
        ok = kb_avro_open_schema(&dec, &plan, FIELD_VALUE, schema, 0, err, sizeof err) == 0;
        free(schema);
    }
    if (ok) {
        rowbuild rb;
        rowbuild_init(&rb, &plan);
        buf out;
        buf_init(&out, 256);
        buf_u8(&out, 0xAB);
        kb_msg m = {.topic = "fuzz", .value = datum, .value_len = dlen};
        row_error e;
        int rc = rowbuild_begin(&rb, &m, &out, &e);
        if (!rc) rc = kb_avro_decoder.decode(dec, &rb, datum, dlen, &e);
        if (!rc) rc = rowbuild_commit(&rb, &e);
        else rowbuild_cancel(&rb);
        if (rc && (out.len != 1 || out.data[0] != 0xAB)) abort();
        if (rc && e.reason[0] == '\0') abort();
        if (!rc) {
            size_t pos = 1;
            char why[256];
            int malformed = rbcheck_row(&cols, out.data, out.len, &pos, why, sizeof why);
            if (malformed || pos != out.len) {
                fprintf(stderr, "fuzz_avro: malformed row: %s\n", malformed ? why : "bytes past the row");
                abort();
            }
        }
        native *direct = native_open(&plan, 1000, 1 << 20), *split = native_open(&plan, 1000, 1 << 20);
        buf first, block, split_block;
        buf_init(&first, 256);
        buf_init(&block, 256);
        buf_init(&split_block, 256);
        row_error ce;
        if (rowplan_put_error_row(&plan, &m, &first, &ce) || native_append(direct, first.data, first.len, err, sizeof err) ||
            native_append(split, first.data, first.len, err, sizeof err))
            abort();
        buf *c = native_columns(direct);
        size_t *lens = calloc(plan.ncols, sizeof *lens);
        for (size_t i = 0; i < plan.ncols; i++) lens[i] = c[i].len;
        int crc = rowbuild_begin_columns(&rb, &m, c, &ce);
        if (!crc) crc = kb_avro_decoder.decode(dec, &rb, datum, dlen, &ce);
        if (!crc) crc = rowbuild_commit(&rb, &ce);
        else rowbuild_cancel(&rb);
        if ((crc != 0) != (rc != 0) || (rc && strcmp(ce.reason, e.reason))) {
            fprintf(stderr, "fuzz_avro: in columns, another outcome: %s\n", ce.reason);
            abort();
        }
        if (rc) {
            for (size_t i = 0; i < plan.ncols; i++)
                if (c[i].len != lens[i]) abort();
        } else {
            native_added(direct, 1);
            if (native_append(split, out.data + 1, out.len - 1, err, sizeof err)) abort();
        }
        if (native_flush_block(direct, &block, err, sizeof err) || native_flush_block(split, &split_block, err, sizeof err) ||
            block.len != split_block.len || memcmp(block.data, split_block.data, block.len)) {
            fprintf(stderr, "fuzz_avro: Native in columns differs from the RowBinary row split\n");
            abort();
        }
        free(lens);
        buf_free(&first);
        buf_free(&block);
        buf_free(&split_block);
        native_close(direct);
        native_close(split);
        buf_free(&out);
        rowbuild_free(&rb);
        kb_avro_decoder.close(dec);
    }
    if (have_plan) rowplan_free(&plan);
    chcolumns_free(&cols);
    buf_free(&cols_text);
    return 0;
}
