#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avrobin.h"
#include "avroschema.h"
#include "formats/avro.h"
#include "formats/formats.h"
#include "native.h"
#include "../common/nativecheck.h"
#include "rbwriter.h"
#include "options.h"
#include "suites.h"

/* ---- binary primitives --------------------------------------------------- */

static int64_t long_of(const char *bytes, size_t n, int *rc, long *used) {
    av_in in;
    av_in_init(&in, bytes, n);
    int64_t v = 0;
    *rc = av_long(&in, &v);
    *used = av_pos(&in);
    return v;
}

START_TEST(zigzag_varints) {
    int rc;
    long used;
    ck_assert_int_eq(long_of("\x00", 1, &rc, &used), 0);
    ck_assert_int_eq(long_of("\x01", 1, &rc, &used), -1);
    ck_assert_int_eq(long_of("\x02", 1, &rc, &used), 1);
    ck_assert_int_eq(long_of("\x7f", 1, &rc, &used), -64);
    ck_assert_int_eq(long_of("\x80\x01", 2, &rc, &used), 64);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(used, 2);
    ck_assert(long_of("\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, &rc, &used) == INT64_MAX);
    ck_assert_int_eq(rc, 0);
    ck_assert(long_of("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, &rc, &used) == INT64_MIN);
    ck_assert_int_eq(rc, 0);
    /* More than 64 bits, an eleventh byte, a varint cut short. */
    long_of("\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x03", 10, &rc, &used);
    ck_assert_int_eq(rc, -1);
    long_of("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11, &rc, &used);
    ck_assert_int_eq(rc, -1);
    long_of("\x80", 1, &rc, &used);
    ck_assert_int_eq(rc, -1);
    long_of("", 0, &rc, &used);
    ck_assert_int_eq(rc, -1);
}
END_TEST

/* A varint of every length from 1 to 10 bytes, alone (the byte loop) and
 * followed by other bytes (the 64-bit word read when 8 bytes are left). */
START_TEST(varints_of_every_length_with_and_without_bytes_after) {
    uint64_t seed = 88172645463325252ull;
    for (int round = 0; round < 2000; round++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        int64_t want = (int64_t)(seed >> (round % 64));
        if (round & 1) want = -want;
        uint64_t u = (uint64_t)want << 1 ^ (uint64_t)(want >> 63);
        char bytes[24];
        size_t n = 0;
        for (; u >= 0x80; u >>= 7) bytes[n++] = (char)(u | 0x80);
        bytes[n++] = (char)u;
        for (size_t tail = 0; tail <= 10; tail += 5) {
            memset(bytes + n, round & 2 ? 0xff : 0x00, tail);
            int rc;
            long used;
            ck_assert(long_of(bytes, n + tail, &rc, &used) == want);
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq(used, (long)n);
        }
    }
}
END_TEST

/* A varint at the end of a datum with fewer than 8 bytes left, after
 * prefix bytes of the same datum (the word read then ends at the datum's
 * end), and the same varint cut short by one byte, which must fail. */
START_TEST(varints_at_the_end_of_a_datum) {
    uint64_t seed = 2463534242ull;
    for (int round = 0; round < 2000; round++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        int64_t want = (int64_t)(seed >> (round % 64));
        if (round & 1) want = -want;
        uint64_t u = (uint64_t)want << 1 ^ (uint64_t)(want >> 63);
        for (size_t prefix = 0; prefix <= 9; prefix++) {
            size_t n = prefix;
            /* Exactly the datum's size, so that ASan sees any read past it. */
            char *bytes = malloc(prefix + 10);
            memset(bytes, round & 2 ? 0xff : 0x00, prefix);
            uint64_t x = u;
            for (; x >= 0x80; x >>= 7) bytes[n++] = (char)(x | 0x80);
            bytes[n++] = (char)x;
            for (int cut = 0; cut <= 1; cut++) {
                char *datum = malloc(n - cut);
                memcpy(datum, bytes, n - cut);
                av_in in;
                av_in_init(&in, datum, n - cut);
                in.p += prefix;
                int64_t v = 0;
                int rc = av_long(&in, &v);
                if (cut && n - prefix > 1) {
                    ck_assert_int_eq(rc, -1);
                } else if (!cut) {
                    ck_assert_int_eq(rc, 0);
                    ck_assert(v == want);
                    ck_assert(in.p == in.end);
                }
                free(datum);
            }
            free(bytes);
        }
    }
}
END_TEST

START_TEST(ints_floats_bytes_blocks) {
    av_in in;
    int32_t i;
    av_in_init(&in, "\xfe\xff\xff\xff\x0f", 5);
    ck_assert_int_eq(av_int(&in, &i), 0);
    ck_assert_int_eq(i, INT32_MAX);
    av_in_init(&in, "\x80\x80\x80\x80\x10", 5); /* 2^31 zigzagged: outside int */
    ck_assert_int_eq(av_int(&in, &i), -1);
    float f;
    double d;
    av_in_init(&in, "\x00\x00\xc0\x3f", 4);
    ck_assert_int_eq(av_float(&in, &f), 0);
    ck_assert(f == 1.5f);
    av_in_init(&in, "\x00\x00\xc0", 3);
    ck_assert_int_eq(av_float(&in, &f), -1);
    av_in_init(&in, "\x00\x00\x00\x00\x00\x00\xf0\xbf", 8);
    ck_assert_int_eq(av_double(&in, &d), 0);
    ck_assert(d == -1.0);
    const uint8_t *s;
    size_t n;
    av_in_init(&in, "\x06" "abc", 4);
    ck_assert_int_eq(av_bytes(&in, &s, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(memcmp(s, "abc", 3) == 0);
    av_in_init(&in, "\x08" "abc", 4); /* says 4, has 3 */
    ck_assert_int_eq(av_bytes(&in, &s, &n), -1);
    av_in_init(&in, "\x01" "abc", 4); /* negative length */
    ck_assert_int_eq(av_bytes(&in, &s, &n), -1);
    uint64_t count;
    av_in_init(&in, "\x03\x04", 2); /* count -2, then the block's size */
    ck_assert_int_eq(av_block(&in, &count), 0);
    ck_assert_uint_eq(count, 2);
    ck_assert_int_eq(av_pos(&in), 2);
}
END_TEST

/* ---- schemas ------------------------------------------------------------- */

START_TEST(schemas_parse_with_logical_types_and_names) {
    av_schema s;
    char err[256];
    const char *text =
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":["
        "{\"name\":\"d\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,\"scale\":3}},"
        "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
        "{\"name\":\"bad\",\"type\":{\"type\":\"string\",\"logicalType\":\"date\"}},"
        "{\"name\":\"a\",\"type\":{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}},"
        "{\"name\":\"b\",\"type\":[\"null\",\"n.A\"]},"
        "{\"name\":\"c\",\"type\":\"A\"}]}";
    ck_assert_msg(av_schema_parse(text, strlen(text), &s, err, sizeof err) == 0, "%s", err);
    const av_node *r = s.root;
    ck_assert_int_eq(r->type, AV_RECORD);
    ck_assert_str_eq(r->name, "n.R");
    ck_assert_uint_eq(r->n, 6);
    ck_assert_int_eq(r->kids[0]->logical, AVL_DECIMAL);
    ck_assert_uint_eq(r->kids[0]->precision, 10);
    ck_assert_uint_eq(r->kids[0]->scale, 3);
    ck_assert_int_eq(r->kids[1]->logical, AVL_TS_MICROS);
    ck_assert_int_eq(r->kids[2]->logical, AVL_NONE); /* date on a string: ignored */
    ck_assert_ptr_eq(r->kids[4]->kids[1], r->kids[3]);
    ck_assert_ptr_eq(r->kids[5], r->kids[3]);
    av_schema_free(&s);

    static const char *const bad[] = {
        "{\"type\":\"record\",\"name\":\"R\"}", "\"nosuch\"", "[]", "[[\"int\"]]", "{",
        "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"int\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(av_schema_parse(bad[i], strlen(bad[i]), &s, err, sizeof err) == -1, "%s", bad[i]);
}
END_TEST

/* ---- decoding ------------------------------------------------------------ */

typedef struct fixture {
    chcolumns cols;
    rowplan plan;
    void *dec;
    rowbuild rb;
} fixture;

static int setup(fixture *f, const char *columns, const char *schema, char *err, size_t errlen) {
    ck_assert_msg(chcolumns_parse(columns, &f->cols, err, errlen) == 0, "%s", err);
    ck_assert_msg(rowplan_build(&f->plan, &f->cols, err, errlen) == 0, "%s", err);
    if (kb_avro_open_schema(&f->dec, &f->plan, FIELD_VALUE, schema, 0, err, errlen)) {
        rowplan_free(&f->plan);
        chcolumns_free(&f->cols);
        return -1;
    }
    rowbuild_init(&f->rb, &f->plan);
    return 0;
}

static void teardown(fixture *f) {
    rowbuild_free(&f->rb);
    kb_avro_decoder.close(f->dec);
    rowplan_free(&f->plan);
    chcolumns_free(&f->cols);
}

/* The row as hex bytes, or "ERROR column: reason", into out. */
static void show(char *out, size_t size, int rc, const row_error *e, const buf *b) {
    size_t o = 0;
    out[0] = '\0';
    if (rc) snprintf(out, size, "ERROR %s: %s", e->column ? e->column : "-", e->reason);
    else
        for (size_t i = 0; i < b->len; i++)
            o += (size_t)snprintf(out + o, size - o, "%s%02x", i ? " " : "", b->data[i]);
}

/* The row as hex bytes, or "ERROR column: reason".  The datum is decoded
 * twice, as a RowBinary row and in columns into a Native block (as -O
 * Native does, after a row already in the block), and both must agree:
 * the block read back (nativecheck.h) holds the same row, or the same
 * error leaves it as it was.  The decoder has separate paths for the two. */
static const char *row(fixture *f, const void *datum, size_t n) {
    static char out[4096];
    char in_columns[4096], err[256];
    buf b;
    buf_init(&b, 64);
    kb_msg m = {.topic = "t", .value = datum, .value_len = n};
    row_error e;
    int rc = rowbuild_begin(&f->rb, &m, &b, &e);
    if (!rc) rc = kb_avro_decoder.decode(f->dec, &f->rb, datum, n, &e);
    if (!rc) rc = rowbuild_commit(&f->rb, &e);
    else rowbuild_cancel(&f->rb);
    show(out, sizeof out, rc, &e, &b);

    /* The row before: a whole one of defaults, so a failure must leave
     * the block with exactly it. */
    native *nat = native_open(&f->plan, 1024, 1 << 20);
    buf *cols = native_columns(nat);
    for (size_t i = 0; i < f->plan.ncols; i++) rbw_default(&cols[i], f->plan.cols[i].type);
    native_added(nat, 1);
    int crc = rowbuild_begin_columns(&f->rb, &m, cols, &e);
    if (!crc) crc = kb_avro_decoder.decode(f->dec, &f->rb, datum, n, &e);
    if (!crc) crc = rowbuild_commit(&f->rb, &e);
    else rowbuild_cancel(&f->rb);
    if (!crc) native_added(nat, 1);
    buf block, rows;
    buf_init(&block, 256);
    buf_init(&rows, 256);
    ck_assert_msg(native_flush_block(nat, &block, err, sizeof err) == 0, "%s", err);
    size_t nrows = 0;
    ck_assert_msg(nativecheck_read(&f->plan, block.data, block.len, &rows, &nrows, NULL, NULL, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_uint_eq(nrows, crc ? 1 : 2);
    /* Past the row of defaults: its length is a RowBinary row's. */
    buf defaults;
    buf_init(&defaults, 64);
    for (size_t i = 0; i < f->plan.ncols; i++) rbw_default(&defaults, f->plan.cols[i].type);
    ck_assert_uint_ge(rows.len, defaults.len);
    ck_assert_mem_eq(rows.data, defaults.data, defaults.len);
    buf second = {rows.data + defaults.len, rows.len - defaults.len, rows.len - defaults.len};
    show(in_columns, sizeof in_columns, crc, &e, &second);
    ck_assert_str_eq(in_columns, out);
    buf_free(&defaults);
    buf_free(&rows);
    buf_free(&block);
    native_close(nat);
    buf_free(&b);
    return out;
}

static const char *one(const char *columns, const char *schema, const void *datum, size_t n) {
    static char out[4096];
    fixture f;
    char err[512];
    if (setup(&f, columns, schema, err, sizeof err)) {
        snprintf(out, sizeof out, "REFUSED %s", err);
        return out;
    }
    snprintf(out, sizeof out, "%s", row(&f, datum, n));
    teardown(&f);
    return out;
}

#define REC(fields) "{\"type\":\"record\",\"name\":\"R\",\"fields\":[" fields "]}"
#define F(name, type) "{\"name\":\"" name "\",\"type\":" type "}"

START_TEST(fields_by_name_in_column_order) {
    /* Writer order b, a; columns a, b, c: c is missing and gets its default. */
    ck_assert_str_eq(one("a Int32, b String, c UInt8", REC(F("b", "\"string\"") "," F("a", "\"int\"")),
                         "\x04hi\x03", 4),
                     "fe ff ff ff 02 68 69 00");
    /* A field no column takes is skipped. */
    ck_assert_str_eq(one("a Int64", REC(F("x", "{\"type\":\"array\",\"items\":\"string\"}") "," F("a", "\"long\"")),
                         "\x02\x02z\x00\x02", 5),
                     "01 00 00 00 00 00 00 00");
}
END_TEST

START_TEST(unions_nullable_and_default) {
    const char *s = REC(F("a", "[\"null\",\"long\"]"));
    ck_assert_str_eq(one("a Nullable(Int64)", s, "\x00", 1), "01");
    ck_assert_str_eq(one("a Nullable(Int64)", s, "\x02\x04", 2), "00 02 00 00 00 00 00 00 00");
    ck_assert_str_eq(one("a Int64", s, "\x00", 1), "00 00 00 00 00 00 00 00");
    ck_assert_str_eq(one("a Int64", s, "\x04", 1), "ERROR a: union branch 2 outside the 2 of the schema");
}
END_TEST

START_TEST(values_out_of_range_are_errors_not_wrapped) {
    ck_assert_str_eq(one("a UInt8", REC(F("a", "\"int\"")), "\x80\x04", 2),
                     "ERROR a: value 256 is out of range for UInt8");
}
END_TEST

START_TEST(types_that_cannot_fit_are_refused_up_front) {
    ck_assert_str_eq(one("a Int64", REC(F("a", "\"string\"")), "", 0),
                     "REFUSED avro-schema: field 'a' (Avro string) cannot go into column 'a' (Int64)");
    ck_assert_str_eq(one("a Decimal(9, 3)",
                         REC(F("a", "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":9,\"scale\":2}")),
                         "", 0),
                     "REFUSED avro-schema: field 'a' (Avro bytes) cannot go into column 'a' (Decimal(9, 3)): the scales differ");
    ck_assert_str_eq(one("a Enum8('x' = 1)",
                         REC(F("a", "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\",\"y\"]}")), "", 0),
                     "REFUSED avro-schema: field 'a' (Avro enum E) cannot go into column 'a' (Enum8('x' = 1)): "
                     "the Enum has no element 'y'");
}
END_TEST

START_TEST(logical_types) {
    /* timestamp-millis 1500 into DateTime64(6): 1.5 s as microseconds. */
    ck_assert_str_eq(one("t DateTime64(6, 'UTC')", REC(F("t", "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}")),
                         "\xb8\x17", 2),
                     "60 e3 16 00 00 00 00 00");
    /* decimal -1.00 in two bytes (0xff9c = -100) into Decimal(9, 2). */
    ck_assert_str_eq(one("d Decimal(9, 2)",
                         REC(F("d", "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":9,\"scale\":2}")),
                         "\x04\xff\x9c", 3),
                     "9c ff ff ff");
    /* date: day 1 into Date. */
    ck_assert_str_eq(one("d Date", REC(F("d", "{\"type\":\"int\",\"logicalType\":\"date\"}")), "\x02", 1), "01 00");
}
END_TEST

START_TEST(records_into_tuples_and_paths) {
    const char *s = REC(F("r", "{\"type\":\"record\",\"name\":\"In\",\"fields\":[" F("y", "\"int\"") "," F("x", "\"int\"") "]}"));
    /* Writer y=1, x=2; the Tuple is (x, y). */
    ck_assert_str_eq(one("r Tuple(x Int8, y Int8)", s, "\x02\x04", 2), "02 01");
    ck_assert_str_eq(one("x Int8 PATH '$.r.x', r Tuple(x Int8, y Int8)", s, "\x02\x04", 2), "02 02 01");
}
END_TEST

START_TEST(truncated_and_trailing_bytes) {
    const char *s = REC(F("a", "\"string\""));
    ck_assert_str_eq(one("a String", s, "\x06" "ab", 3), "ERROR a: truncated or malformed Avro string");
    ck_assert_str_eq(one("a String", s, "\x02" "ab", 3), "ERROR -: 1 bytes left after the Avro datum");
}
END_TEST

/* A record of scalars runs as flat steps (formats/avro.c), each with a
 * shortcut for the usual value; the values off it, and every failure,
 * must come out as the generic operations give them. */
START_TEST(records_of_scalars_off_the_shortcut) {
    const char *s = REC(F("i", "\"int\"") "," F("x", "\"long\"") ","
                        F("t", "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}") "," F("b", "\"boolean\""));
    const char *c = "i Int64, t DateTime64(3, 'UTC'), b Bool";
    /* i 1, x (skipped) 2, t 1500 ms, b true. */
    ck_assert_str_eq(one(c, s, "\x02\x04\xb8\x17\x01", 5),
                     "01 00 00 00 00 00 00 00 dc 05 00 00 00 00 00 00 01");
    /* An int of 2^31 is no Avro int, though the column would hold it. */
    ck_assert_str_eq(one(c, s, "\x80\x80\x80\x80\x10\x04\xb8\x17\x01", 9),
                     "ERROR i: truncated or malformed Avro int");
    ck_assert_str_eq(one(c, s, "\x02\x04\xb8\x17\x02", 5), "ERROR b: Avro boolean is not 0 or 1");
    /* The datum ends inside t's varint, and inside the skipped field. */
    ck_assert_str_eq(one(c, s, "\x02\x04\xb8", 3), "ERROR t: truncated or malformed Avro long");
    ck_assert_str_eq(one(c, s, "\x02\x84", 2), "ERROR -: truncated or malformed Avro long");
    /* 2^62 ms is past DateTime64(3)'s last day. */
    ck_assert_str_eq(one(c, s, "\x02\x04\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01\x01", 13),
                     "ERROR t: expected a time in 1900-01-01..2299-12-31 UTC, got 4611686018427387 s");
    /* Metadata before, between and after the columns, and columns out of
     * the writer's order: the row assembler's bookkeeping either way. */
    const char *ab = REC(F("a", "\"long\"") "," F("b", "\"long\""));
    ck_assert_str_eq(one("_offset UInt64, a Int8, b Int8", ab, "\x02\x04", 2), "00 00 00 00 00 00 00 00 01 02");
    ck_assert_str_eq(one("a Int8, _offset UInt64, b Int8", ab, "\x02\x04", 2), "01 00 00 00 00 00 00 00 00 02");
    ck_assert_str_eq(one("a Int8, b Int8, _offset UInt64", ab, "\x02\x04", 2), "01 02 00 00 00 00 00 00 00 00");
    ck_assert_str_eq(one("b Int8, a Int8", ab, "\x02\x04", 2), "02 01");
    ck_assert_str_eq(one("b Int8, c Int8, a Int8", ab, "\x02\x04", 2), "02 00 01");
    /* Fields that are no scalar of a column of its own (a nullable union,
     * a record into paths) take their ops between the steps, in columns;
     * a row then takes the ops for every field. */
    const char *mixed = REC(F("a", "\"long\"") "," F("n", "[\"null\",\"string\"]") ","
                            F("r", "{\"type\":\"record\",\"name\":\"In\",\"fields\":[" F("x", "\"int\"") "]}") "," F("b", "\"long\""));
    const char *mc = "a Int8, n Nullable(String), x Int8 PATH '$.r.x', b Int8";
    ck_assert_str_eq(one(mc, mixed, "\x02\x02\x04hi\x06\x04", 7), "01 00 02 68 69 03 02");
    ck_assert_str_eq(one(mc, mixed, "\x02\x00\x06\x04", 4), "01 01 03 02");
    ck_assert_str_eq(one(mc, mixed, "\x02\x04\x06\x04", 4), "ERROR n: union branch 2 outside the 2 of the schema");
    /* A union of null and a scalar into a Nullable column is a step of
     * its own, in rows as in columns: null's branch byte, the value's
     * (whichever comes first in the union), and anything else goes to the
     * union's op. */
    const char *nu = REC(F("a", "[\"null\",\"long\"]") "," F("s", "[\"string\",\"null\"]") ","
                         F("b", "[\"null\",\"boolean\"]"));
    const char *nc = "a Nullable(Int8), s Nullable(String), b Nullable(Bool)";
    ck_assert_str_eq(one(nc, nu, "\x02\x02\x00\x04hi\x02\x01", 8), "00 01 00 02 68 69 00 01");
    ck_assert_str_eq(one(nc, nu, "\x00\x02\x00", 3), "01 01 01");
    ck_assert_str_eq(one("a LowCardinality(Nullable(Int8)), s LowCardinality(Nullable(String)), b Nullable(Bool)",
                         nu, "\x00\x00\x04hi\x00", 6), "01 00 02 68 69 01");
    /* Branch 1 written in two bytes: the union's op reads it. */
    ck_assert_str_eq(one(nc, nu, "\x82\x00\x02\x02\x00", 5), "00 01 01 01");
    ck_assert_str_eq(one(nc, nu, "\x04", 1), "ERROR a: union branch 2 outside the 2 of the schema");
    ck_assert_str_eq(one(nc, nu, "\x02\x90\x03\x02\x00", 5), "ERROR a: value 200 is out of range for Int8");
    ck_assert_str_eq(one(nc, nu, "\x02\x02\x00\x04h", 5), "ERROR s: truncated or malformed Avro string");
    ck_assert_str_eq(one(nc, nu, "\x02\x02\x02\x02\x03", 5), "ERROR b: Avro boolean is not 0 or 1");
    ck_assert_str_eq(one(nc, nu, "", 0), "ERROR a: truncated or malformed Avro union");
    /* Into a column that is not Nullable, null is the column's default. */
    ck_assert_str_eq(one("a Int8, s String, b Bool", nu, "\x00\x02\x00", 3), "00 00 00");
    /* A local time has no shortcut: every value takes the zone's way. */
    ck_assert_str_eq(one("t DateTime64(3, 'UTC')",
                         REC(F("t", "{\"type\":\"long\",\"logicalType\":\"local-timestamp-millis\"}")), "\xb8\x17", 2),
                     "dc 05 00 00 00 00 00 00");
}
END_TEST

/* A union of several types into a Variant: the discriminator is the
 * index of the branch's type among the Variant's, sorted by name. */
START_TEST(unions_into_variants) {
    const char *s = REC(F("a", "[\"string\",\"long\",\"null\",\"double\"]"));
    const char *v = "a Variant(String, Int64, Float64)";
    ck_assert_str_eq(one(v, s, "\x00\x04hi", 4), "02 02 68 69");
    ck_assert_str_eq(one(v, s, "\x02\x0a", 2), "01 05 00 00 00 00 00 00 00");
    ck_assert_str_eq(one(v, s, "\x04", 1), "ff");
    ck_assert_str_eq(one(v, s, "\x06\x00\x00\x00\x00\x00\x00\xf8\x3f", 9), "00 00 00 00 00 00 00 f8 3f");
    ck_assert_str_eq(one(v, s, "\x08", 1), "ERROR a: union branch 4 outside the 4 of the schema");
    /* More types than the union has: accepted. */
    ck_assert_str_eq(one("a Variant(String, Int64, Float64, Bool, Array(UInt8))", s, "\x02\x0a", 2),
                     "03 05 00 00 00 00 00 00 00");
    /* The type of the branch's own name first, then Avro's promotions. */
    const char *ints = REC(F("a", "[\"int\",\"long\",\"float\"]"));
    ck_assert_str_eq(one("a Variant(Int32, Int64, Float64)", ints, "\x00\x06", 2), "01 03 00 00 00");
    ck_assert_str_eq(one("a Variant(Int32, Int64, Float64)", ints, "\x02\x06", 2), "02 03 00 00 00 00 00 00 00");
    ck_assert_str_eq(one("a Variant(Int64, Float64)", ints, "\x00\x06", 2), "01 03 00 00 00 00 00 00 00");
    ck_assert_str_eq(one("a Variant(Int64, Float64)", ints, "\x04\x00\x00\xc0\x3f", 5),
                     "00 00 00 00 00 00 00 f8 3f");
    /* A value that is no union goes in as the type it fits best; a
     * missing field and a null are the Variant's NULL. */
    ck_assert_str_eq(one("a Variant(String, Int64)", REC(F("a", "\"long\"")), "\x02", 1), "00 01 00 00 00 00 00 00 00");
    ck_assert_str_eq(one("a Variant(String, Int64), b Variant(String)", REC(F("a", "\"null\"")), "", 0), "ff ff");
    /* Inside arrays, maps and tuples. */
    const char *arr = REC(F("a", "{\"type\":\"array\",\"items\":[\"null\",\"string\",\"long\"]}"));
    ck_assert_str_eq(one("a Array(Variant(String, Int64))", arr, "\x06\x00\x02\x02x\x04\x02\x00", 8),
                     "03 ff 01 01 78 00 01 00 00 00 00 00 00 00");
    const char *map = REC(F("m", "{\"type\":\"map\",\"values\":[\"boolean\",\"string\"]}"));
    ck_assert_str_eq(one("m Map(String, Variant(Bool, String))", map, "\x02\x02k\x00\x01\x00", 6),
                     "01 01 6b 00 01");
}
END_TEST

START_TEST(unions_into_variants_refused_up_front) {
    ck_assert_str_eq(one("a Variant(String, Int64)", REC(F("a", "[\"null\",\"string\",\"double\"]")), "", 0),
                     "REFUSED avro-schema: field 'a' (Avro double) cannot go into column 'a' "
                     "(Variant(Int64, String)): no type of the Variant takes it");
    /* A type of the branch's kind that does not take it: its own reason. */
    ck_assert_str_eq(one("a Variant(Enum8('x' = 1), Int64)",
                         REC(F("a", "[\"long\",{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\",\"y\"]}]")),
                         "", 0),
                     "REFUSED avro-schema: field 'a' (Avro enum E) cannot go into column 'a' (Enum8('x' = 1)): "
                     "the Enum has no element 'y'");
    /* Not Avro's promotion: a long into Int32, a string into Int64. */
    ck_assert_str_eq(one("a Variant(Int32, String)", REC(F("a", "\"long\"")), "", 0),
                     "REFUSED avro-schema: field 'a' (Avro long) cannot go into column 'a' "
                     "(Variant(Int32, String)): no type of the Variant takes it");
}
END_TEST

/* JSON and MessagePack cannot tell which type a value is meant as:
 * refused before any message, naming the column. */
START_TEST(other_formats_refuse_variant_columns) {
    const char *formats[] = {"json", "msgpack", "msgpack-positional"};
    for (size_t i = 0; i < 3; i++) {
        chcolumns cols;
        rowplan plan;
        char err[512];
        ck_assert_int_eq(chcolumns_parse("id Int64, v Array(Variant(String, Int64))", &cols, err, sizeof err), 0);
        ck_assert_int_eq(rowplan_build(&plan, &cols, err, sizeof err), 0);
        const kb_decoder_ops *ops = kb_decoder_find(formats[i]);
        kb_decoder_config cfg = {&plan, FIELD_VALUE, formats[i], NULL};
        void *state = NULL;
        err[0] = '\0';
        ck_assert_int_eq(ops->open(&state, &cfg, err, sizeof err), -1);
        char want[256];
        snprintf(want, sizeof want, "column 'v': --format %s cannot fill a Variant column (only Avro "
                                    "unions of several types can)", formats[i]);
        ck_assert_str_eq(err, want);
        rowplan_free(&plan);
        chcolumns_free(&cols);
    }
}
END_TEST

START_TEST(columns_of_unions_are_variants) {
    av_schema s;
    char err[256];
    const char *text = REC(F("a", "[\"string\",\"long\",\"null\",\"double\"]") ","
                           F("b", "[\"string\",\"bytes\"]") ","
                           F("c", "{\"type\":\"array\",\"items\":[\"null\",\"string\",\"long\"]}") ","
                           F("d", "[\"null\",{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"},"
                                  "{\"type\":\"record\",\"name\":\"P\",\"fields\":[" F("x", "\"int\"") "]}]"));
    ck_assert_msg(av_schema_parse(text, strlen(text), &s, err, sizeof err) == 0, "%s", err);
    buf b;
    buf_init(&b, 64);
    ck_assert_int_eq(kb_avro_columns(&s, &b, err, sizeof err), 0);
    buf_u8(&b, 0);
    ck_assert_str_eq((char *)b.data, "`a` Variant(Float64, Int64, String),\n`b` Variant(String),\n"
                                     "`c` Array(Variant(Int64, String)),\n"
                                     "`d` Variant(DateTime64(3, 'UTC'), Tuple(x Int32))\n");
    buf_free(&b);
    av_schema_free(&s);
    /* The columns it prints take the schema's values. */
    ck_assert_str_eq(one("`d` Variant(DateTime64(3, 'UTC'), Tuple(x Int32))", text,
                         "\x00\x00\x00\x00\x00\x04\x02", 7),
                     "01 01 00 00 00");
}
END_TEST

/* --describe of plain datums: the writer schema is the pipeline's
 * avro-schema, for the value and (key-format = avro) for the key. */
static const char *describe_plain(const char *format, const char *key_format, const char *schema) {
    static char out[4096];
    bridge_options o = {0};
    o.topic = "t";
    o.format = (char *)format;
    o.key_format = (char *)key_format;
    o.avro_schema = (char *)schema;
    buf b;
    buf_init(&b, 256);
    char err[512];
    if (kb_avro_describe(&o, &b, err, sizeof err)) snprintf(out, sizeof out, "ERROR %s", err);
    else snprintf(out, sizeof out, "%.*s", (int)b.len, (const char *)b.data);
    buf_free(&b);
    return out;
}

START_TEST(describe_plain_datums) {
    const char *s = REC(F("id", "\"long\"") "," F("v", "[\"null\",\"string\",\"long\"]"));
    ck_assert_str_eq(describe_plain("avro", NULL, s), "`id` Int64,\n`v` Variant(Int64, String)\n");
    ck_assert_str_eq(describe_plain("avro", "avro", s),
                     "`key_id` Int64 PATH '$key.id',\n`key_v` Variant(Int64, String) PATH '$key.v',\n"
                     "`id` Int64,\n`v` Variant(Int64, String)\n");
    ck_assert_str_eq(describe_plain("json", "avro", "\"string\""), "`key` String PATH '$key'\n");
    ck_assert_str_eq(describe_plain("avro", NULL, NULL),
                     "ERROR format = avro needs avro-schema (a file or inline JSON) in the pipeline file");
    ck_assert_str_eq(describe_plain("avro", NULL, "\"long\""), "ERROR avro-schema: the schema is a long, not a record");
    ck_assert_ptr_nonnull(strstr(describe_plain("avro", NULL, "{"), "ERROR avro-schema: schema is not JSON"));
}
END_TEST

/* A key column whose key_<field> name a value field has is renamed, the
 * first free of key_<field>_1, _2, ...; value columns keep their names. */
START_TEST(describe_key_names_are_unique) {
    const char *s = REC(F("x", "\"long\"") "," F("key_x", "\"int\"") "," F("key_x_1", "\"string\""));
    ck_assert_str_eq(describe_plain("avro", "avro", s),
                     "`key_x_2` Int64 PATH '$key.x',\n`key_key_x` Int32 PATH '$key.key_x',\n"
                     "`key_key_x_1` String PATH '$key.key_x_1',\n"
                     "`x` Int64,\n`key_x` Int32,\n`key_x_1` String\n");
    /* key_x_1 is another key column's own name: not taken from it. */
    const char *t = REC(F("x", "\"long\"") "," F("key_x", "\"int\"") "," F("x_1", "\"string\""));
    ck_assert_str_eq(describe_plain("avro", "avro", t),
                     "`key_x_2` Int64 PATH '$key.x',\n`key_key_x` Int32 PATH '$key.key_x',\n"
                     "`key_x_1` String PATH '$key.x_1',\n"
                     "`x` Int64,\n`key_x` Int32,\n`x_1` String\n");
    /* A whole primitive key and a value field named key. */
    ck_assert_str_eq(describe_plain("avro", "avro", REC(F("key", "\"long\""))),
                     "`key_key` Int64 PATH '$key.key',\n`key` Int64\n");
    /* The printed list parses: no column twice. */
    const char *list = describe_plain("avro", "avro", s);
    chcolumns cols;
    char err[256];
    ck_assert_msg(chcolumns_parse(list, &cols, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(cols.n, 6);
    chcolumns_free(&cols);
}
END_TEST

START_TEST(columns_from_a_schema) {
    av_schema s;
    char err[256];
    const char *text = REC(F("id", "\"long\"") "," F("n", "[\"null\",\"string\"]") ","
                           F("e", "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"a\",\"b\"]}"));
    ck_assert_msg(av_schema_parse(text, strlen(text), &s, err, sizeof err) == 0, "%s", err);
    buf b;
    buf_init(&b, 64);
    ck_assert_int_eq(kb_avro_columns(&s, &b, err, sizeof err), 0);
    buf_u8(&b, 0);
    ck_assert_str_eq((char *)b.data, "`id` Int64,\n`n` Nullable(String),\n`e` Enum8('a' = 0, 'b' = 1)\n");
    buf_free(&b);
    av_schema_free(&s);
}
END_TEST

Suite *avro_suite(void) {
    Suite *s = suite_create("avro");
    TCase *tc = tcase_create("avro");
    tcase_add_test(tc, zigzag_varints);
    tcase_add_test(tc, varints_of_every_length_with_and_without_bytes_after);
    tcase_add_test(tc, varints_at_the_end_of_a_datum);
    tcase_add_test(tc, ints_floats_bytes_blocks);
    tcase_add_test(tc, schemas_parse_with_logical_types_and_names);
    tcase_add_test(tc, fields_by_name_in_column_order);
    tcase_add_test(tc, unions_nullable_and_default);
    tcase_add_test(tc, values_out_of_range_are_errors_not_wrapped);
    tcase_add_test(tc, types_that_cannot_fit_are_refused_up_front);
    tcase_add_test(tc, logical_types);
    tcase_add_test(tc, records_into_tuples_and_paths);
    tcase_add_test(tc, truncated_and_trailing_bytes);
    tcase_add_test(tc, records_of_scalars_off_the_shortcut);
    tcase_add_test(tc, columns_from_a_schema);
    tcase_add_test(tc, unions_into_variants);
    tcase_add_test(tc, unions_into_variants_refused_up_front);
    tcase_add_test(tc, other_formats_refuse_variant_columns);
    tcase_add_test(tc, columns_of_unions_are_variants);
    tcase_add_test(tc, describe_plain_datums);
    tcase_add_test(tc, describe_key_names_are_unique);
    suite_add_tcase(s, tc);
    return s;
}
