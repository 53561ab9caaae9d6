#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrow.h"
#include "suites.h"

/* Decodes `json` (a message of topic "events", partition 3, offset 42)
 * against `columns` and returns the row as hex bytes, or "ERROR column:
 * reason" on failure. */
static const char *decode_msg(const char *columns, const void *json, size_t len, const kb_msg *meta) {
    static char out[4096];
    char err[256];
    chcolumns cols;
    rowplan plan;
    ck_assert_msg(chcolumns_parse(columns, &cols, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rowplan_build(&plan, &cols, err, sizeof err) == 0, "%s", err);
    jsonrow d;
    jsonrow_init(&d, &plan);
    kb_msg m = {.topic = "events", .partition = 3, .offset = 42, .value = json, .value_len = len};
    if (meta) {
        m = *meta;
        m.value = json;
        m.value_len = len;
    }
    buf row;
    buf_init(&row, 16);
    buf_put(&row, "\xAA", 1); /* bytes already there must stay */
    row_error e;
    size_t o = 0;
    if (jsonrow_decode(&d, &m, &row, &e) == 0) {
        for (size_t i = 1; i < row.len; i++)
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%02x", i > 1 ? " " : "", row.data[i]);
        out[o] = '\0';
    } else {
        ck_assert_uint_eq(row.len, 1); /* nothing of a failed row is kept */
        snprintf(out, sizeof out, "ERROR %s: %s", e.column ? e.column : "-", e.reason);
    }
    ck_assert_uint_eq(row.data[0], 0xAA);
    buf_free(&row);
    jsonrow_free(&d);
    rowplan_free(&plan);
    chcolumns_free(&cols);
    return out;
}

static const char *decode(const char *columns, const char *json) {
    return decode_msg(columns, json, strlen(json), NULL);
}

#define ROW(cols, json, hex) ck_assert_str_eq(decode(cols, json), hex)

START_TEST(integers_at_their_limits) {
    ROW("a Int8, b Int8", "{\"a\":127,\"b\":-128}", "7f 80");
    ROW("a UInt8", "{\"a\":255}", "ff");
    ROW("a Int16", "{\"a\":-2}", "fe ff");
    ROW("a UInt16", "{\"a\":65535}", "ff ff");
    ROW("a Int32", "{\"a\":-2147483648}", "00 00 00 80");
    ROW("a UInt32", "{\"a\":4294967295}", "ff ff ff ff");
    ROW("a Int64", "{\"a\":-9223372036854775808}", "00 00 00 00 00 00 00 80");
    ROW("a Int64", "{\"a\":9223372036854775807}", "ff ff ff ff ff ff ff 7f");
    ROW("a UInt64", "{\"a\":18446744073709551615}", "ff ff ff ff ff ff ff ff");
    ROW("a UInt64", "{\"a\":0}", "00 00 00 00 00 00 00 00");
    ROW("a Int32", "{\"a\":-0}", "00 00 00 00");
}
END_TEST

START_TEST(integers_out_of_range_are_errors) {
    ROW("a Int8", "{\"a\":128}", "ERROR a: value 128 is out of range for Int8");
    ROW("a Int8", "{\"a\":-129}", "ERROR a: value -129 is out of range for Int8");
    ROW("a UInt8", "{\"a\":256}", "ERROR a: value 256 is out of range for UInt8");
    ROW("a UInt8", "{\"a\":-1}", "ERROR a: value -1 is out of range for UInt8");
    ROW("a UInt64", "{\"a\":18446744073709551616}",
        "ERROR a: value 18446744073709551616 is out of range for UInt64");
    ROW("a Int64", "{\"a\":9223372036854775808}",
        "ERROR a: value 9223372036854775808 is out of range for Int64");
    ROW("a UInt32", "{\"a\":1.5}", "ERROR a: expected an integer, got \"1.5\"");
    ROW("a UInt32", "{\"a\":1e3}", "ERROR a: expected an integer, got \"1e3\"");
    ROW("a UInt32", "{\"a\":\"12x\"}", "ERROR a: expected an integer, got \"12x\"");
    ROW("a UInt32", "{\"a\":[1]}", "ERROR a: expected an integer, got an array");
}
END_TEST

START_TEST(integers_from_strings_and_booleans) {
    ROW("a UInt16", "{\"a\":\"513\"}", "01 02");
    ROW("a Int8", "{\"a\":\"-5\"}", "fb");
    ROW("a UInt8, b UInt8", "{\"a\":true,\"b\":false}", "01 00");
}
END_TEST

START_TEST(floats) {
    ROW("a Float64", "{\"a\":1.5}", "00 00 00 00 00 00 f8 3f");
    ROW("a Float32", "{\"a\":1.5}", "00 00 c0 3f");
    ROW("a Float64", "{\"a\":-0.0}", "00 00 00 00 00 00 00 80");
    ROW("a Float64", "{\"a\":\"nan\"}", "00 00 00 00 00 00 f8 7f");
    ROW("a Float64", "{\"a\":\"-inf\"}", "00 00 00 00 00 00 f0 ff");
    ROW("a Float64", "{\"a\":1e400}", "00 00 00 00 00 00 f0 7f");
    ROW("a Float64", "{\"a\":15E-1}", "00 00 00 00 00 00 f8 3f");
    ROW("a Float64", "{\"a\":\"0x10\"}", "ERROR a: expected a number, got \"0x10\"");
    ROW("a Float64", "{\"a\":\" 1\"}", "ERROR a: expected a number, got \" 1\"");
    ROW("a Float32", "{\"a\":true}", "ERROR a: expected a number, got a boolean");
    ROW("a Float64", "{\"a\":\"1.\"}", "ERROR a: expected a number, got \"1.\"");
    ROW("a Float64", "{\"a\":\"+2.5\"}", "00 00 00 00 00 00 04 40");
}
END_TEST

/* The float fast path must round exactly as libc does: random decimals of
 * every shape, decoded through the row decoder, against strtod/strtof. */
START_TEST(floats_match_libc) {
    char err[256];
    chcolumns cols;
    rowplan plan;
    ck_assert_int_eq(chcolumns_parse("d Float64, f Float32", &cols, err, sizeof err), 0);
    ck_assert_int_eq(rowplan_build(&plan, &cols, err, sizeof err), 0);
    jsonrow dec;
    jsonrow_init(&dec, &plan);
    buf out;
    buf_init(&out, 64);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000; i++) {
        char num[64], json[160];
        size_t o = 0;
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = state >> 11;
        if (r & 1) num[o++] = '-';
        int int_digits = (int)((r >> 1) % 18), frac_digits = (int)((r >> 6) % 18);
        for (int k = 0; k <= int_digits; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            num[o++] = (char)('0' + (k == 0 && int_digits ? 1 + (state >> 33) % 9 : (state >> 33) % 10));
        }
        if (frac_digits) {
            num[o++] = '.';
            for (int k = 0; k < frac_digits; k++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                num[o++] = (char)('0' + (state >> 33) % 10);
            }
        }
        if ((r >> 11) % 3 == 0) o += (size_t)snprintf(num + o, sizeof num - o, "e%d", (int)((r >> 13) % 60) - 30);
        num[o] = '\0';
        snprintf(json, sizeof json, "{\"d\":%s,\"f\":%s}", num, num);
        kb_msg m = {.topic = "t", .value = json, .value_len = strlen(json)};
        row_error e;
        out.len = 0;
        ck_assert_msg(jsonrow_decode(&dec, &m, &out, &e) == 0, "%s: %s", json, e.reason);
        double want_d = strtod(num, NULL);
        float want_f = strtof(num, NULL);
        ck_assert_msg(memcmp(out.data, &want_d, 8) == 0, "Float64 of %s", num);
        ck_assert_msg(memcmp(out.data + 8, &want_f, 4) == 0, "Float32 of %s", num);
    }
    buf_free(&out);
    jsonrow_free(&dec);
    rowplan_free(&plan);
    chcolumns_free(&cols);
}
END_TEST

START_TEST(booleans) {
    ROW("a Bool, b Bool, c Bool, d Bool", "{\"a\":true,\"b\":false,\"c\":1,\"d\":0}",
        "01 00 01 00");
    ROW("a Bool", "{\"a\":2}", "ERROR a: expected true, false, 0 or 1, got \"2\"");
    ROW("a Bool", "{\"a\":\"true\"}", "ERROR a: expected true, false, 0 or 1, got a string");
}
END_TEST

START_TEST(strings_and_escapes) {
    ROW("s String", "{\"s\":\"\"}", "00");
    ROW("s String", "{\"s\":\"a\\\"b\"}", "03 61 22 62");
    ROW("s String", "{\"s\":\"\\\\\\/\\b\\f\\n\\r\\t\"}", "07 5c 2f 08 0c 0a 0d 09");
    ROW("s String", "{\"s\":\"\\u00e9\\u20AC\"}", "05 c3 a9 e2 82 ac");
    ROW("s String", "{\"s\":\"\\ud83d\\ude00\"}", "04 f0 9f 98 80");    /* a surrogate pair */
    ROW("s String", "{\"s\":\"\\udc00x\"}", "04 ed b0 80 78");          /* a lone low surrogate */
    ROW("s String", "{\"s\":\"\\ud83d!\"}",
        "ERROR s: malformed JSON: a \\u escape of a high surrogate must be followed by a low one");
    ROW("s String", "{\"s\":\"\\ud800\\ud800\"}",
        "ERROR s: malformed JSON: a high surrogate followed by something other than a low surrogate");
    ROW("s String", "{\"s\":\"a\tb\x01\"}", "04 61 09 62 01");           /* raw control bytes */
    ROW("s String", "{\"s\":\"\\u0000\"}", "01 00");
    ROW("s String", "{\"s\":\"\xff\xfe\"}", "02 ff fe");                 /* invalid UTF-8 kept */
    ROW("s String", "{\"s\":\"\\x\"}", "ERROR s: malformed JSON: invalid escape in string");
    ROW("s String", "{\"s\":\"\\u12\"}", "ERROR s: malformed JSON: invalid \\u escape");
}
END_TEST

START_TEST(non_strings_into_string_columns_keep_their_text) {
    ROW("s String", "{\"s\":12.50}", "05 31 32 2e 35 30");
    ROW("s String", "{\"s\":true}", "04 74 72 75 65");
    ROW("s String", "{\"s\": {\"x\": [1, \"}\"]} }", "0f 7b 22 78 22 3a 20 5b 31 2c 20 22 7d 22 5d 7d");
    ROW("s LowCardinality(String)", "{\"s\":\"ab\"}", "02 61 62");
}
END_TEST

START_TEST(long_string_length_is_leb128) {
    static char json[400];
    char want[1024];
    memset(json, 0, sizeof json);
    strcpy(json, "{\"s\":\"");
    memset(json + 6, 'x', 300);
    strcpy(json + 306, "\"}");
    size_t o = (size_t)snprintf(want, sizeof want, "ac 02");
    for (int i = 0; i < 300; i++) o += (size_t)snprintf(want + o, sizeof want - o, " 78");
    ROW("s String", json, want);
}
END_TEST

START_TEST(missing_null_and_unknown_fields) {
    ROW("a UInt16, s String, n Nullable(UInt8), t DateTime", "{}", "00 00 00 01 00 00 00 00");
    ROW("a UInt16, s String, n Nullable(UInt8)", "{\"a\":null,\"s\":null,\"n\":null}", "00 00 00 01");
    ROW("n Nullable(UInt8), m Nullable(String)", "{\"n\":7,\"m\":\"x\"}", "00 07 00 01 78");
    ROW("a UInt8",
        "{\"skip\":{\"deep\":[{\"x\":\"]}\\\"\"},[],{}],\"n\":null},\"a\":9,\"more\":[1,2.5e3,true,false,null]}",
        "09");
}
END_TEST

START_TEST(field_order_does_not_matter) {
    ROW("a UInt8, b UInt8, c UInt8", "{\"c\":3,\"a\":1,\"b\":2}", "01 02 03");
    ROW("a UInt8, b UInt8, c UInt8", "{\"b\":2}", "00 02 00");
}
END_TEST

START_TEST(malformed_messages) {
    ROW("a UInt8", "", "ERROR -: malformed JSON: expected a JSON object");
    ROW("a UInt8", "[1]", "ERROR -: malformed JSON: expected a JSON object");
    ROW("a UInt8", "{\"a\":1", "ERROR -: malformed JSON: expected ',' or '}' after a field");
    ROW("a UInt8", "{\"a\":1}x", "ERROR -: malformed JSON: unexpected data after the JSON object");
    ROW("a UInt8", "{\"a\" 1}", "ERROR -: malformed JSON: expected ':' after a key");
    ROW("a UInt8", "{\"a\":}", "ERROR a: malformed JSON: expected a value");
    ROW("a UInt8", "{\"b\":[1,}", "ERROR -: malformed JSON: expected a value");
    ROW("a UInt8", "{\"b\":{\"x\" 1}}", "ERROR -: malformed JSON: expected ':' after a key");
    ROW("a UInt8", "{\"b\":tru}", "ERROR -: malformed JSON: invalid literal (expected true, false or null)");
    ROW("a UInt8", "{\"a\":1,\"a\":2}", "ERROR a: field given twice");
    ROW("a UInt8", " {\"a\":1} \n", "01");
}
END_TEST

START_TEST(deep_nesting_is_bounded) {
    static char json[5000];
    size_t o = (size_t)snprintf(json, sizeof json, "{\"skip\":");
    for (int i = 0; i < 2000; i++) json[o++] = '[';
    for (int i = 0; i < 2000; i++) json[o++] = ']';
    snprintf(json + o, sizeof json - o, ",\"a\":1}");
    ROW("a UInt8", json, "ERROR -: malformed JSON: nesting too deep");
}
END_TEST

START_TEST(dates_and_times) {
    ROW("d Date", "{\"d\":\"2024-01-02\"}", "0c 4d");
    ROW("d Date", "{\"d\":19724}", "0c 4d");
    ROW("d Date", "{\"d\":\"1969-12-31\"}", "ERROR d: expected a date in 1970-01-01..2149-06-06, got \"1969-12-31\"");
    ROW("t DateTime", "{\"t\":\"2024-01-02 03:04:05\"}", "25 7d 93 65");
    ROW("t DateTime", "{\"t\":\"2024-01-02T03:04:05Z\"}", "25 7d 93 65");
    ROW("t DateTime", "{\"t\":1704164645}", "25 7d 93 65");
    ROW("t DateTime", "{\"t\":\"1704164645\"}", "25 7d 93 65");
    ROW("t DateTime64(3)", "{\"t\":\"2024-01-02T03:04:05.123Z\"}", "03 d9 20 c8 8c 01 00 00");
    ROW("t DateTime64(3, 'UTC')", "{\"t\":\"2024-01-02T05:04:05.1239+02:00\"}", "03 d9 20 c8 8c 01 00 00");
    ROW("t DateTime64(6)", "{\"t\":1700000000.25}", "90 10 22 18 24 0a 06 00");
    ROW("t DateTime64(3)", "{\"t\":-1.25}", "1e fb ff ff ff ff ff ff");
    ROW("t DateTime", "{\"t\":\"2024-02-30 00:00:00\"}",
        "ERROR t: \"2024-02-30 00:00:00\" is not a date/time: no such calendar date");
    ROW("t DateTime", "{\"t\":\"2024-01-02T03:04:05.999Z\"}", "25 7d 93 65");
    ROW("t DateTime", "{\"t\":\"1960-01-01 00:00:00\"}",
        "ERROR t: expected a time in 1970-01-01 00:00:00..2106-02-07 06:28:15 UTC, got \"1960-01-01 00:00:00\"");
    ROW("t DateTime64(3)", "{\"t\":\"2300-01-01\"}", "ERROR t: expected a time in 1900-01-01..2299-12-31 UTC, got \"2300-01-01\"");
    ROW("t DateTime64(3)", "{\"t\":true}", "ERROR t: expected a date or time, got a boolean");
}
END_TEST

/* The expected bytes of the next tests were written by ClickHouse 26.7:
 * the same JSON read by JSONEachRow and written as RowBinary. */
START_TEST(wide_integers) {
    ROW("a Int128, b UInt256", "{\"a\":-2,\"b\":\"258\"}",
        "fe ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff "
        "02 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    ROW("a Int128", "{\"a\":-170141183460469231731687303715884105728}",
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 80");
    ROW("a Int128", "{\"a\":170141183460469231731687303715884105728}",
        "ERROR a: value 170141183460469231731687303715884105728 is out of range for Int128");
    ROW("a UInt256", "{\"a\":-1}", "ERROR a: value -1 is out of range for UInt256");
    ROW("a UInt128", "{\"a\":\"-0\"}", "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    ROW("a Int256", "{\"a\":1.5}", "ERROR a: expected an integer, got \"1.5\"");
    ROW("a UInt256", "{\"a\":1157920892373161954235709850086879078532699846656405640394575840079131296399360}",
        "ERROR a: value 1157920892373161954235709850086879078532... is out of range for UInt256");
}
END_TEST

START_TEST(decimals) {
    ROW("d Decimal(10,2), e Decimal(5,1), f Decimal(40,3), g Decimal(76,0)",
        "{\"d\":-1.5,\"e\":\"1234.5\",\"f\":\"-1e-3\",\"g\":1}",
        "6a ff ff ff ff ff ff ff 39 30 00 00 "
        "ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff "
        "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    ROW("d Decimal(10, 2)", "{\"d\":99999999.99}", "ff e3 0b 54 02 00 00 00");
    ROW("d Decimal(10, 2)", "{\"d\":\"1.50e2\"}", "98 3a 00 00 00 00 00 00");
    ROW("d Decimal(10, 2)", "{\"d\":1.230}", "7b 00 00 00 00 00 00 00");
    ROW("d Decimal(10, 2)", "{\"d\":\".5\"}", "32 00 00 00 00 00 00 00");
    ROW("d Decimal(10, 2)", "{\"d\":100000000}", "ERROR d: value 100000000 does not fit Decimal(10, 2)");
    ROW("d Decimal(10, 2)", "{\"d\":1e30}", "ERROR d: value 1e30 does not fit Decimal(10, 2)");
    ROW("d Decimal(10, 2)", "{\"d\":1.239}",
        "ERROR d: value 1.239 has more than 2 digits after the point for Decimal(10, 2)");
    ROW("d Decimal(10, 2)", "{\"d\":\"nan\"}", "ERROR d: expected a decimal number, got \"nan\"");
    ROW("d Decimal(10, 2)", "{\"d\":true}", "ERROR d: expected a decimal number, got a boolean");
    ROW("d Decimal(9, 9)", "{\"d\":-0.000000001}", "ff ff ff ff");
}
END_TEST

START_TEST(bfloat16_and_fixed_strings) {
    ROW("b BFloat16", "{\"b\":1.5}", "c0 3f");
    ROW("b BFloat16", "{\"b\":1.01171875}", "81 3f"); /* truncated, not rounded */
    ROW("b BFloat16", "{\"b\":\"-inf\"}", "80 ff");
    ROW("f FixedString(4)", "{\"f\":\"ab\"}", "61 62 00 00");
    ROW("f FixedString(2)", "{\"f\":\"\\u00e9\"}", "c3 a9");
    ROW("f FixedString(3)", "{\"f\":\"abcd\"}", "ERROR f: a string of 4 bytes is too long for FixedString(3)");
    ROW("f FixedString(3)", "{\"f\":12}", "ERROR f: expected a string, got a number");
}
END_TEST

START_TEST(uuids_and_addresses) {
    ROW("u UUID, i IPv4, j IPv6",
        "{\"u\":\"61f0c404-5cb3-11e7-907b-a6006ad3dba0\",\"i\":\"10.1.2.3\",\"j\":\"2001:db8::1\"}",
        "e7 11 b3 5c 04 c4 f0 61 a0 db d3 6a 00 a6 7b 90 03 02 01 0a "
        "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01");
    ROW("u UUID", "{\"u\":\"61F0C4045CB311E7907BA6006AD3DBA0\"}",
        "e7 11 b3 5c 04 c4 f0 61 a0 db d3 6a 00 a6 7b 90");
    ROW("u UUID", "{\"u\":\"{61f0c404-5cb3-11e7-907b-a6006ad3dba0}\"}",
        "ERROR u: expected a UUID, got \"{61f0c404-5cb3-11e7-907b-a6006ad3dba0}\"");
    ROW("i IPv4", "{\"i\":\"255.255.255.255\"}", "ff ff ff ff");
    ROW("i IPv4", "{\"i\":\"256.0.0.1\"}", "ERROR i: expected an IPv4 address, got \"256.0.0.1\"");
    ROW("i IPv4", "{\"i\":2130706433}", "ERROR i: expected an IPv4 address, got a number");
    ROW("j IPv6", "{\"j\":\"1.2.3.4\"}", "00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04");
    ROW("j IPv6", "{\"j\":\"::\"}", "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    ROW("j IPv6", "{\"j\":\"1:2:3:4:5:6:1.2.3.4\"}", "00 01 00 02 00 03 00 04 00 05 00 06 01 02 03 04");
    ROW("j IPv6", "{\"j\":\"1::\"}", "00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    ROW("j IPv6", "{\"j\":\"1::2::3\"}", "ERROR j: expected an IPv6 address, got \"1::2::3\"");
    ROW("j IPv6", "{\"j\":\"fe80::1%eth0\"}", "ERROR j: expected an IPv6 address, got \"fe80::1%eth0\"");
}
END_TEST

START_TEST(enums) {
    ROW("e Enum8('a' = -1, 'b' = 2), f Enum16('x' = 1000)", "{\"e\":\"b\",\"f\":1000}", "02 e8 03");
    ROW("e Enum8('a' = -1, 'b' = 2), f Enum16('x' = 1000)", "{}", "ff e8 03");
    ROW("e Enum8('x' = 5, '1' = 7)", "{\"e\":\"5\"}", "05");  /* a number when no name matches */
    ROW("e Enum8('x' = 5, '1' = 7)", "{\"e\":\"1\"}", "07");  /* the name first */
    ROW("e Enum8('x' = 5, '1' = 7)", "{\"e\":null}", "05");   /* the default: first by value */
    ROW("e Enum8('x' = 5)", "{\"e\":\"X\"}", "ERROR e: \"X\" is not an element of the Enum");
    ROW("e Enum8('x' = 5)", "{\"e\":6}", "ERROR e: \"6\" is not an element of the Enum");
    ROW("e Enum8('x' = 5)", "{\"e\":true}", "ERROR e: expected an Enum name or number, got a boolean");
}
END_TEST

START_TEST(composites) {
    ROW("m Map(String, UInt8), a Array(Array(Nullable(UInt8))), t Tuple(a UInt8, b String), "
        "u Tuple(UInt8, String)",
        "{\"m\":{\"k\":1,\"j\":2},\"a\":[[1,null],[]],\"t\":{\"b\":\"x\",\"a\":7},\"u\":[9,\"y\"]}",
        "02 01 6b 01 01 6a 02 02 02 00 01 01 00 07 01 78 09 01 79");
    ROW("m Map(String, UInt8), a Array(Array(Nullable(UInt8))), t Tuple(a UInt8, b String), "
        "u Tuple(UInt8, String)",
        "{\"t\":{\"b\":\"x\"}}", "00 00 00 01 78 00 00");
    ROW("n Nested(a UInt8, b String), x Array(Nested(c UInt8, d String))",
        "{\"n.a\":[1,2],\"n.b\":[\"p\"],\"x\":[[{\"d\":\"q\",\"c\":5}],[]]}",
        "02 01 02 01 01 70 02 01 05 01 71 00");
    ROW("m Map(UInt16, Date)", "{\"m\":{\"7\":\"2024-01-02\",\"7\":null}}", "02 07 00 0c 4d 07 00 00 00");
    ROW("m Map(UInt16, String)", "{\"m\":{\"70000\":\"x\"}}", "ERROR m: value 70000 is out of range for UInt16");
    ROW("a Array(UInt8)", "{\"a\":[null, 3]}", "02 00 03");
    ROW("a Array(UInt8)", "{\"a\":[1,]}", "ERROR a: malformed JSON: expected a value");
    ROW("a Array(UInt8)", "{\"a\":\"[1]\"}", "ERROR a: expected an array, got a string");
    ROW("t Tuple(a UInt8, b String)", "{\"t\":[1,\"x\"]}", "ERROR t: expected an object (for a named Tuple), got an array");
    ROW("t Tuple(a UInt8, b String)", "{\"t\":{\"a\":1,\"a\":2}}", "ERROR t: Tuple element 'a' given twice");
    ROW("t Tuple(a UInt8, b Tuple(c UInt8, d UInt8))", "{\"t\":{\"zz\":[1],\"b\":{\"d\":4,\"c\":3},\"a\":2}}",
        "02 03 04");
    ROW("u Tuple(UInt8, String)", "{\"u\":[1]}", "ERROR u: expected a Tuple of 2 elements, got 1");
    ROW("u Tuple(UInt8, String)", "{\"u\":[1,\"x\",3]}", "ERROR u: expected a Tuple of 2 elements, got more");
    ROW("m Map(String, UInt8)", "{\"m\":null}", "00");
    ROW("m Map(String, UInt8)", "{\"m\":[]}", "ERROR m: expected an object, got an array");
}
END_TEST

START_TEST(long_arrays_count_in_leb128) {
    static char json[2000];
    char want[2000];
    size_t o = (size_t)snprintf(json, sizeof json, "{\"a\":[");
    for (int i = 0; i < 300; i++) o += (size_t)snprintf(json + o, sizeof json - o, "%s1", i ? "," : "");
    snprintf(json + o, sizeof json - o, "],\"b\":2}");
    o = (size_t)snprintf(want, sizeof want, "ac 02");
    for (int i = 0; i < 300; i++) o += (size_t)snprintf(want + o, sizeof want - o, " 01");
    snprintf(want + o, sizeof want - o, " 02");
    ROW("a Array(UInt8), b UInt8", json, want);
    /* Out of column order: the array sits in a slot first. */
    char want2[2000];
    snprintf(want2, sizeof want2, "02 %.*s", (int)(strlen(want) - 3), want);
    ROW("b UInt8, a Array(UInt8)", json, want2);
}
END_TEST

START_TEST(dates_times_and_zones) {
    ROW("d Date32, t DateTime('Europe/Berlin'), s DateTime64(3, 'America/New_York'), b BFloat16, f FixedString(4)",
        "{\"d\":\"1900-01-01\",\"t\":\"2024-07-01 12:00:00\",\"s\":\"2024-07-01 12:00:00.5\",\"b\":1.5,\"f\":\"ab\"}",
        "21 9c ff ff 20 7e 82 66 f4 45 06 6f 90 01 00 00 c0 3f 61 62 00 00");
    ROW("t DateTime('Europe/Berlin')", "{\"t\":\"2024-07-01T12:00:00Z\"}", "40 9a 82 66");
    ROW("t DateTime('Europe/Berlin')", "{\"t\":1719835200}", "40 9a 82 66");
    ROW("d Date32", "{\"d\":-1}", "ff ff ff ff");
    ROW("d Date32", "{\"d\":\"1899-12-31\"}", "ERROR d: expected a date in 1900-01-01..2299-12-31, got \"1899-12-31\"");
    ROW("d Date", "{\"d\":\"2024-1-2\"}", "0c 4d");
    ROW("d Date", "{\"d\":\"20240102\"}", "0c 4d");
    ROW("d Date", "{\"d\":\"2024-01-02 03:04:05\"}",
        "ERROR d: \"2024-01-02 03:04:05\" is not a date: expected a date as YYYY-MM-DD");
    ROW("d Date", "{\"d\":65536}", "ERROR d: expected a date in 1970-01-01..2149-06-06, got \"65536\"");
    ROW("d Date", "{\"d\":1.5}", "ERROR d: expected a whole number of days, got \"1.5\"");
    /* Unix times: the unit follows from the number of digits. */
    ROW("t DateTime64(3, 'UTC')", "{\"t\":1700000000123}", "7b 68 e5 cf 8b 01 00 00");
    ROW("t DateTime64(3, 'UTC')", "{\"t\":\"1700000000123456\"}", "7b 68 e5 cf 8b 01 00 00");
    ROW("t DateTime64(3, 'UTC')", "{\"t\":1700000000}", "00 68 e5 cf 8b 01 00 00");
    ROW("t DateTime", "{\"t\":1700000000123}", "00 f1 53 65");
    ROW("t DateTime", "{\"t\":17000000000}",
        "ERROR t: \"17000000000\" is not a date/time: Unix times have 1-10, 13, 16 or 19 digits");
    ROW("t DateTime('UTC')", "{\"t\":\"20240102030405\"}", "25 7d 93 65");
    ROW("t DateTime('UTC')", "{\"t\":\"12\"}",
        "ERROR t: \"12\" is not a date/time: a quoted Unix time has 9 or more digits");
    ROW("t DateTime('UTC')", "{\"t\":12}", "0c 00 00 00");
}
END_TEST

START_TEST(paths_into_nested_messages) {
    const char *cols = "id UInt64 PATH '$.user.id', name String PATH '$.user.name', "
                       "first UInt8 PATH '$.tags[0]', third UInt8 PATH '$.tags[2]', user String, "
                       "deep String PATH '$.a[1].b', again UInt64 PATH '$.user.id'";
    ROW(cols, "{\"tags\":[7,8,9],\"user\":{\"name\":\"ann\",\"id\":5},\"a\":[0,{\"b\":\"x\"}]}",
        "05 00 00 00 00 00 00 00 03 61 6e 6e 07 09 15 7b 22 6e 61 6d 65 22 3a 22 61 6e 6e 22 2c 22 69 64 22 "
        "3a 35 7d 01 78 05 00 00 00 00 00 00 00");
    ROW(cols, "{\"user\":null,\"tags\":[1]}", "00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00");
    ROW(cols, "{\"user\":\"ann\"}",
        "ERROR id: the column's path needs an object or an array here, got a string");
    ROW(cols, "{\"user\":{\"id\":1,\"id\":2}}", "ERROR id: field given twice");
    ROW("id UInt8 PATH '$.id', _offset UInt64 PATH '$[\"_offset\"]'", "{\"id\":3,\"_offset\":4}",
        "03 04 00 00 00 00 00 00 00");
}
END_TEST

START_TEST(metadata_columns) {
    kb_msg m = {.topic = "events", .partition = 3, .offset = 42, .has_timestamp = 1,
                .timestamp_ms = 1704164645123, .key = "k1", .key_len = 2};
    const char *json = "{\"_offset\":7,\"a\":1}";
    ck_assert_str_eq(decode_msg("_topic String, _partition Int32, _offset UInt64, _key String, "
                                "_timestamp DateTime64(3), a UInt8",
                                json, strlen(json), &m),
                     "06 65 76 65 6e 74 73 03 00 00 00 2a 00 00 00 00 00 00 00 02 6b 31 "
                     "03 d9 20 c8 8c 01 00 00 01");
    m.key = NULL;
    m.has_timestamp = 0;
    ck_assert_str_eq(decode_msg("_key Nullable(String), _timestamp Nullable(DateTime), "
                                "_topic LowCardinality(String)",
                                json, strlen(json), &m),
                     "01 01 06 65 76 65 6e 74 73");
}
END_TEST

/* The bytes a header column gets for a message with these headers. */
static size_t header_column(const char *columns, size_t col, const kb_msg *m, unsigned char *out) {
    char err[256];
    chcolumns cols;
    rowplan plan;
    buf b;
    row_error e;
    ck_assert_int_eq(chcolumns_parse(columns, &cols, err, sizeof err), 0);
    ck_assert_int_eq(rowplan_build(&plan, &cols, err, sizeof err), 0);
    ck_assert(rowplan_reads_headers(&plan));
    buf_init(&b, 64);
    ck_assert_int_eq(rowplan_put_meta(&plan.cols[col], m, &b, &e), 0);
    size_t n = b.len;
    memcpy(out, b.data, n);
    buf_free(&b);
    rowplan_free(&plan);
    chcolumns_free(&cols);
    return n;
}

START_TEST(header_columns) {
    static const kb_header h[] = {{"a", 1, "1", 1}, {"b", 1, NULL, 0}, {"a", 1, "22", 2}};
    kb_msg m = {.topic = "t", .headers = h, .nheaders = 3};
    unsigned char out[64];
    size_t n = header_column("_headers.name Array(String)", 0, &m, out);
    ck_assert_uint_eq(n, 7);
    ck_assert_mem_eq(out, "\x03\x01" "a" "\x01" "b" "\x01" "a", n);
    n = header_column("_headers.value Array(Nullable(String))", 0, &m, out);
    ck_assert_uint_eq(n, 9);
    ck_assert_mem_eq(out, "\x03\x00\x01" "1" "\x01\x00\x02" "22", n);
    n = header_column("_headers.value Array(String)", 0, &m, out);
    ck_assert_uint_eq(n, 7);
    ck_assert_mem_eq(out, "\x03\x01" "1" "\x00\x02" "22", n);
    /* A name given twice keeps its last value, at its last place. */
    n = header_column("x String, _headers Map(String, String)", 1, &m, out);
    ck_assert_uint_eq(n, 9);
    ck_assert_mem_eq(out, "\x02\x01" "b" "\x00\x01" "a" "\x02" "22", n);
    /* Nested gives the two arrays; the second is the values. */
    n = header_column("_headers Nested(name String, value String)", 1, &m, out);
    ck_assert_uint_eq(n, 7);
    ck_assert_mem_eq(out, "\x03\x01" "1" "\x00\x02" "22", n);
    m.nheaders = 0;
    n = header_column("_headers Map(String, Nullable(String))", 0, &m, out);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(out[0], 0);
}
END_TEST

START_TEST(metadata_column_types_are_checked) {
    char err[256];
    chcolumns cols;
    rowplan plan;
    ck_assert_int_eq(chcolumns_parse("_offset String", &cols, err, sizeof err), 0);
    ck_assert_int_eq(rowplan_build(&plan, &cols, err, sizeof err), -1);
    ck_assert_str_eq(err, "column '_offset': metadata column must be Int64 or UInt64, not String");
    chcolumns_free(&cols);
    /* Finding 14: too narrow for Kafka's values is refused up front, not
     * found out message by message as bad rows. */
    static const char *const narrow[][2] = {
        {"_offset UInt8", "column '_offset': metadata column must be Int64 or UInt64, not UInt8"},
        {"_offset UInt32", "column '_offset': metadata column must be Int64 or UInt64, not UInt32"},
        {"_partition Int16", "column '_partition': metadata column must be Int32, UInt32, Int64 or UInt64, not Int16"},
        /* Finding 18: a header column the bridge does not fill would be
         * silently empty. */
        {"`_headers.keys` Array(String)",
         "column '_headers.keys': the header columns are _headers.name, _headers.value and _headers"},
        {"_headers Map(String, UInt8)",
         "column '_headers': metadata column must be Map(String, String) or Map(String, Nullable(String)), "
         "not Map(String, UInt8)"},
        {"`_headers.name` Array(Nullable(String))",
         "column '_headers.name': metadata column must be Array(String), not Array(Nullable(String))"},
    };
    for (size_t i = 0; i < sizeof narrow / sizeof narrow[0]; i++) {
        ck_assert_int_eq(chcolumns_parse(narrow[i][0], &cols, err, sizeof err), 0);
        ck_assert_int_eq(rowplan_build(&plan, &cols, err, sizeof err), -1);
        ck_assert_str_eq(err, narrow[i][1]);
        chcolumns_free(&cols);
    }
    ck_assert_int_eq(chcolumns_parse("_offset Int64, _partition UInt32", &cols, err, sizeof err), 0);
    ck_assert_int_eq(rowplan_build(&plan, &cols, err, sizeof err), 0);
    rowplan_free(&plan);
    chcolumns_free(&cols);
}
END_TEST

START_TEST(tombstones_are_errors) {
    ck_assert_str_eq(decode_msg("a UInt8", NULL, 0, NULL),
                     "ERROR -: message has no value (a tombstone); expected a JSON object");
}
END_TEST

START_TEST(header_uses_canonical_types) {
    char err[256];
    chcolumns cols;
    rowplan plan;
    ck_assert_int_eq(chcolumns_parse("a:UInt8,ts:DateTime64(3,'UTC')", &cols, err, sizeof err), 0);
    ck_assert_int_eq(rowplan_build(&plan, &cols, err, sizeof err), 0);
    buf b;
    buf_init(&b, 16);
    rowplan_header(&plan, &b);
    const char want[] = "\x02\x01"
                        "a\x02ts\x05UInt8\x14"
                        "DateTime64(3, 'UTC')";
    ck_assert_uint_eq(b.len, sizeof want - 1);
    ck_assert_mem_eq(b.data, want, b.len);
    buf_free(&b);
    rowplan_free(&plan);
    chcolumns_free(&cols);
}
END_TEST

START_TEST(decoder_reuse_across_messages) {
    /* A field seen in one message must not leak into the next. */
    char err[256];
    chcolumns cols;
    rowplan plan;
    ck_assert_int_eq(chcolumns_parse("a UInt8, b UInt8", &cols, err, sizeof err), 0);
    ck_assert_int_eq(rowplan_build(&plan, &cols, err, sizeof err), 0);
    jsonrow d;
    jsonrow_init(&d, &plan);
    buf out;
    buf_init(&out, 16);
    row_error e;
    const char *m1 = "{\"a\":1,\"b\":2}", *m2 = "{\"b\":5}";
    kb_msg m = {.topic = "t", .value = m1, .value_len = strlen(m1)};
    ck_assert_int_eq(jsonrow_decode(&d, &m, &out, &e), 0);
    m.value = m2;
    m.value_len = strlen(m2);
    ck_assert_int_eq(jsonrow_decode(&d, &m, &out, &e), 0);
    ck_assert_uint_eq(out.len, 4);
    ck_assert_mem_eq(out.data, "\x01\x02\x00\x05", 4);
    buf_free(&out);
    jsonrow_free(&d);
    rowplan_free(&plan);
    chcolumns_free(&cols);
}
END_TEST

/* The decoder learns the key order of the messages it sees and tries the
 * learnt column first: whatever order comes next, or a change of order,
 * an unknown key or a key given twice, rows stay the same. */
START_TEST(learnt_key_order_never_changes_rows) {
    const char *columns = "abcdefghij UInt8, abcdefghik UInt8, _offset UInt64, abcd UInt8, abcde UInt8, "
                          "ab UInt8, a UInt8, longer_name_of_twenty UInt8";
    const char *msgs[] = {
        "{\"a\":7,\"ab\":6,\"abcde\":5,\"abcd\":4,\"abcdefghik\":2,\"abcdefghij\":1,\"longer_name_of_twenty\":8}",
        "{\"a\":7,\"ab\":6,\"abcde\":5,\"abcd\":4,\"abcdefghik\":2,\"abcdefghij\":1,\"longer_name_of_twenty\":8}",
        "{\"abcdefghij\":1,\"abcdefghik\":2,\"abcd\":4,\"abcde\":5,\"ab\":6,\"a\":7,\"longer_name_of_twenty\":8}",
        /* Near misses of each guess: in the last word, the first, the only. */
        "{\"abcdefghij\":1,\"abcdefghix\":9,\"abcdefghik\":2,\"abcd\":4,\"abcdx\":9,\"abxde\":9,\"abcde\":5,"
        "\"ax\":9,\"ab\":6,\"a\":7,\"longer_name_of_twentx\":9,\"longer_nXme_of_twenty\":9,\"longer_name_of_twenty\":8}",
        "{\"a\":7,\"x\":0,\"ab\":6,\"abcdefghik\":2,\"abcdefghij\":1,\"abcde\":5,\"abcd\":4,\"longer_name_of_twentx\":9,"
        "\"longer_name_of_twenty\":8}",
        "{\"a\":7,\"ab\":6,\"abcde\":5,\"abcd\":4,\"abcdefghik\":2,\"abcdefghij\":1,\"longer_name_of_twenty\":8}",
        "{\"a\":7,\"a\":7}",
        "{\"ab\":6,\"abc\":0,\"abcdefghi\":0,\"abcdefghijk\":0,\"a\":7}",
    };
    const char *want = "01 02 2a 00 00 00 00 00 00 00 04 05 06 07 08";
    char err[256];
    chcolumns cols;
    rowplan plan;
    ck_assert_int_eq(chcolumns_parse(columns, &cols, err, sizeof err), 0);
    ck_assert_int_eq(rowplan_build(&plan, &cols, err, sizeof err), 0);
    jsonrow d;
    jsonrow_init(&d, &plan);
    buf out;
    buf_init(&out, 64);
    row_error e;
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        kb_msg m = {.topic = "t", .offset = 42, .value = msgs[i], .value_len = strlen(msgs[i])};
        out.len = 0;
        int rc = jsonrow_decode(&d, &m, &out, &e);
        if (i == 6) {
            ck_assert_int_eq(rc, -1);
            ck_assert_str_eq(e.column, "a");
            continue;
        }
        ck_assert_msg(rc == 0, "message %zu: %s", i, e.reason);
        char hex[128];
        size_t o = 0;
        for (size_t k = 0; k < out.len; k++)
            o += (size_t)snprintf(hex + o, sizeof hex - o, "%s%02x", k ? " " : "", out.data[k]);
        hex[o] = '\0';
        ck_assert_str_eq(hex, i == 7 ? "00 00 2a 00 00 00 00 00 00 00 00 00 06 07 00" : want);
    }
    buf_free(&out);
    jsonrow_free(&d);
    rowplan_free(&plan);
    chcolumns_free(&cols);
}
END_TEST

Suite *jsonrow_suite(void) {
    Suite *s = suite_create("jsonrow");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, integers_at_their_limits);
    tcase_add_test(tc, integers_out_of_range_are_errors);
    tcase_add_test(tc, integers_from_strings_and_booleans);
    tcase_add_test(tc, floats);
    tcase_add_test(tc, booleans);
    tcase_add_test(tc, strings_and_escapes);
    tcase_add_test(tc, non_strings_into_string_columns_keep_their_text);
    tcase_add_test(tc, long_string_length_is_leb128);
    tcase_add_test(tc, missing_null_and_unknown_fields);
    tcase_add_test(tc, field_order_does_not_matter);
    tcase_add_test(tc, learnt_key_order_never_changes_rows);
    tcase_add_test(tc, malformed_messages);
    tcase_add_test(tc, deep_nesting_is_bounded);
    tcase_add_test(tc, dates_and_times);
    tcase_add_test(tc, wide_integers);
    tcase_add_test(tc, decimals);
    tcase_add_test(tc, bfloat16_and_fixed_strings);
    tcase_add_test(tc, uuids_and_addresses);
    tcase_add_test(tc, enums);
    tcase_add_test(tc, composites);
    tcase_add_test(tc, long_arrays_count_in_leb128);
    tcase_add_test(tc, dates_times_and_zones);
    tcase_add_test(tc, paths_into_nested_messages);
    tcase_add_test(tc, metadata_columns);
    tcase_add_test(tc, metadata_column_types_are_checked);
    tcase_add_test(tc, header_columns);
    tcase_add_test(tc, tombstones_are_errors);
    tcase_add_test(tc, header_uses_canonical_types);
    tcase_add_test(tc, decoder_reuse_across_messages);
    suite_add_tcase(s, tc);
    /* 200,000 random numbers: seconds under valgrind on a loaded machine,
     * so not under Check's default 4 s. */
    TCase *slow = tcase_create("floats_match_libc");
    tcase_set_timeout(slow, 300);
    tcase_add_test(slow, floats_match_libc);
    suite_add_tcase(s, slow);
    return s;
}
