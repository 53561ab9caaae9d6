#include <stdio.h>
#include <string.h>

#include "chtype.h"
#include "suites.h"

/* Parses `list` and returns the canonical types joined by "|". */
static const char *canonical(const char *list) {
    static char out[1024];
    char err[256];
    chcolumns cols;
    ck_assert_msg(chcolumns_parse(list, &cols, err, sizeof err) == 0, "%s: %s", list, err);
    buf b;
    buf_init(&b, 64);
    for (size_t i = 0; i < cols.n; i++) {
        if (i) buf_u8(&b, '|');
        buf_put(&b, cols.v[i].name, strlen(cols.v[i].name));
        buf_u8(&b, '=');
        chtype_format(cols.v[i].type, &b);
    }
    snprintf(out, sizeof out, "%.*s", (int)b.len, (const char *)b.data);
    buf_free(&b);
    chcolumns_free(&cols);
    return out;
}

static const char *parse_error(const char *list) {
    static char err[256];
    chcolumns cols;
    err[0] = '\0';
    ck_assert_msg(chcolumns_parse(list, &cols, err, sizeof err) == -1, "accepted: %s", list);
    ck_assert_ptr_null(cols.v);
    return err;
}

START_TEST(every_simple_type) {
    ck_assert_str_eq(canonical("a Int8, b Int16, c Int32, d Int64, e UInt8, f UInt16, g UInt32, "
                               "h UInt64, i Float32, j Float64, k Bool, l String, m Date"),
                     "a=Int8|b=Int16|c=Int32|d=Int64|e=UInt8|f=UInt16|g=UInt32|h=UInt64|"
                     "i=Float32|j=Float64|k=Bool|l=String|m=Date");
}
END_TEST

START_TEST(canonical_spelling_of_parameters) {
    ck_assert_str_eq(canonical("ts DateTime64(3,'UTC')"), "ts=DateTime64(3, 'UTC')");
    ck_assert_str_eq(canonical("ts DateTime64( 6 )"), "ts=DateTime64(6)");
    ck_assert_str_eq(canonical("ts DateTime('Etc/UTC')"), "ts=DateTime('Etc/UTC')");
    ck_assert_str_eq(canonical("ts:DateTime64(3,UTC),u:DateTime(Etc/UTC)"),
                     "ts=DateTime64(3, 'UTC')|u=DateTime('Etc/UTC')");
    ck_assert_str_eq(canonical("ts DateTime"), "ts=DateTime");
    ck_assert_str_eq(canonical("s LowCardinality( Nullable( String ) )"),
                     "s=LowCardinality(Nullable(String))");
    ck_assert_str_eq(canonical("n Nullable(DateTime64(9, 'UTC'))"), "n=Nullable(DateTime64(9, 'UTC'))");
}
END_TEST

START_TEST(spellings_without_spaces_and_quoted_names) {
    ck_assert_str_eq(canonical("id:UInt64,name:String,ts:DateTime64(3)"),
                     "id=UInt64|name=String|ts=DateTime64(3)");
    ck_assert_str_eq(canonical("`my col` String, \"x\" UInt8"), "my col=String|x=UInt8");
    ck_assert_str_eq(canonical("\n  id  UInt64 ,\n\tname String\n"), "id=UInt64|name=String");
}
END_TEST

START_TEST(errors_name_the_column_and_type) {
    ck_assert_str_eq(parse_error("id UInt64, tags Array(String)"),
                     "column 'tags': unsupported type 'Array(String)'");
    ck_assert_str_eq(parse_error("x Decimal(10, 2)"), "column 'x': unsupported type 'Decimal(10, 2)'");
    ck_assert_str_eq(parse_error("x uint64"), "column 'x': unsupported type 'uint64'");
    ck_assert_str_eq(parse_error("t DateTime64(10)"), "column 't': DateTime64 precision must be 0..9");
    ck_assert_str_eq(parse_error("t DateTime64"), "column 't': DateTime64 needs a precision, e.g. DateTime64(3)");
    ck_assert_str_eq(parse_error("t DateTime('Europe/Berlin')"),
                     "column 't': time zone 'Europe/Berlin' is not supported (only 'UTC')");
    ck_assert_str_eq(parse_error("a UInt8, a String"), "column 'a': the column is listed twice");
    ck_assert_str_eq(parse_error("n Nullable(Nullable(UInt8))"),
                     "column 'n': Nullable cannot wrap Nullable or LowCardinality");
    ck_assert_str_eq(parse_error("n LowCardinality(UInt64)"),
                     "column 'n': LowCardinality is supported over String and Nullable(String) only");
    ck_assert_str_eq(parse_error(""), "the column list is empty");
    ck_assert_str_eq(parse_error("id"), "column 'id': expected a type at \"end of text\"");
    ck_assert_str_eq(parse_error("id UInt64 name String"),
                     "expected ',' between columns at \"name String\"");
    ck_assert_str_eq(parse_error("id UInt64,"), "expected a column name at \"end of text\"");
    ck_assert_str_eq(parse_error("x Nullable(String"), "column 'x': expected ')' at \"end of text\"");
    ck_assert_str_eq(parse_error("x UInt8(3)"), "column 'x': unsupported type 'UInt8(3)'");
}
END_TEST

START_TEST(fixed_sizes) {
    chtype *t;
    char err[128];
    const struct {
        const char *type;
        size_t size;
    } cases[] = {{"Int8", 1}, {"UInt16", 2}, {"Date", 2}, {"Float32", 4}, {"DateTime", 4},
                 {"Int64", 8}, {"DateTime64(3)", 8}, {"String", 0}, {"Nullable(UInt8)", 0},
                 {"Bool", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(chtype_parse(cases[i].type, &t, err, sizeof err), 0);
        ck_assert_uint_eq(chtype_fixed_size(t), cases[i].size);
        chtype_free(t);
    }
}
END_TEST

Suite *chtype_suite(void) {
    Suite *s = suite_create("chtype");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, every_simple_type);
    tcase_add_test(tc, canonical_spelling_of_parameters);
    tcase_add_test(tc, spellings_without_spaces_and_quoted_names);
    tcase_add_test(tc, errors_name_the_column_and_type);
    tcase_add_test(tc, fixed_sizes);
    suite_add_tcase(s, tc);
    return s;
}
