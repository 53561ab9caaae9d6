#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chtype.h"
#include "native.h"
#include "rowplan.h"
#include "suites.h"
#include "../common/nativecheck.h"

typedef struct fixture {
    chcolumns cols;
    rowplan plan;
} fixture;

static void plan_of(fixture *f, const char *columns) {
    char err[512];
    ck_assert_msg(chcolumns_parse(columns, &f->cols, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rowplan_build(&f->plan, &f->cols, err, sizeof err) == 0, "%s", err);
}

static void fixture_free(fixture *f) {
    rowplan_free(&f->plan);
    chcolumns_free(&f->cols);
}

/* The bytes ClickHouse's Native format defines, written out by hand. */
START_TEST(block_bytes_by_hand) {
    fixture f;
    plan_of(&f, "a Nullable(UInt8), b Array(String), lc LowCardinality(Nullable(String))");
    static const unsigned char rows[] = {
        0x01, 0x01, 0x01, 'x', 0x00, 0x01, 'p', /* NULL, ['x'], 'p' */
        0x00, 0x07, 0x00, 0x01,                 /* 7, [], NULL */
    };
    static const unsigned char want[] = {
        0x03, 0x02,
        0x01, 'a', 0x0f, 'N', 'u', 'l', 'l', 'a', 'b', 'l', 'e', '(', 'U', 'I', 'n', 't', '8', ')',
        0x01, 0x00, 0x00, 0x07,
        0x01, 'b', 0x0d, 'A', 'r', 'r', 'a', 'y', '(', 'S', 't', 'r', 'i', 'n', 'g', ')',
        0x01, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01, 'x',
        0x02, 'l', 'c', 0x10, 'N', 'u', 'l', 'l', 'a', 'b', 'l', 'e', '(', 'S', 't', 'r', 'i', 'n', 'g', ')',
        0x00, 0x01, 0x01, 'p', 0x00,
    };
    native *n = native_open(&f.plan, 100, 1 << 20);
    buf out;
    buf_init(&out, 16);
    char err[256];
    size_t blocks;
    ck_assert_int_eq(native_encode(n, rows, sizeof rows, &out, &blocks, err, sizeof err), 0);
    ck_assert_uint_eq(blocks, 1);
    ck_assert_uint_eq(out.len, sizeof want);
    ck_assert_mem_eq(out.data, want, sizeof want);
    /* The same rows again: the buffers kept from the first block start empty. */
    out.len = 0;
    ck_assert_int_eq(native_encode(n, rows, sizeof rows, &out, &blocks, err, sizeof err), 0);
    ck_assert_mem_eq(out.data, want, sizeof want);
    buf_free(&out);
    native_close(n);
    fixture_free(&f);
}
END_TEST

/* Variant as ClickHouse's Native reads it (basic discriminators mode):
 * the mode before any stream of the column, discriminators, then each
 * type's column with only its rows. */
START_TEST(variant_block_by_hand) {
    fixture f;
    plan_of(&f, "v Variant(UInt8, String), a Array(Variant(String, UInt8))");
    static const unsigned char rows[] = {
        0x01, 0x07, 0x00,                   /* 7, [] */
        0xff, 0x02, 0xff, 0x01, 0x05,       /* NULL, [NULL, 5] */
        0x00, 0x01, 'x', 0x01, 0x00, 0x01, 'y', /* 'x', ['y'] */
    };
    static const unsigned char want[] = {
        0x02, 0x03,
        0x01, 'v', 0x16, 'V', 'a', 'r', 'i', 'a', 'n', 't', '(', 'S', 't', 'r', 'i', 'n', 'g', ',', ' ',
        'U', 'I', 'n', 't', '8', ')',
        0, 0, 0, 0, 0, 0, 0, 0,             /* mode: basic */
        0x01, 0xff, 0x00,                   /* discriminators */
        0x01, 'x',                          /* String: its one row */
        0x07,                               /* UInt8: its one row */
        0x01, 'a', 0x1d, 'A', 'r', 'r', 'a', 'y', '(', 'V', 'a', 'r', 'i', 'a', 'n', 't', '(', 'S', 't', 'r',
        'i', 'n', 'g', ',', ' ', 'U', 'I', 'n', 't', '8', ')', ')',
        0, 0, 0, 0, 0, 0, 0, 0,             /* the inner Variant's mode, before the offsets */
        0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,
        0xff, 0x01, 0x00,
        0x01, 'y',
        0x05,
    };
    native *n = native_open(&f.plan, 100, 1 << 20);
    buf out;
    buf_init(&out, 16);
    char err[256];
    ck_assert_int_eq(native_encode(n, rows, sizeof rows, &out, NULL, err, sizeof err), 0);
    ck_assert_uint_eq(out.len, sizeof want);
    ck_assert_mem_eq(out.data, want, sizeof want);
    static const unsigned char bad[] = {0x02, 0x07, 0x00};
    ck_assert_int_eq(native_encode(n, bad, sizeof bad, &out, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "column 'v'"));
    buf_free(&out);
    native_close(n);
    fixture_free(&f);
}
END_TEST

START_TEST(type_names_lose_low_cardinality) {
    fixture f;
    plan_of(&f, "m Map(LowCardinality(String), Array(LowCardinality(Nullable(UInt32)))), "
                "t Tuple(a LowCardinality(String), b DateTime64(3, 'UTC'))");
    static const unsigned char rows[] = {0x00, 0x01, 'k', 0, 0, 0, 0, 0, 0, 0, 0};
    native *n = native_open(&f.plan, 100, 1 << 20);
    buf out;
    buf_init(&out, 16);
    char err[256];
    ck_assert_int_eq(native_encode(n, rows, sizeof rows, &out, NULL, err, sizeof err), 0);
    static const char m[] = "Map(String, Array(Nullable(UInt32)))";
    static const char t[] = "Tuple(a String, b DateTime64(3, 'UTC'))";
    ck_assert_ptr_nonnull(memmem(out.data, out.len, m, strlen(m)));
    ck_assert_ptr_nonnull(memmem(out.data, out.len, t, strlen(t)));
    ck_assert_ptr_null(memmem(out.data, out.len, "LowCardinality", 14));
    buf_free(&out);
    native_close(n);
    fixture_free(&f);
}
END_TEST

static const char every_type[] =
    "i8 Int8, u16 UInt16, i32 Int32, u64 UInt64, i128 Int128, u256 UInt256, f32 Float32, f64 Float64, "
    "bf BFloat16, b Bool, d Decimal(9, 2), dw Decimal(40, 5), s String, fs FixedString(3), u UUID, "
    "ip4 IPv4, ip6 IPv6, e Enum8('a' = -1, 'b' = 5), e16 Enum16('x' = 1000), dt Date, d32 Date32, "
    "t DateTime('Europe/Berlin'), t64 DateTime64(9, 'UTC'), n Nullable(Int32), "
    "lc LowCardinality(Nullable(String)), a Array(Nullable(UInt8)), aa Array(Array(String)), "
    "m Map(String, Array(Int16)), tu Tuple(x UInt8, y Tuple(p String, q Date)), "
    "tp Tuple(UInt8, Array(String)), nt Nullable(Tuple(a UInt8, b String)), "
    "ne Nested(k String, v Float64), an Array(Nested(k String, v Array(UInt8))), "
    "v Variant(Int64, String, Array(Variant(UInt8, Tuple(s String, n Nullable(Int8))))), "
    "tv Tuple(a Variant(Bool), b Map(String, Variant(Date, String))), "
    "ft Tuple(a UInt32, b String, c FixedString(2)), ms Map(String, String), mf Map(UInt16, Float64), "
    "_offset UInt64";

/* Rows made from random bytes, transposed into blocks of a few rows, read
 * back by an independent reader: the very same rows. */
START_TEST(random_rows_round_trip) {
    fixture f;
    plan_of(&f, every_type);
    unsigned char noise[1 << 16];
    srand(7);
    buf rows, out, back;
    buf_init(&rows, 1024);
    buf_init(&out, 1024);
    buf_init(&back, 1024);
    const size_t limits[][2] = {{1, 1 << 20}, {7, 1 << 20}, {1000, 300}, {65536, 1 << 20}};
    for (size_t round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)rand();
        nativecheck_src src = {noise, sizeof noise};
        rows.len = out.len = back.len = 0;
        size_t want_rows = 1 + (size_t)rand() % 60;
        for (size_t r = 0; r < want_rows; r++) nativecheck_row(&f.plan, &src, &rows);
        const size_t *lim = limits[round % 4];
        native *n = native_open(&f.plan, lim[0], lim[1]);
        char err[256];
        size_t blocks, nrows, nblocks, biggest;
        ck_assert_msg(native_encode(n, rows.data, rows.len, &out, &blocks, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(nativecheck_read(&f.plan, out.data, out.len, &back, &nrows, &nblocks, &biggest, err,
                                       sizeof err) == 0, "round %zu: %s", round, err);
        ck_assert_uint_eq(nrows, want_rows);
        ck_assert_uint_eq(nblocks, blocks);
        ck_assert_uint_le(biggest, lim[0]);
        if (lim[1] >= 1 << 20) ck_assert_uint_eq(blocks, (want_rows + lim[0] - 1) / lim[0]);
        else ck_assert_uint_ge(blocks, rows.len / (lim[1] + 4096));
        ck_assert_uint_eq(back.len, rows.len);
        ck_assert_mem_eq(back.data, rows.data, rows.len);
        native_close(n);
    }
    buf_free(&rows);
    buf_free(&out);
    buf_free(&back);
    fixture_free(&f);
}
END_TEST

START_TEST(bad_rows_are_refused) {
    fixture f;
    plan_of(&f, "id UInt32, s String, n Nullable(UInt8)");
    native *n = native_open(&f.plan, 100, 1 << 20);
    buf out;
    buf_init(&out, 16);
    char err[256];
    static const unsigned char cut[] = {1, 0, 0, 0, 5, 'a', 'b'};
    ck_assert_int_eq(native_encode(n, cut, sizeof cut, &out, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "column 's'"));
    ck_assert_uint_eq(out.len, 0);
    static const unsigned char not_null_byte[] = {1, 0, 0, 0, 0, 2};
    ck_assert_int_eq(native_encode(n, not_null_byte, sizeof not_null_byte, &out, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "column 'n'"));
    /* A length in more bytes than it needs (0 as 0x80 0x00): no writer
     * makes one, and it could not come back as the same bytes. */
    static const unsigned char overlong[] = {1, 0, 0, 0, 0x80, 0x00, 1};
    ck_assert_int_eq(native_encode(n, overlong, sizeof overlong, &out, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "column 's'"));
    /* A whole row, then half of one: the first block is kept. */
    static const unsigned char half[] = {1, 0, 0, 0, 0, 1, 2, 0};
    native *one = native_open(&f.plan, 1, 1 << 20);
    ck_assert_int_eq(native_encode(one, half, sizeof half, &out, NULL, err, sizeof err), -1);
    ck_assert_uint_gt(out.len, 0);
    ck_assert_ptr_nonnull(strstr(err, "row 1"));
    native_close(one);
    buf_free(&out);
    native_close(n);
    fixture_free(&f);
}
END_TEST

START_TEST(error_block) {
    buf out;
    buf_init(&out, 16);
    native_error_block(&out, "id", "it's bad\\");
    static const unsigned char want[] = {1, 0, 2, 'i', 'd', 14, '@', '\'', 'i', 't', '\\', '\'', 's', ' ',
                                         'b', 'a', 'd', '\\', '\\', '\''};
    ck_assert_uint_eq(out.len, sizeof want);
    ck_assert_mem_eq(out.data, want, sizeof want);
    buf_free(&out);
}
END_TEST

Suite *native_suite(void) {
    Suite *s = suite_create("native");
    TCase *tc = tcase_create("native");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, block_bytes_by_hand);
    tcase_add_test(tc, variant_block_by_hand);
    tcase_add_test(tc, type_names_lose_low_cardinality);
    tcase_add_test(tc, random_rows_round_trip);
    tcase_add_test(tc, bad_rows_are_refused);
    tcase_add_test(tc, error_block);
    suite_add_tcase(s, tc);
    return s;
}
