/* libFuzzer target for the UDFs' Avro halves.  Input: a schema text, a
 * NUL byte, then bytes used both as a datum (avrojson) and as JSON text
 * (avroenc).  Checks: a failure leaves the output as it was and says why;
 * a datum that decodes re-encodes from its JSON to the same bytes, and
 * JSON that encodes decodes to JSON that encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avroenc.h"
#include "avrojson.h"
#include "avroschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul) return 0;
    size_t slen = (size_t)(nul - data);
    const uint8_t *body = nul + 1;
    size_t blen = size - slen - 1;
    av_schema s;
    char err[512];
    if (av_schema_parse((const char *)data, slen, &s, err, sizeof err)) return 0;
    kb_avroenc e;
    kb_avroenc_init(&e);
    buf json, bin, json2;
    buf_init(&json, 0);
    buf_init(&bin, 0);
    buf_init(&json2, 0);

    err[0] = '\0';
    if (kb_avrojson_datum(s.root, body, blen, &json, err, sizeof err) == 0) {
        if (kb_avroenc_datum(&e, s.root, (const char *)json.data, json.len, &bin, err, sizeof err)) {
            /* Strings hold any bytes: an invalid escape cannot arise, so
             * only a float printed shorter than needed could differ. */
            abort();
        }
        if (bin.len != blen || memcmp(bin.data, body, blen)) {
            /* Non-canonical input (negative block counts, overlong
             * varints, -0 block sizes) re-encodes canonically: compare
             * through JSON instead. */
            if (kb_avrojson_datum(s.root, bin.data, bin.len, &json2, err, sizeof err)) abort();
            if (json2.len != json.len || memcmp(json2.data, json.data, json.len)) abort();
        }
    } else if (json.len || !err[0]) {
        abort();
    }

    bin.len = json.len = json2.len = 0;
    err[0] = '\0';
    if (kb_avroenc_datum(&e, s.root, (const char *)body, blen, &bin, err, sizeof err) == 0) {
        if (kb_avrojson_datum(s.root, bin.data, bin.len, &json, err, sizeof err) == 0) {
            size_t first = bin.len;
            if (kb_avroenc_datum(&e, s.root, (const char *)json.data, json.len, &bin, err, sizeof err)) abort();
            if (bin.len != 2 * first || memcmp(bin.data, bin.data + first, first)) abort();
        }
        /* else: NaN or an infinity, which JSON cannot spell */
    } else if (bin.len || !err[0]) {
        abort();
    }
    buf_free(&json);
    buf_free(&bin);
    buf_free(&json2);
    kb_avroenc_free(&e);
    av_schema_free(&s);
    return 0;
}
