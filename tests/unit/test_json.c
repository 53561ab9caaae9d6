/*
 * The JSON scanner (json.h) on its own, and the values it hands the row
 * decoder: strings a block at a time, numbers read in one pass.  Buffers
 * are heap copies of exactly the bytes under test, so that the ASan build
 * sees any read past a message's end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonrow.h"
#include "suites.h"

static char *exact(const char *s, size_t n) {
    char *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, s, n);
    return p;
}

/* ---- string scanning ----------------------------------------------------- */

static void scan_both(const char *b, size_t n, size_t want) {
    ck_assert_ptr_eq(kb_json_scan_string(b, b + n), b + want);
    ck_assert_ptr_eq(kb_json_scan_string_portable(b, b + n), b + want);
}

START_TEST(scan_finds_quote_and_backslash_at_every_place) {
    /* Lengths around the 8, 16 and 32-byte blocks, the stop at each place
     * and nowhere; bytes that look like '"' or '\\' in some bits (0xa2,
     * 0xdc, 0x02, 0x1c) and control bytes must not stop it. */
    static const char fillers[] = {'a', '\x01', '\x1f', '\x7f', '\xa2', '\xdc', '\x02', '\x1c', '\xff', '\0'};
    char text[80];
    for (size_t f = 0; f < sizeof fillers; f++) {
        for (size_t n = 0; n <= 70; n++) {
            memset(text, fillers[f], n);
            char *b = exact(text, n);
            scan_both(b, n, n);
            free(b);
            for (size_t at = 0; at < n; at++) {
                for (int which = 0; which < 2; which++) {
                    memset(text, fillers[f], n);
                    text[at] = which ? '\\' : '"';
                    if (at + 1 < n) text[n - 1] = '"'; /* a later stop never wins */
                    b = exact(text, n);
                    scan_both(b, n, at);
                    free(b);
                }
            }
        }
    }
}
END_TEST

/* ---- strings -------------------------------------------------------------- */

/* The string at the start of (s, n) as hex bytes, or "ERROR <why> @<byte>". */
static const char *string_of(const char *s, size_t n) {
    static char out[1024];
    char *b = exact(s, n);
    buf scratch;
    buf_init(&scratch, 8);
    kb_json_cursor c = {b, b, b + n, NULL};
    const char *v;
    size_t len, o = 0;
    if (kb_json_string(&c, &scratch, &v, &len) == 0) {
        out[0] = '\0';
        for (size_t i = 0; i < len && o + 4 < sizeof out; i++)
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%02x", i ? " " : "", (unsigned char)v[i]);
        ck_assert_ptr_eq(c.p, b + n); /* these inputs end with the string */
    } else {
        snprintf(out, sizeof out, "ERROR %s @%ld", c.why, (long)(c.p - b));
    }
    buf_free(&scratch);
    free(b);
    return out;
}

#define STR(lit, hex) ck_assert_str_eq(string_of(lit, sizeof lit - 1), hex)

START_TEST(string_escapes) {
    STR("\"\"", "");
    STR("\"ab\"", "61 62");
    STR("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "22 5c 2f 08 0c 0a 0d 09");
    STR("\"a\\nb\"", "61 0a 62");
    STR("\"\\x\"", "ERROR invalid escape in string @2");
    STR("\"\\", "ERROR truncated escape @2");
    STR("\"abc", "ERROR unterminated string @4");
    STR("\"ab\\n", "ERROR unterminated string @5");
}
END_TEST

START_TEST(string_control_bytes_pass_through) {
    /* Raw control bytes, DEL and invalid UTF-8 are stored as they came. */
    STR("\"\x01\t\n\x1f\x7f\"", "01 09 0a 1f 7f");
    STR("\"\xff\xfe\xc3\"", "ff fe c3");
    STR("\"\x01\\t\x1f\"", "01 09 1f");
}
END_TEST

START_TEST(string_unicode) {
    STR("\"\\u0041\\u00e9\\u00E9\"", "41 c3 a9 c3 a9");
    STR("\"\\u0000\"", "00");
    STR("\"\\u07ff\\u0800\\u20ac\\uffff\"", "df bf e0 a0 80 e2 82 ac ef bf bf");
    STR("\"\\ud83d\\ude00\"", "f0 9f 98 80");
    STR("\"\\udbff\\udfff\"", "f4 8f bf bf");
    STR("\"\\udc00\"", "ed b0 80"); /* a lone low surrogate: its three bytes */
    STR("\"caf\xc3\xa9\"", "63 61 66 c3 a9");
    STR("\"\\ud83d\"", "ERROR a \\u escape of a high surrogate must be followed by a low one @7");
    STR("\"\\ud83dx\\ude00\"", "ERROR a \\u escape of a high surrogate must be followed by a low one @7");
    STR("\"\\ud83d\\u0041\"", "ERROR a high surrogate followed by something other than a low surrogate @7");
    STR("\"\\ud83d\\uzzzz\"", "ERROR invalid \\u escape @9");
    STR("\"\\u12\"", "ERROR truncated \\u escape @3");
    STR("\"\\u12g4\"", "ERROR invalid \\u escape @3");
}
END_TEST

START_TEST(string_escapes_at_block_edges) {
    /* An escape, and the closing quote, at each place of the first blocks
     * and at the message's last byte. */
    char text[128], want[512];
    for (size_t n = 0; n <= 70; n++) {
        for (size_t at = 0; at <= n; at++) {
            size_t o = 0, w = 0;
            text[o++] = '"';
            for (size_t i = 0; i < n; i++) {
                if (i == at) {
                    memcpy(text + o, "\\u00e9", 6);
                    o += 6;
                    w += (size_t)snprintf(want + w, sizeof want - w, "%sc3 a9", w ? " " : "");
                }
                text[o++] = (char)('a' + i % 26);
                w += (size_t)snprintf(want + w, sizeof want - w, "%s%02x", w ? " " : "", 'a' + (int)(i % 26));
            }
            if (at == n) {
                memcpy(text + o, "\\\"", 2);
                o += 2;
                w += (size_t)snprintf(want + w, sizeof want - w, "%s22", w ? " " : "");
            }
            text[o++] = '"';
            want[w] = '\0';
            ck_assert_str_eq(string_of(text, o), want);
            /* One byte short: unterminated, blamed at the end. */
            char err[64];
            snprintf(err, sizeof err, "ERROR unterminated string @%zu", o - 1);
            ck_assert_str_eq(string_of(text, o - 1), err);
        }
    }
}
END_TEST

START_TEST(skipped_strings_end_at_their_quote) {
    const char text[] = "[\"a\\\"b\",\"\\\\\",\"x\"]";
    char *b = exact(text, sizeof text - 1);
    kb_json_cursor c = {b, b, b + sizeof text - 1, NULL};
    ck_assert_int_eq(kb_json_skip(&c), 0);
    ck_assert_ptr_eq(c.p, b + sizeof text - 1);
    free(b);
    b = exact("\"ab\\", 4);
    kb_json_cursor d = {b, b, b + 4, NULL};
    ck_assert_int_eq(kb_json_skip(&d), -1);
    ck_assert_str_eq(d.why, "unterminated string");
    ck_assert_ptr_eq(d.p, b + 4);
    free(b);
}
END_TEST

/* ---- numbers -------------------------------------------------------------- */

/* kb_json_number_read on exactly `s`: "len=N m=M e=E neg exact integer", or
 * "ERROR why @byte". */
static const char *number_of(const char *s) {
    static char out[256];
    size_t n = strlen(s);
    char *b = exact(s, n);
    kb_json_cursor c = {b, b, b + n, NULL};
    kb_json_num num;
    if (kb_json_number_read(&c, &num) == 0) {
        ck_assert_ptr_eq(c.p, num.s + num.n);
        snprintf(out, sizeof out, "len=%zu m=%llu e=%d%s%s%s", num.n, (unsigned long long)num.mantissa,
                 num.exp10, num.negative ? " neg" : "", num.exact ? " exact" : "", num.integer ? " integer" : "");
        if (!num.exact) snprintf(out, sizeof out, "len=%zu%s", num.n, num.negative ? " neg" : "");
    } else {
        snprintf(out, sizeof out, "ERROR %s @%ld", c.why, (long)(c.p - b));
    }
    /* kb_json_number agrees on the token and the error. */
    kb_json_cursor t = {b, b, b + n, NULL};
    const char *ts;
    size_t tn;
    int rc = kb_json_number(&t, &ts, &tn);
    ck_assert_ptr_eq(t.p, c.p);
    if (rc == 0) ck_assert_uint_eq(tn, (size_t)(c.p - ts));
    free(b);
    return out;
}

#define NUM(s, want) ck_assert_str_eq(number_of(s), want)

START_TEST(numbers_read_in_one_pass) {
    NUM("0", "len=1 m=0 e=0 exact integer");
    NUM("-0", "len=2 m=0 e=0 neg exact integer");
    NUM("7", "len=1 m=7 e=0 exact integer");
    NUM("  42", "len=2 m=42 e=0 exact integer");
    NUM("9223372036854775807", "len=19 m=9223372036854775807 e=0 exact integer");
    NUM("-9223372036854775808", "len=20 m=9223372036854775808 e=0 neg exact integer");
    NUM("9999999999999999999", "len=19 m=9999999999999999999 e=0 exact integer");
    /* 20 digits: the text's reading decides (UInt64's maximum, overflow). */
    NUM("18446744073709551615", "len=20");
    NUM("18446744073709551616", "len=20");
    NUM("100000000000000000000000", "len=24");
    NUM("1.50", "len=4 m=150 e=-2 exact");
    NUM("0.000123", "len=8 m=123 e=-6 exact");
    NUM("-0.5", "len=4 m=5 e=-1 neg exact");
    NUM("0.0", "len=3 m=0 e=-1 exact");
    NUM("123456789.0123456789", "len=20 m=1234567890123456789 e=-10 exact");
    NUM("1234567890.0123456789", "len=21"); /* 20 significant digits */
    NUM("12345678.90123456789", "len=20 m=1234567890123456789 e=-11 exact");
    NUM("0.00000000001234567890123456789", "len=31 m=1234567890123456789 e=-29 exact");
    NUM("1e5", "len=3");
    NUM("1E+5", "len=4");
    NUM("2.5e-7", "len=6");
    NUM("-1.5E-300", "len=9 neg");
    NUM("01", "len=1 m=0 e=0 exact integer"); /* a lone 0; the 1 is not this number's */
    NUM("12,", "len=2 m=12 e=0 exact integer");
    NUM("12}", "len=2 m=12 e=0 exact integer");
    NUM("", "ERROR expected a number @0");
    NUM("-", "ERROR expected a number @1");
    NUM("-x", "ERROR expected a number @1");
    NUM("+1", "ERROR expected a number @0");
    NUM(".5", "ERROR expected a number @0");
    NUM("1.", "ERROR expected digits after '.' in a number @2");
    NUM("1.e5", "ERROR expected digits after '.' in a number @2");
    NUM("1e", "ERROR expected digits in a number's exponent @2");
    NUM("1e+", "ERROR expected digits in a number's exponent @3");
    NUM("1.5e-x", "ERROR expected digits in a number's exponent @5");
}
END_TEST

START_TEST(literals_compared_in_place) {
    static const struct {
        const char *text;
        kb_json_kind kind;
        int ok;
    } cases[] = {{"true", KB_JSON_TRUE, 1},   {"false", KB_JSON_FALSE, 1}, {"null", KB_JSON_NULL, 1},
                 {" \t\r\nnull", KB_JSON_NULL, 1}, {"tru", KB_JSON_TRUE, 0},  {"fals", KB_JSON_FALSE, 0},
                 {"falsy", KB_JSON_FALSE, 0}, {"nul", KB_JSON_NULL, 0},   {"True", KB_JSON_TRUE, 0},
                 {"nulL", KB_JSON_NULL, 0},   {"", KB_JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = strlen(cases[i].text);
        char *b = exact(cases[i].text, n);
        kb_json_cursor c = {b, b, b + n, NULL};
        ck_assert_int_eq(kb_json_literal(&c, cases[i].kind), cases[i].ok ? 0 : -1);
        if (cases[i].ok) ck_assert_ptr_eq(c.p, b + n);
        else ck_assert_str_eq(c.why, "invalid literal (expected true, false or null)");
        free(b);
    }
}
END_TEST

START_TEST(whitespace_is_four_bytes) {
    const char text[] = " \t\r\n \x0b\x0c";
    char *b = exact(text, sizeof text - 1);
    kb_json_cursor c = {b, b, b + sizeof text - 1, NULL};
    kb_json_skip_ws(&c);
    ck_assert_ptr_eq(c.p, b + 5); /* vertical tab and form feed are not JSON's */
    free(b);
    b = exact("   ", 3);
    kb_json_cursor d = {b, b, b + 3, NULL};
    kb_json_skip_ws(&d);
    ck_assert_ptr_eq(d.p, b + 3);
    free(b);
}
END_TEST

/* ---- numbers as columns --------------------------------------------------- */

/* One column `a` of type `type` from {"a":<value>}, as hex or "ERROR
 * reason"; the message is an exact heap copy ending at the '}'. */
static const char *column_of(const char *type, const char *value) {
    static char out[512];
    char columns[128], json[512], err[256];
    snprintf(columns, sizeof columns, "a %s", type);
    int n = snprintf(json, sizeof json, "{\"a\":%s}", value);
    chcolumns cols;
    rowplan plan;
    ck_assert_msg(chcolumns_parse(columns, &cols, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rowplan_build(&plan, &cols, err, sizeof err) == 0, "%s", err);
    jsonrow d;
    jsonrow_init(&d, &plan);
    char *b = exact(json, (size_t)n);
    kb_msg m = {.topic = "t", .offset = 1, .value = b, .value_len = (size_t)n};
    buf row;
    buf_init(&row, 16);
    row_error e;
    if (jsonrow_decode(&d, &m, &row, &e) == 0) {
        size_t o = 0;
        out[0] = '\0';
        for (size_t i = 0; i < row.len; i++)
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%02x", i ? " " : "", row.data[i]);
    } else {
        snprintf(out, sizeof out, "ERROR %s", e.reason);
    }
    free(b);
    buf_free(&row);
    jsonrow_free(&d);
    rowplan_free(&plan);
    chcolumns_free(&cols);
    return out;
}

#define COL(type, value, want) ck_assert_str_eq(column_of(type, value), want)

START_TEST(integer_columns_at_their_limits) {
    COL("Int64", "-9223372036854775808", "00 00 00 00 00 00 00 80");
    COL("Int64", "9223372036854775807", "ff ff ff ff ff ff ff 7f");
    COL("Int64", "-9223372036854775809", "ERROR value -9223372036854775809 is out of range for Int64");
    COL("Int64", "9223372036854775808", "ERROR value 9223372036854775808 is out of range for Int64");
    COL("UInt64", "18446744073709551615", "ff ff ff ff ff ff ff ff");
    COL("UInt64", "18446744073709551616", "ERROR value 18446744073709551616 is out of range for UInt64");
    COL("UInt64", "99999999999999999999", "ERROR value 99999999999999999999 is out of range for UInt64");
    COL("UInt64", "9999999999999999999", "ff ff e7 89 04 23 c7 8a");
    COL("UInt64", "-0", "00 00 00 00 00 00 00 00");
    COL("UInt8", "-1", "ERROR value -1 is out of range for UInt8");
    COL("Int8", "-128", "80");
    COL("Int8", "-129", "ERROR value -129 is out of range for Int8");
    COL("Int32", "1.0", "ERROR expected an integer, got \"1.0\"");
    COL("Int32", "1e2", "ERROR expected an integer, got \"1e2\"");
    COL("Int32", "-", "ERROR malformed JSON: expected a number");
    COL("Int32", "01", "ERROR malformed JSON: expected ',' or '}' after a field");
    COL("Nullable(Int16)", "-300", "00 d4 fe");
    COL("Int128", "-170141183460469231731687303715884105728",
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 80");
}
END_TEST

START_TEST(float_columns_many_digits_and_exponents) {
    COL("Float64", "0.1", "9a 99 99 99 99 99 b9 3f");
    COL("Float64", "3.141592653589793238462643383279", "18 2d 44 54 fb 21 09 40");
    COL("Float64", "0.000123", "46 d2 6e f4 31 1f 20 3f");
    COL("Float64", "1.5e-3", "fa 7e 6a bc 74 93 58 3f");
    COL("Float64", "2.5E-7", "8d ed b5 a0 f7 c6 90 3e");
    COL("Float64", "1e22", "92 d5 4d 06 cf f0 80 44");
    COL("Float64", "1e23", "f6 4a e1 c7 02 2d b5 44");
    COL("Float64", "123456789012345678", "35 0f 63 ba b4 69 7b 43");
    COL("Float64", "12345678901234567890.123", "e1 63 9d 31 95 6a e5 43");
    COL("Float64", "-0.0", "00 00 00 00 00 00 00 80");
    COL("Float64", "1.7976931348623157e308", "ff ff ff ff ff ff ef 7f");
    COL("Float64", "5e-324", "01 00 00 00 00 00 00 00");
    COL("Float64", "1e400", "00 00 00 00 00 00 f0 7f");
    COL("Float32", "0.1", "cd cc cc 3d");
    COL("Float32", "16777217", "00 00 80 4b");
    COL("Float32", "3.4028235e38", "ff ff 7f 7f");
    COL("Float32", "1e-45", "01 00 00 00");
    COL("Float64", "1.", "ERROR malformed JSON: expected digits after '.' in a number");
    COL("Float64", "1e+", "ERROR malformed JSON: expected digits in a number's exponent");
    COL("Decimal(38, 10)", "1234567890123456789012345678.1234567890",
        "d2 7a a1 0e 4f 90 49 c4 13 33 02 f0 f6 b0 49 09");
    COL("Decimal(9, 2)", "1.005", "ERROR value 1.005 has more than 2 digits after the point for Decimal(9, 2)");
}
END_TEST

Suite *json_suite(void) {
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("scanner");
    tcase_add_test(tc, scan_finds_quote_and_backslash_at_every_place);
    tcase_add_test(tc, string_escapes);
    tcase_add_test(tc, string_control_bytes_pass_through);
    tcase_add_test(tc, string_unicode);
    tcase_add_test(tc, string_escapes_at_block_edges);
    tcase_add_test(tc, skipped_strings_end_at_their_quote);
    tcase_add_test(tc, numbers_read_in_one_pass);
    tcase_add_test(tc, literals_compared_in_place);
    tcase_add_test(tc, whitespace_is_four_bytes);
    tcase_add_test(tc, integer_columns_at_their_limits);
    tcase_add_test(tc, float_columns_many_digits_and_exponents);
    suite_add_tcase(s, tc);
    return s;
}
