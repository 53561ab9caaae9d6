/* The UDFs' Avro halves: JSON rows to datums (udf/avroenc.h) and datums
 * to JSON (udf/avrojson.h), on hand-computed bytes. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "avroenc.h"
#include "avrojson.h"
#include "avroschema.h"
#include "suites.h"

static av_schema parse(const char *text) {
    av_schema s;
    char err[256];
    ck_assert_msg(av_schema_parse(text, strlen(text), &s, err, sizeof err) == 0, "%s", err);
    return s;
}

/* Encodes json; returns the bytes as hex, or "ERR: reason". */
static const char *enc(const char *schema, const char *json) {
    static char out[2048];
    av_schema s = parse(schema);
    kb_avroenc e;
    kb_avroenc_init(&e);
    buf b;
    buf_init(&b, 0);
    buf_put(&b, "~", 1);
    char err[400];
    if (kb_avroenc_datum(&e, s.root, json, strlen(json), &b, err, sizeof err)) {
        ck_assert_uint_eq(b.len, 1);
        snprintf(out, sizeof out, "ERR: %s", err);
    } else {
        size_t k = 0;
        for (size_t i = 1; i < b.len && k + 3 < sizeof out; i++) k += (size_t)snprintf(out + k, 3, "%02x", b.data[i]);
        out[k] = '\0';
    }
    buf_free(&b);
    kb_avroenc_free(&e);
    av_schema_free(&s);
    return out;
}

static const char *dec(const char *schema, const void *p, size_t n) {
    static char out[2048];
    av_schema s = parse(schema);
    buf b;
    buf_init(&b, 0);
    char err[400];
    if (kb_avrojson_datum(s.root, p, n, &b, err, sizeof err)) {
        ck_assert_uint_eq(b.len, 0);
        snprintf(out, sizeof out, "ERR: %s", err);
    } else {
        snprintf(out, sizeof out, "%.*s", (int)b.len, (const char *)b.data);
    }
    buf_free(&b);
    av_schema_free(&s);
    return out;
}

/* JSON -> datum -> JSON. */
static const char *round_trip(const char *schema, const char *json) {
    static char out[2048];
    av_schema s = parse(schema);
    kb_avroenc e;
    kb_avroenc_init(&e);
    buf b, j;
    buf_init(&b, 0);
    buf_init(&j, 0);
    char err[400];
    if (kb_avroenc_datum(&e, s.root, json, strlen(json), &b, err, sizeof err) ||
        kb_avrojson_datum(s.root, b.data, b.len, &j, err, sizeof err))
        snprintf(out, sizeof out, "ERR: %s", err);
    else
        snprintf(out, sizeof out, "%.*s", (int)j.len, (const char *)j.data);
    buf_free(&b);
    buf_free(&j);
    kb_avroenc_free(&e);
    av_schema_free(&s);
    return out;
}

#define REC(fields) "{\"type\":\"record\",\"name\":\"r\",\"fields\":[" fields "]}"

START_TEST(encodes_scalars_as_avro_spells_them) {
    ck_assert_str_eq(enc("\"long\"", "1"), "02");
    ck_assert_str_eq(enc("\"long\"", "-1"), "01");
    ck_assert_str_eq(enc("\"long\"", "\"64\""), "8001"); /* ClickHouse quotes 64-bit integers */
    ck_assert_str_eq(enc("\"long\"", "-9223372036854775808"), "ffffffffffffffffff01");
    ck_assert_str_eq(enc("\"int\"", "2147483648"), "ERR: 2147483648 is out of range for an Avro int");
    ck_assert_str_eq(enc("\"long\"", "1.5"), "ERR: '1.5' is not an integer");
    ck_assert_str_eq(enc("\"long\"", "9223372036854775808"), "ERR: '9223372036854775808' is not an integer");
    ck_assert_str_eq(enc("\"boolean\"", "true"), "01");
    ck_assert_str_eq(enc("\"boolean\"", "1"), "ERR: expected true or false");
    ck_assert_str_eq(enc("\"double\"", "1.5"), "000000000000f83f");
    ck_assert_str_eq(enc("\"float\"", "\"inf\""), "0000807f");
    ck_assert_str_eq(enc("\"float\"", "1e39"), "ERR: 1e39 is out of range for an Avro float");
    ck_assert_str_eq(enc("\"string\"", "\"a\\u00e9\""), "0661c3a9");
    ck_assert_str_eq(enc("\"string\"", "5"), "ERR: expected a string, got a number");
    ck_assert_str_eq(enc("\"null\"", " null "), "");
    ck_assert_str_eq(enc("\"long\"", "1 2"), "ERR: bytes after the JSON value at byte 2");
}
END_TEST

START_TEST(encodes_logical_types_exactly) {
    const char *dec2 = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":6,\"scale\":2}";
    ck_assert_str_eq(enc(dec2, "12.5"), "08000004e2");    /* 1250, as wide as a Decimal32 */
    ck_assert_str_eq(enc(dec2, "\"-0.01\""), "08ffffffff"); /* -1 */
    ck_assert_str_eq(enc(dec2, "1.2300"), "08" "0000007b"); /* trailing zeros are exact */
    ck_assert_str_eq(enc(dec2, "1.234"), "ERR: 1.234 has more than 2 digits after the point");
    ck_assert_str_eq(enc(dec2, "12345.6"), "ERR: 12345.6 does not fit decimal(6, 2)");
    ck_assert_str_eq(enc(dec2, "1e3"), "ERR: '1e3' is not a decimal number (no exponents)");
    ck_assert_str_eq(enc(dec2, "128"), "08" "00003200"); /* 12800 */
    ck_assert_str_eq(enc("{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":19,\"scale\":0}", "-1"),
                     "20ffffffffffffffffffffffffffffffff"); /* Decimal128 */
    const char *fix = "{\"type\":\"fixed\",\"name\":\"d\",\"size\":4,\"logicalType\":\"decimal\",\"precision\":9,\"scale\":0}";
    ck_assert_str_eq(enc(fix, "-2"), "fffffffe");
    ck_assert_str_eq(enc("{\"type\":\"int\",\"logicalType\":\"date\"}", "\"1970-01-02\""), "02");
    const char *ms = "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}";
    ck_assert_str_eq(enc(ms, "\"1970-01-01 00:00:00.001\""), "02");
    ck_assert_str_eq(enc(ms, "\"1970-01-01T00:00:01+00:00\""), "d00f");
    ck_assert_str_eq(enc(ms, "\"1970-01-01 00:00:00.0001\""),
                     "ERR: '1970-01-01 00:00:00.0001' is finer than the schema's unit (milliseconds)");
    ck_assert_str_eq(enc(ms, "7"), "0e");
    const char *uuid = "{\"type\":\"fixed\",\"name\":\"u\",\"size\":16,\"logicalType\":\"uuid\"}";
    ck_assert_str_eq(enc(uuid, "\"00112233-4455-6677-8899-aabbccddeeff\""), "00112233445566778899aabbccddeeff");
}
END_TEST

START_TEST(encodes_records_in_schema_order_and_names_fields) {
    const char *s = REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":[\"null\",\"string\"]},"
                        "{\"name\":\"c\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"i\","
                        "\"fields\":[{\"name\":\"x\",\"type\":\"long\"}]}}}");
    ck_assert_str_eq(enc(s, "{\"c\":[{\"x\":1},{\"x\":2}],\"b\":\"h\",\"a\":3}"), "06" "02" "0268" "04" "02" "04" "00");
    ck_assert_str_eq(enc(s, "{\"a\":3,\"c\":[]}"), "06" "00" "00"); /* b missing: null */
    ck_assert_str_eq(enc(s, "{\"b\":null,\"c\":[]}"), "ERR: field 'a': missing (its type int has no null)");
    ck_assert_str_eq(enc(s, "{\"a\":1,\"c\":[{\"x\":1},{\"x\":\"y\"}]}"), "ERR: field 'c[1].x': 'y' is not an integer");
    ck_assert_str_eq(enc(s, "{\"a\":1,\"c\":[],\"d\":0}"), "ERR: field 'd': no such field in r");
    ck_assert_str_eq(enc(s, "{\"a\":1,\"a\":2,\"c\":[]}"), "ERR: field 'a': given twice");
    ck_assert_str_eq(enc(s, "{\"a\":1,\"b\":7,\"c\":[]}"), "ERR: field 'b': expected a string, got a number");
    ck_assert_str_eq(enc(s, "[1]"), "ERR: expected an object (a record)");
    ck_assert(strncmp(enc(s, "{\"a\":1,"), "ERR: malformed JSON", 19) == 0);
    const char *u = "[\"null\",\"long\",\"string\"]";
    ck_assert_str_eq(enc(u, "\"x\""), "04" "0278");
    ck_assert_str_eq(enc(u, "3"), "02" "06");
    ck_assert_str_eq(enc(u, "true"), "ERR: fits no branch of the union (the last said: expected a string, got true)");
    const char *en = "{\"type\":\"enum\",\"name\":\"e\",\"symbols\":[\"A\",\"B\"]}";
    ck_assert_str_eq(enc(en, "\"B\""), "02");
    ck_assert_str_eq(enc(en, "\"C\""), "ERR: 'C' is not a symbol of enum e");
    ck_assert_str_eq(enc("{\"type\":\"map\",\"values\":\"int\"}", "{\"k\":1}"), "02" "026b" "02" "00");
}
END_TEST

START_TEST(decodes_to_the_json_clickhouse_reads) {
    const char *s = REC("{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"amount\",\"type\":{\"type\":\"bytes\","
                        "\"logicalType\":\"decimal\",\"precision\":12,\"scale\":2}},"
                        "{\"name\":\"at\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
                        "{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
                        "{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"values\":\"double\"}},"
                        "{\"name\":\"n\",\"type\":[\"null\",\"string\"]},{\"name\":\"f\",\"type\":\"float\"},"
                        "{\"name\":\"u\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"}}");
    const char *json = "{\"id\":-5,\"amount\":-0.05,\"at\":\"2024-02-29 23:59:59.999\",\"day\":\"1969-12-31\","
                       "\"tags\":{\"a\\\"b\":0.1,\"c\":1.0},\"n\":null,\"f\":1.1,\"u\":\"0-1\"}";
    ck_assert_str_eq(round_trip(s, json), json);
    ck_assert_str_eq(round_trip(s, "{\"id\":\"7\",\"amount\":\"123456789.5\",\"at\":-1,\"day\":0,\"tags\":{},"
                                   "\"n\":\"\\n\",\"f\":-0.0,\"u\":\"\"}"),
                     "{\"id\":7,\"amount\":123456789.50,\"at\":\"1969-12-31 23:59:59.999\",\"day\":\"1970-01-01\","
                     "\"tags\":{},\"n\":\"\\n\",\"f\":-0.0,\"u\":\"\"}");
}
END_TEST

START_TEST(refuses_corrupt_datums_naming_byte_and_field) {
    const char *s = REC("{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":\"string\"}");
    ck_assert_str_eq(dec(s, "\x02\x06" "ab", 4),
                     "ERR: Avro datum, field 'b', byte 2: the datum ends early or is corrupt (reading string)");
    ck_assert_str_eq(dec(s, "\x02\x02" "ab", 4), "ERR: Avro datum, byte 3: 1 bytes after the datum (the wrong schema?)");
    ck_assert_str_eq(dec(s, "\x02\x02" "a", 3), "{\"a\":1,\"b\":\"a\"}");
    ck_assert_str_eq(dec("[\"null\",\"int\"]", "\x04", 1), "ERR: Avro datum, byte 1: union branch 2 outside 2 branches");
    ck_assert_str_eq(dec("{\"type\":\"array\",\"items\":\"null\"}", "\xfe\xff\xff\xff\x0f", 5),
                     "ERR: Avro datum, byte 5: a block of 2147483647 items in 0 bytes");
    ck_assert_str_eq(dec("\"double\"", "\0\0\0\0\0\0\xf8\x7f", 8), "ERR: Avro datum, byte 8: NaN has no JSON form");
    /* Found by fuzzing: bytes for more digits than the precision printed a
     * number the encoder then refused. */
    const char *d3 = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":3,\"scale\":1}";
    ck_assert_str_eq(dec(d3, "\x04\x03\xe7", 3), "99.9");
    ck_assert_str_eq(dec(d3, "\x04\x03\xe8", 3), "ERR: Avro datum, byte 3: a decimal of 4 digits, more than its precision 3");
}
END_TEST

Suite *avroudf_suite(void) {
    Suite *s = suite_create("avroudf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, encodes_scalars_as_avro_spells_them);
    tcase_add_test(tc, encodes_logical_types_exactly);
    tcase_add_test(tc, encodes_records_in_schema_order_and_names_fields);
    tcase_add_test(tc, decodes_to_the_json_clickhouse_reads);
    tcase_add_test(tc, refuses_corrupt_datums_naming_byte_and_field);
    suite_add_tcase(s, tc);
    return s;
}
