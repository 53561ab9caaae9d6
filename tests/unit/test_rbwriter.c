#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "native.h"
#include "rbwriter.h"
#include "suites.h"

static chtype *type(const char *text) {
    chtype *t;
    char err[256];
    ck_assert_msg(chtype_parse(text, &t, err, sizeof err) == 0, "%s", err);
    return t;
}

static const char *hex(const buf *b) {
    static char out[2048];
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < b->len && o + 4 < sizeof out; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%02x", i ? " " : "", b->data[i]);
    return out;
}

/* Runs one writer call on a fresh buffer: the bytes, or "ERROR reason". */
#define WRITE(typetext, call)                                        \
    do {                                                             \
        chtype *t = type(typetext);                                  \
        buf b;                                                       \
        buf_init(&b, 16);                                            \
        row_error e = {0};                                           \
        if ((call) == 0) snprintf(got, sizeof got, "%s", hex(&b));   \
        else snprintf(got, sizeof got, "ERROR %s", e.reason);        \
        buf_free(&b);                                                \
        chtype_free(t);                                              \
    } while (0)

START_TEST(integers_and_decimals) {
    char got[2100];
    WRITE("Int8", rbw_int(&b, t, 1, 128, &e));
    ck_assert_str_eq(got, "80");
    WRITE("Int8", rbw_int(&b, t, 0, 128, &e));
    ck_assert_str_eq(got, "ERROR value 128 is out of range for Int8");
    WRITE("UInt64", rbw_int(&b, t, 1, 0, &e)); /* -0 is 0 */
    ck_assert_str_eq(got, "00 00 00 00 00 00 00 00");
    WRITE("Int128", rbw_i64(&b, t, -2, &e));
    ck_assert_str_eq(got, "fe ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff");
    WRITE("UInt16", rbw_u64(&b, t, 65536, &e));
    ck_assert_str_eq(got, "ERROR value 65536 is out of range for UInt16");
    /* Decimal(38, 0): 10^38 - 1 fits, 10^38 does not. */
    wideint w = {{0, 0, 0, 0}};
    for (int i = 0; i < 38; i++) wide_mul10_add(&w, 9);
    WRITE("Decimal(38, 0)", rbw_decimal(&b, t, 0, &w, &e));
    ck_assert_str_eq(got, "ff ff ff ff 3f 22 8a 09 7a c4 86 5a a8 4c 3b 4b");
    wide_zero(&w);
    w.limb[0] = 1;
    for (int i = 0; i < 38; i++) wide_mul10_add(&w, 0);
    WRITE("Decimal(38, 0)", rbw_decimal(&b, t, 1, &w, &e));
    ck_assert_str_eq(got, "ERROR value -100000000000000000000000000000000000000 does not fit Decimal(38, 0)");
    wide_zero(&w);
    w.limb[0] = 1000000000;
    WRITE("Decimal(9, 2)", rbw_decimal(&b, t, 0, &w, &e));
    ck_assert_str_eq(got, "ERROR value 10000000.00 does not fit Decimal(9, 2)");
    w.limb[0] = 5;
    WRITE("Decimal(9, 4)", rbw_decimal(&b, t, 0, &w, &e));
    ck_assert_str_eq(got, "05 00 00 00");
}
END_TEST

START_TEST(dates_and_times) {
    char got[2100];
    WRITE("Date", rbw_days(&b, t, 65535, &e));
    ck_assert_str_eq(got, "ff ff");
    WRITE("Date", rbw_days(&b, t, -1, &e));
    ck_assert_str_eq(got, "ERROR expected a date in 1970-01-01..2149-06-06, got day -1");
    WRITE("Date32", rbw_days(&b, t, -25567, &e));
    ck_assert_str_eq(got, "21 9c ff ff");
    WRITE("DateTime", rbw_time(&b, t, 4294967295, 999999999, &e));
    ck_assert_str_eq(got, "ff ff ff ff");
    WRITE("DateTime64(3)", rbw_time(&b, t, -1, 999999999, &e)); /* floor: -1 ms */
    ck_assert_str_eq(got, "ff ff ff ff ff ff ff ff");
    /* DateTime64(9) ends in 2262, inside the calendar range. */
    WRITE("DateTime64(9)", rbw_time(&b, t, 9300000000, 0, &e));
    ck_assert_str_eq(got, "ERROR expected a time that fits DateTime64(9), got 9300000000 s");
    WRITE("DateTime64(0)", rbw_time(&b, t, 10413792000, 0, &e));
    ck_assert_str_eq(got, "ERROR expected a time in 1900-01-01..2299-12-31 UTC, got 10413792000 s");
}
END_TEST

/* rbw_ticks_range's shortcut writes what rbw_time writes, for every
 * precision and every unit it accepts, at its ends, just past them, and in
 * between; and past its ends rbw_time refuses the value. */
START_TEST(ticks_range_agrees_with_rbw_time) {
    static const int64_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
    uint64_t seed = 977ull;
    int shortcuts = 0;
    for (unsigned p = 0; p <= 9; p++) {
        char text[40];
        snprintf(text, sizeof text, "DateTime64(%u, 'UTC')", p);
        chtype *t = type(text);
        for (unsigned u = 0; u <= 9; u++) {
            int64_t ps = pow10[u], lo, hi, mult;
            if (rbw_ticks_range(t, ps, &lo, &hi, &mult)) {
                ck_assert_uint_gt(u, p);
                continue;
            }
            ck_assert_uint_le(u, p);
            shortcuts++;
            int64_t probes[40];
            size_t np = 0;
            probes[np++] = lo, probes[np++] = hi, probes[np++] = 0, probes[np++] = -1, probes[np++] = 1;
            if (lo > INT64_MIN) probes[np++] = lo - 1;
            if (hi < INT64_MAX) probes[np++] = hi + 1;
            for (int i = 0; i < 30; i++) {
                seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
                uint64_t span = (uint64_t)hi - (uint64_t)lo; /* less than 2^64 - 1: lo < 0 < hi */
                probes[np++] = (int64_t)((uint64_t)lo + seed % (span + 1));
            }
            for (size_t i = 0; i < np; i++) {
                int64_t v = probes[i], sec = v / ps, rem = v % ps;
                if (rem < 0) sec--, rem += ps;
                buf b;
                buf_init(&b, 16);
                row_error e = {0};
                int rc = rbw_time(&b, t, sec, (uint32_t)(rem * (1000000000 / ps)), &e);
                if (v >= lo && v <= hi) {
                    uint64_t ticks = (uint64_t)(v * mult);
                    ck_assert_msg(rc == 0, "p %u u %u v %lld: %s", p, u, (long long)v, e.reason);
                    ck_assert_uint_eq(b.len, 8);
                    ck_assert(memcmp(b.data, &ticks, 8) == 0);
                } else {
                    ck_assert_msg(rc != 0, "p %u u %u v %lld: past the range but accepted", p, u, (long long)v);
                }
                buf_free(&b);
            }
        }
        chtype_free(t);
    }
    ck_assert_int_eq(shortcuts, 55);
    chtype *dt = type("DateTime");
    int64_t lo, hi, mult;
    ck_assert_int_eq(rbw_ticks_range(dt, 1000, &lo, &hi, &mult), -1);
    chtype_free(dt);
}
END_TEST

/* Strings of every length around the short copy's sizes, from a source of
 * exactly their size (ASan sees a read past it), after other bytes. */
START_TEST(strings_of_every_short_length) {
    for (size_t n = 0; n <= 140; n++) {
        unsigned char *src = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) src[i] = (unsigned char)(i * 7 + n);
        buf b;
        buf_init(&b, 1);
        buf_u8(&b, 0xAB);
        rbw_string(&b, src, n);
        size_t leb = n < 128 ? 1 : 2;
        ck_assert_uint_eq(b.len, 1 + leb + n);
        ck_assert_uint_eq(b.data[0], 0xAB);
        ck_assert_uint_eq(b.data[1], n < 128 ? n : (n & 0x7f) | 0x80);
        ck_assert(n == 0 || memcmp(b.data + 1 + leb, src, n) == 0);
        buf_free(&b);
        free(src);
    }
}
END_TEST

START_TEST(bytes_enums_counts) {
    char got[2100];
    const unsigned char u[16] = {0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    WRITE("UUID", (rbw_uuid(&b, u), 0));
    ck_assert_str_eq(got, "77 66 55 44 33 22 11 00 ff ee dd cc bb aa 99 88");
    WRITE("FixedString(3)", rbw_fixedstring(&b, t, "ab", 2, &e));
    ck_assert_str_eq(got, "61 62 00");
    WRITE("FixedString(1)", rbw_fixedstring(&b, t, "ab", 2, &e));
    ck_assert_str_eq(got, "ERROR a string of 2 bytes is too long for FixedString(1)");
    WRITE("Enum16('a' = -300)", rbw_enum_value(&b, t, -300, &e));
    ck_assert_str_eq(got, "d4 fe");
    WRITE("Enum8('a' = 1)", rbw_enum_name(&b, t, "b\n", 2, &e));
    ck_assert_str_eq(got, "ERROR \"b\\x0a\" is not an element of the Enum");
    /* A count patched after 200 elements takes two bytes; the elements move. */
    WRITE("Array(UInt8)", (rbw_count_end(&b, rbw_count_begin(&b), 0), 0));
    ck_assert_str_eq(got, "00");
    buf b;
    buf_init(&b, 4);
    size_t at = rbw_count_begin(&b);
    for (int i = 0; i < 200; i++) buf_u8(&b, (uint8_t)i);
    rbw_count_end(&b, at, 200);
    ck_assert_uint_eq(b.len, 202);
    ck_assert_uint_eq(b.data[0], 0xc8);
    ck_assert_uint_eq(b.data[1], 0x01);
    ck_assert_uint_eq(b.data[201], 199);
    buf_free(&b);
    /* Elements met out of order, one missing: put in order with its default. */
    chtype *t = type("Tuple(a UInt8, b UInt16, c UInt8)");
    buf o, scratch;
    buf_init(&o, 4);
    buf_init(&scratch, 4);
    buf_u8(&o, 0xEE); /* before the tuple */
    buf_u8(&o, 0xCC); /* c */
    buf_u8(&o, 0xAA); /* a */
    size_t span[6] = {1, 1, RBW_UNSET, RBW_UNSET, 0, 1};
    rbw_tuple_order(&o, 1, t, span, &scratch);
    ck_assert_str_eq(hex(&o), "ee aa 00 00 cc");
    buf_free(&o);
    buf_free(&scratch);
    chtype_free(t);
}
END_TEST

START_TEST(variants) {
    char got[2100];
    /* Sorted: Array(UInt8) = 0, Int64 = 1, String = 2. */
    WRITE("Variant(String, Int64, Array(UInt8))",
          rbw_variant(&b, t, 2)->kind == CT_STRING ? (rbw_string(&b, "x", 1), 0) : -1);
    ck_assert_str_eq(got, "02 01 78");
    WRITE("Variant(String, Int64, Array(UInt8))", rbw_i64(&b, rbw_variant(&b, t, 1), -2, &e));
    ck_assert_str_eq(got, "01 fe ff ff ff ff ff ff ff");
    WRITE("Variant(String, Int64)", (rbw_variant_null(&b), 0));
    ck_assert_str_eq(got, "ff");
    WRITE("Tuple(a Variant(String), b Array(Variant(UInt8)))", (rbw_default(&b, t), 0));
    ck_assert_str_eq(got, "ff 00");
}
END_TEST

START_TEST(restate) {
    row_error e = {0};
    snprintf(e.reason, sizeof e.reason, "value 300 is out of range for UInt8");
    rbw_restate(&e, "+0300");
    ck_assert_str_eq(e.reason, "value +0300 is out of range for UInt8");
    snprintf(e.reason, sizeof e.reason, "expected a date in 1970-01-01..2149-06-06, got day 70000");
    rbw_restate(&e, "2200-01-01");
    ck_assert_str_eq(e.reason, "expected a date in 1970-01-01..2149-06-06, got \"2200-01-01\"");
}
END_TEST

/* ---- decoders through the table ------------------------------------------ */

/* The same message decoded into Native columns (-O Native), after a row
 * already in the block: the block must be what the RowBinary rows split
 * into columns give, and a refusal must leave every column as it was,
 * with the same reason. */
static void same_in_columns(kb_rowdecoder *d, const rowplan *plan, const kb_msg *m, int rows, const buf *rb,
                            const row_error *rb_e) {
    native *cols = native_open(plan, 1000, 1 << 20), *split = native_open(plan, 1000, 1 << 20);
    buf want, got, first;
    buf_init(&want, 64);
    buf_init(&got, 64);
    buf_init(&first, 64);
    char err[256];
    row_error e;
    /* A row of defaults first, so that a cut back has something to keep. */
    kb_msg empty = {.topic = "t"};
    ck_assert_int_eq(rowplan_put_error_row(plan, &empty, &first, &e), 0);
    ck_assert_msg(native_append(cols, first.data, first.len, err, sizeof err) == 0, "%s", err);
    buf *c = native_columns(cols);
    size_t *lens = malloc((plan->ncols + 1) * sizeof *lens);
    for (size_t i = 0; i < plan->ncols; i++) lens[i] = c[i].len;
    int got_rows = kb_rowdecoder_decode_columns(d, m, c, &e);
    ck_assert_int_eq(got_rows, rows);
    if (rows < 0) {
        for (size_t i = 0; i < plan->ncols; i++) ck_assert_uint_eq(c[i].len, lens[i]);
        ck_assert_str_eq(e.reason, rb_e->reason);
    } else {
        native_added(cols, (size_t)rows);
        buf_put(&first, rb->data + 1, rb->len - 1);
    }
    ck_assert_msg(native_flush_block(cols, &got, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(native_encode(split, first.data, first.len, &want, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(got.len, want.len);
    ck_assert_mem_eq(got.data, want.data, want.len);
    free(lens);
    buf_free(&want);
    buf_free(&got);
    buf_free(&first);
    native_close(cols);
    native_close(split);
}

/* One message through --format `format` (and `key_format` for the key):
 * the row's bytes in hex, or "ERROR column: reason".  Decoded into Native
 * columns too, which must agree (same_in_columns). */
static const char *decode_at(int64_t offset, const char *format, const char *key_format, const char *columns,
                             const void *key, size_t klen, const void *value, size_t vlen) {
    static char out[2100];
    char err[256];
    chcolumns cols;
    rowplan plan;
    kb_rowdecoder d;
    ck_assert_msg(chcolumns_parse(columns, &cols, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rowplan_build(&plan, &cols, err, sizeof err) == 0, "%s", err);
    if (kb_rowdecoder_open(&d, &plan, format, key_format, NULL, err, sizeof err)) {
        snprintf(out, sizeof out, "OPEN %s", err);
    } else {
        kb_msg m = {.topic = "t", .offset = offset, .key = key, .key_len = klen, .value = value, .value_len = vlen};
        buf b;
        buf_init(&b, 16);
        buf_u8(&b, 0xAA);
        row_error e;
        int rows = kb_rowdecoder_decode(&d, &m, &b, &e);
        same_in_columns(&d, &plan, &m, rows, &b, &e);
        if (rows >= 0) {
            buf rest = {b.data + 1, b.len - 1, b.cap};
            snprintf(out, sizeof out, "%d: %s", rows, hex(&rest));
        } else {
            ck_assert_uint_eq(b.len, 1);
            snprintf(out, sizeof out, "ERROR %s: %s", e.column ? e.column : "-", e.reason);
        }
        buf_free(&b);
        kb_rowdecoder_close(&d);
    }
    rowplan_free(&plan);
    chcolumns_free(&cols);
    return out;
}

/* decode_at for a message at offset 9. */
static const char *decode(const char *format, const char *key_format, const char *columns, const void *key,
                          size_t klen, const void *value, size_t vlen) {
    return decode_at(9, format, key_format, columns, key, klen, value, vlen);
}

#define MP(s) s, sizeof s - 1

/* A metadata value that does not fit its column fails the row at its
 * commit, after the defaults of the columns before it were written: in
 * columns (-O Native) those must be cut back too. */
START_TEST(metadata_that_does_not_fit_cuts_the_whole_row) {
    const char *columns = "a UInt8, b String, _offset UInt64, c Nullable(Int8)";
    ck_assert_str_eq(decode_at(-5, "json", NULL, columns, NULL, 0, MP("{\"c\": 1}")),
                     "ERROR _offset: value -5 is out of range for UInt64");
    ck_assert_str_eq(decode_at(-5, "msgpack", NULL, columns, NULL, 0, MP("\x80")),
                     "ERROR _offset: value -5 is out of range for UInt64");
    ck_assert_str_eq(decode_at(7, "json", NULL, columns, NULL, 0, MP("{\"c\": 1}")), "1: 00 00 07 00 00 00 00 00 00 00 00 01");
}
END_TEST

START_TEST(msgpack_shapes) {
    /* {"b": 2, "a": "x"}: fields by name, in any order. */
    ck_assert_str_eq(decode("msgpack", NULL, "a String, b UInt8, c Nullable(Int8)", NULL, 0,
                            MP("\x82\xa1" "b\x02\xa1" "a\xa1x")),
                     "1: 01 78 02 01");
    /* positional: 5, "x", nil */
    ck_assert_str_eq(decode("msgpack-positional", NULL, "a UInt8, _offset UInt64, b String, c Nullable(Int8)",
                            NULL, 0, MP("\x05\xa1x\xc0")),
                     "1: 05 09 00 00 00 00 00 00 00 01 78 01");
    ck_assert_str_eq(decode("msgpack-positional", NULL, "a UInt8", NULL, 0, MP("\xcd\x01\x2c")),
                     "ERROR a: value 300 is out of range for UInt8");
    ck_assert_str_eq(decode("msgpack-positional", NULL, "a Array(UInt8)", NULL, 0, MP("\xdd\xff\xff\xff\xff\x01")),
                     "ERROR -: malformed MessagePack: a container declares more elements than the message holds");
    ck_assert_str_eq(decode("msgpack-positional", NULL, "a UInt8", NULL, 0, MP("\x01\x02")),
                     "ERROR -: unexpected data after the 1 MessagePack values of the columns");
    /* The timestamp extension, 32-bit form: 1700000000 s. */
    ck_assert_str_eq(decode("msgpack-positional", NULL, "t DateTime", NULL, 0, MP("\xd6\xff\x65\x53\xf1\x00")),
                     "1: 00 f1 53 65");
    /* Map shape reads text by JSON's rules. */
    ck_assert_str_eq(decode("msgpack", NULL, "d Date", NULL, 0, MP("\x81\xa1" "d\xaa" "1970-01-03")), "1: 02 00");
    /* A path into the map shape, and a key column from a JSON key. */
    ck_assert_str_eq(decode("msgpack", "json", "k UInt8 PATH '$key.id', v UInt8 PATH '$.a[1]'", MP("{\"id\":7}"),
                            MP("\x81\xa1" "a\x92\x01\x02")),
                     "1: 07 02");
    ck_assert_str_eq(decode("msgpack", NULL, "k UInt8 PATH '$key.id'", NULL, 0, MP("\x80")),
                     "OPEN column 'k': reads the message key, which needs --key-format");
}
END_TEST

START_TEST(raw_and_lines) {
    ck_assert_str_eq(decode("raw", NULL, "_offset UInt64, v String", NULL, 0, MP("a\nb")),
                     "1: 09 00 00 00 00 00 00 00 03 61 0a 62");
    ck_assert_str_eq(decode("lines", NULL, "v String", NULL, 0, MP("a\n\nb\n")), "3: 01 61 00 01 62");
    ck_assert_str_eq(decode("lines", NULL, "v String", NULL, 0, MP("")), "0: ");
    /* The second line is refused: the first goes too. */
    ck_assert_str_eq(decode("lines", NULL, "v FixedString(1)", NULL, 0, MP("a\nbb")),
                     "ERROR v: a string of 2 bytes is too long for FixedString(1)");
    ck_assert_str_eq(decode("raw", NULL, "v String", NULL, 0, NULL, 0),
                     "ERROR v: message has no value (a tombstone); the column is not Nullable");
    ck_assert_str_eq(decode("raw", NULL, "v Nullable(String)", NULL, 0, NULL, 0), "1: 01");
    ck_assert_str_eq(decode("raw", NULL, "v String, w String", NULL, 0, MP("x")),
                     "OPEN --format raw fills one String column; 'v' and 'w' are two");
    ck_assert_str_eq(decode("raw", "raw", "v String, k String PATH '$key'", MP("kk"), MP("x")),
                     "1: 01 78 02 6b 6b");
}
END_TEST

Suite *rbwriter_suite(void) {
    Suite *s = suite_create("rbwriter and decoders");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, integers_and_decimals);
    tcase_add_test(tc, dates_and_times);
    tcase_add_test(tc, ticks_range_agrees_with_rbw_time);
    tcase_add_test(tc, strings_of_every_short_length);
    tcase_add_test(tc, bytes_enums_counts);
    tcase_add_test(tc, restate);
    tcase_add_test(tc, variants);
    tcase_add_test(tc, msgpack_shapes);
    tcase_add_test(tc, metadata_that_does_not_fit_cuts_the_whole_row);
    tcase_add_test(tc, raw_and_lines);
    suite_add_tcase(s, tc);
    return s;
}
