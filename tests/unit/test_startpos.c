#include <stdlib.h>
#include <string.h>

#include "startpos.h"
#include "suites.h"

/* Builds RowBinaryWithNamesAndTypes bytes: header of two columns, then raw
 * row bytes. */
static size_t input(unsigned char *out, const char *t1, const char *t2, const void *rows,
                    size_t rows_len) {
    size_t o = 0;
    out[o++] = 2;
    out[o++] = 10;
    memcpy(out + o, "_partition", 10), o += 10;
    out[o++] = 4;
    memcpy(out + o, "next", 4), o += 4;
    out[o++] = (unsigned char)strlen(t1);
    memcpy(out + o, t1, strlen(t1)), o += strlen(t1);
    out[o++] = (unsigned char)strlen(t2);
    memcpy(out + o, t2, strlen(t2)), o += strlen(t2);
    memcpy(out + o, rows, rows_len);
    return o + rows_len;
}

START_TEST(rows_of_any_integer_types) {
    unsigned char in[256];
    /* (0, 5), (2, 9) as UInt32, UInt64 */
    const unsigned char rows[] = {0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0};
    partition_start *s;
    size_t n;
    char err[256];
    size_t len = input(in, "UInt32", "UInt64", rows, sizeof rows);
    ck_assert_msg(startpos_parse(in, len, &s, &n, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(s[1].partition, 2);
    ck_assert_int_eq(s[1].start.kind, OFFSET_ABSOLUTE);
    ck_assert_int_eq(s[1].start.value, 9);
    free(s);

    /* Int16 partition, Nullable(Int64) offset */
    const unsigned char rows2[] = {1, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0};
    len = input(in, "Int16", "Nullable(Int64)", rows2, sizeof rows2);
    ck_assert_msg(startpos_parse(in, len, &s, &n, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(s[0].partition, 1);
    ck_assert_int_eq(s[0].start.value, 7);
    free(s);

    /* Finding 10: a NULL row was silently skipped. */
    const unsigned char rows3[] = {1, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1};
    len = input(in, "Int16", "Nullable(Int64)", rows3, sizeof rows3);
    ck_assert_int_eq(startpos_parse(in, len, &s, &n, err, sizeof err), -1);
    ck_assert_str_eq(err, "input query: row 2: NULL offset (filter NULLs out in the input query, or give a start)");

    /* Finding 16: many partitions, duplicates found without n^2 work. */
    enum { MANY = 20000 };
    unsigned char *big = malloc(MANY * 12 + 64), *hdr = malloc(MANY * 12 + 128);
    for (uint32_t i = 0; i < MANY; i++) {
        uint32_t p = MANY - 1 - i;
        memcpy(big + i * 12, &p, 4);
        uint64_t o = i;
        memcpy(big + i * 12 + 4, &o, 8);
    }
    len = input(hdr, "UInt32", "UInt64", big, MANY * 12);
    ck_assert_msg(startpos_parse(hdr, len, &s, &n, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(n, MANY);
    ck_assert_int_eq(s[0].partition, 0); /* sorted */
    free(s);
    memcpy(big + (MANY - 1) * 12, big, 4); /* the last row repeats the first's partition */
    len = input(hdr, "UInt32", "UInt64", big, MANY * 12);
    ck_assert_int_eq(startpos_parse(hdr, len, &s, &n, err, sizeof err), -1);
    ck_assert_str_eq(err, "input query: partition 19999 is given twice (GROUP BY the partition)");
    free(big);
    free(hdr);

    len = input(in, "UInt8", "UInt64", "", 0); /* an empty table: no rows */
    ck_assert_int_eq(startpos_parse(in, len, &s, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, 0);
    free(s);
}
END_TEST

static const char *parse_error(const unsigned char *in, size_t len) {
    static char err[256];
    partition_start *s;
    size_t n;
    ck_assert_int_eq(startpos_parse(in, len, &s, &n, err, sizeof err), -1);
    ck_assert_ptr_null(s);
    return err;
}

START_TEST(bad_input_is_named) {
    unsigned char in[256];
    const unsigned char neg[] = {0xff, 5};
    ck_assert_str_eq(parse_error(in, input(in, "Int8", "UInt8", neg, sizeof neg)),
                     "input query: row 1: partition -1 is out of range");
    const unsigned char dup[] = {1, 5, 1, 6};
    ck_assert_str_eq(parse_error(in, input(in, "UInt8", "UInt8", dup, sizeof dup)),
                     "input query: partition 1 is given twice (GROUP BY the partition)");
    const unsigned char cut[] = {1, 5};
    ck_assert_str_eq(parse_error(in, input(in, "UInt8", "UInt16", cut, sizeof cut)),
                     "input query: the input ends inside a row");
    ck_assert_str_eq(parse_error(in, input(in, "UInt32", "String", "", 0)),
                     "input query: the offset column 'next' has type String, expected an integer type");
    ck_assert_str_eq(parse_error((const unsigned char *)"", 0),
                     "input query: nothing arrived on stdin (--offsets-from stdin needs an input "
                     "query, e.g. (SELECT _partition, max(_offset) + 1 FROM t GROUP BY _partition))");
    const unsigned char three[] = {3, 1, 'a'};
    ck_assert_str_eq(parse_error(three, sizeof three),
                     "input query: expected 2 columns (partition, next offset) in "
                     "RowBinaryWithNamesAndTypes, got 3 (the input of executable() must use that format)");
}
END_TEST

Suite *startpos_suite(void) {
    Suite *s = suite_create("startpos");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, rows_of_any_integer_types);
    tcase_add_test(tc, bad_input_is_named);
    suite_add_tcase(s, tc);
    return s;
}
