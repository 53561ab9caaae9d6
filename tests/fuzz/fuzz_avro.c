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
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chtype.h"
#include "formats/avro.h"
#include "formats/formats.h"
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
        buf_free(&out);
        rowbuild_free(&rb);
        kb_avro_decoder.close(dec);
    }
    if (have_plan) rowplan_free(&plan);
    chcolumns_free(&cols);
    buf_free(&cols_text);
    return 0;
}
