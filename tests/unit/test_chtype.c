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
    ck_assert_str_eq(canonical("ts DateTime('Europe/Berlin'), u DateTime64(0, America/New_York)"),
                     "ts=DateTime('Europe/Berlin')|u=DateTime64(0, 'America/New_York')");
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

/* Each expected spelling was printed by ClickHouse 26.7 (DESCRIBE, or the
 * header of its own RowBinaryWithNamesAndTypes output). */
START_TEST(canonical_spelling_of_every_type) {
    ck_assert_str_eq(canonical("a Int128, b Int256, c UInt128, d UInt256, e BFloat16, f Date32, "
                               "g UUID, h IPv4, i IPv6"),
                     "a=Int128|b=Int256|c=UInt128|d=UInt256|e=BFloat16|f=Date32|g=UUID|h=IPv4|i=IPv6");
    ck_assert_str_eq(canonical("a Decimal32(2), b Decimal(10,2), c Decimal(40, 5), d Decimal(3), "
                               "e Decimal, f Decimal64(0), g Decimal128(3), h Decimal256(10)"),
                     "a=Decimal(9, 2)|b=Decimal(10, 2)|c=Decimal(40, 5)|d=Decimal(3, 0)|"
                     "e=Decimal(10, 0)|f=Decimal(18, 0)|g=Decimal(38, 3)|h=Decimal(76, 10)");
    ck_assert_str_eq(canonical("a Enum('a','b'), b Enum8('x'=1, 'y'=-3), c Enum16('q'=1000), "
                               "d Enum('a' = 5, 'b'), e Enum('x' = 200), f Enum8('it\\'s' = 1)"),
                     "a=Enum8('a' = 1, 'b' = 2)|b=Enum8('y' = -3, 'x' = 1)|c=Enum16('q' = 1000)|"
                     "d=Enum8('a' = 5, 'b' = 6)|e=Enum16('x' = 200)|f=Enum8('it\\'s' = 1)");
    ck_assert_str_eq(canonical("a FixedString(3), b DateTime('Europe/Berlin'), c DateTime64(3,'Asia/Tokyo')"),
                     "a=FixedString(3)|b=DateTime('Europe/Berlin')|c=DateTime64(3, 'Asia/Tokyo')");
    ck_assert_str_eq(canonical("a Map(String, Array(Nullable(Int8))), b Tuple(a UInt8, b String), "
                               "c Tuple(UInt8, String), d Tuple(`x y` UInt8, `1` UInt8), "
                               "e Map(LowCardinality(String), Tuple(y UInt8, z Int8))"),
                     "a=Map(String, Array(Nullable(Int8)))|b=Tuple(a UInt8, b String)|"
                     "c=Tuple(UInt8, String)|d=Tuple(`x y` UInt8, `1` UInt8)|"
                     "e=Map(LowCardinality(String), Tuple(y UInt8, z Int8))");
    ck_assert_str_eq(canonical("o LowCardinality(UInt64), p LowCardinality(Nullable(FixedString(2))), "
                               "q Array(Array(Array(DateTime64(9))))"),
                     "o=LowCardinality(UInt64)|p=LowCardinality(Nullable(FixedString(2)))|"
                     "q=Array(Array(Array(DateTime64(9))))");
}
END_TEST

START_TEST(nested_is_flattened) {
    ck_assert_str_eq(canonical("id UInt8, n Nested(a UInt8, b Nested(c UInt8)), z String"),
                     "id=UInt8|n.a=Array(UInt8)|n.b=Array(Nested(c UInt8))|z=String");
    ck_assert_str_eq(canonical("n.a Array(UInt8)"), "n.a=Array(UInt8)");
}
END_TEST

START_TEST(paths) {
    const char *list = "id UInt64 PATH '$.user.id', tag String path $.tags[0], "
                       "k:String:$[\"odd.key\"][2]";
    char err[256];
    chcolumns cols;
    ck_assert_msg(chcolumns_parse(list, &cols, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(cols.n, 3);
    const char *want[] = {"$.user.id", "$.tags[0]", "$[\"odd.key\"][2]"};
    for (size_t i = 0; i < 3; i++) {
        buf b;
        buf_init(&b, 16);
        fieldpath_format(cols.v[i].path, &b);
        buf_u8(&b, 0);
        ck_assert_str_eq((const char *)b.data, want[i]);
        buf_free(&b);
    }
    ck_assert_uint_eq(cols.v[2].path->nsteps, 2);
    ck_assert_uint_eq(cols.v[2].path->steps[1].index, 2);
    chcolumns_free(&cols);
    ck_assert_str_eq(parse_error("a UInt8 PATH 'user.id'"),
                     "column 'a': invalid path 'user.id': a path starts with '$'");
    ck_assert_str_eq(parse_error("a UInt8 PATH '$.a..b'"), "column 'a': invalid path '$.a..b': empty key");
    ck_assert_str_eq(parse_error("a UInt8 PATH '$.a[x]'"),
                     "column 'a': invalid path '$.a[x]': expected an index from 0, like [2]");
    ck_assert_str_eq(parse_error("n Nested(a UInt8) PATH '$.n'"),
                     "column 'n': a Nested column cannot have a PATH; give its flattened columns one");
}
END_TEST

START_TEST(errors_name_the_column_and_type) {
    ck_assert_str_eq(parse_error("x Dynamic"), "column 'x': unsupported type 'Dynamic'");
    ck_assert_str_eq(parse_error("x JSON"), "column 'x': unsupported type 'JSON'");
    ck_assert_str_eq(parse_error("x AggregateFunction(sum, UInt64)"),
                     "column 'x': unsupported type 'AggregateFunction(sum, UInt64)'");
    ck_assert_str_eq(parse_error("x Array(Object('json'))"), "column 'x': unsupported type 'Object('json')'");
    ck_assert_str_eq(parse_error("x uint64"), "column 'x': unsupported type 'uint64'");
    ck_assert_str_eq(parse_error("t DateTime64(10)"), "column 't': DateTime64 precision must be 0..9");
    ck_assert_str_eq(parse_error("t DateTime64"), "column 't': DateTime64 needs a precision, e.g. DateTime64(3)");
    ck_assert_str_eq(parse_error("t DateTime('Mars/Olympus')"),
                     "column 't': unknown time zone 'Mars/Olympus' (no file /usr/share/zoneinfo/Mars/Olympus)");
    ck_assert_str_eq(parse_error("a UInt8, a String"), "column 'a': the column is listed twice");
    ck_assert_str_eq(parse_error("n Nested(a UInt8), n.a String"), "column 'n.a': the column is listed twice");
    /* Of several repeated names, the first repetition in the list. */
    ck_assert_str_eq(parse_error("b UInt8, a UInt8, a String, b String"), "column 'a': the column is listed twice");
    ck_assert_str_eq(parse_error("n Nullable(Nullable(UInt8))"),
                     "column 'n': Nullable cannot wrap Nullable, LowCardinality, Array, Map, Nested or "
                     "Variant (a Variant holds NULL itself)");
    ck_assert_str_eq(parse_error("n Nullable(Array(UInt8))"),
                     "column 'n': Nullable cannot wrap Nullable, LowCardinality, Array, Map, Nested or "
                     "Variant (a Variant holds NULL itself)");
    const char *lc = "LowCardinality holds numbers, strings, Date, Date32, DateTime, UUID, IPv4 and "
                     "IPv6 only (each may be Nullable)";
    char want[256];
    snprintf(want, sizeof want, "column 'n': %s", lc);
    ck_assert_str_eq(parse_error("n LowCardinality(Decimal(5, 2))"), want);
    ck_assert_str_eq(parse_error("n LowCardinality(DateTime64(3))"), want);
    ck_assert_str_eq(parse_error("n LowCardinality(Array(String))"), want);
    ck_assert_str_eq(parse_error("m Map(Nullable(String), UInt8)"), "column 'm': a Map key cannot be Nullable");
    ck_assert_str_eq(parse_error("m Map(String)"), "column 'm': Map takes a key type and a value type");
    ck_assert_str_eq(parse_error("d Decimal(77, 2)"), "column 'd': Decimal precision must be 1..76");
    ck_assert_str_eq(parse_error("d Decimal(5, 6)"), "column 'd': Decimal scale must be 0..5 (the precision)");
    ck_assert_str_eq(parse_error("e Enum8('a' = 200)"), "column 'e': Enum8 values must be in -128..127");
    ck_assert_str_eq(parse_error("e Enum8('a' = 1, 'b' = 1)"), "column 'e': Enum value 1 is given twice");
    ck_assert_str_eq(parse_error("e Enum8('a' = 1, 'a' = 2)"), "column 'e': Enum element 'a' is given twice");
    ck_assert_str_eq(parse_error("t Tuple(a UInt8, String)"),
                     "column 't': either every element of a Tuple has a name or none has");
    ck_assert_str_eq(parse_error("t Tuple(a UInt8, a String)"), "column 't': element name 'a' is given twice");
    ck_assert_str_eq(parse_error("f FixedString(0)"), "column 'f': FixedString length must be at least 1");
    ck_assert_str_eq(parse_error(""), "the column list is empty");
    ck_assert_str_eq(parse_error("id"), "column 'id': expected a type at \"end of text\"");
    ck_assert_str_eq(parse_error("id UInt64 name String"),
                     "expected ',' between columns at \"name String\"");
    ck_assert_str_eq(parse_error("id UInt64,"), "expected a column name at \"end of text\"");
    ck_assert_str_eq(parse_error("x Nullable(String"), "column 'x': expected ')' at \"end of text\"");
    ck_assert_str_eq(parse_error("x UInt8(3)"), "column 'x': unsupported type 'UInt8(3)'");
    char deep[400] = "x ";
    for (int i = 0; i < 40; i++) strcat(deep, "Array(");
    strcat(deep, "UInt8");
    for (int i = 0; i < 40; i++) strcat(deep, ")");
    ck_assert_str_eq(parse_error(deep), "column 'x': type nested more than 32 levels deep");
}
END_TEST

/* ClickHouse keeps a Variant's types sorted by name, each once: the
 * index in that order is the discriminator. */
START_TEST(variant_types_sorted_and_once) {
    ck_assert_str_eq(canonical("v Variant(String, Int64, Float64)"), "v=Variant(Float64, Int64, String)");
    ck_assert_str_eq(canonical("v:Variant(String,Int64,String,Array(Int8))"),
                     "v=Variant(Array(Int8), Int64, String)");
    /* A duplicate before other types: each compared with the last kept. */
    ck_assert_str_eq(canonical("v Variant(String, Int64, Int64, Int8)"), "v=Variant(Int64, Int8, String)");
    ck_assert_str_eq(canonical("v Variant(Int8, String, Int8, String, Int8, Bool)"), "v=Variant(Bool, Int8, String)");
    /* Byte order of the canonical names: 'U' < 'a' does not matter here,
     * but "Int64" < "Int8" ('6' < '8') and "Array(UInt8)" < "Bool". */
    ck_assert_str_eq(canonical("v Variant(Int8, Int64, Bool, Array(UInt8))"),
                     "v=Variant(Array(UInt8), Bool, Int64, Int8)");
    ck_assert_str_eq(canonical("v Variant(DateTime64(3,UTC), Tuple(b String, a UInt8), Map(String, Nullable(Int32)))"),
                     "v=Variant(DateTime64(3, 'UTC'), Map(String, Nullable(Int32)), Tuple(b String, a UInt8))");
    ck_assert_str_eq(canonical("a Array(Variant(UInt8, String)), t Tuple(x Variant(String)), "
                               "m Map(String, Variant(Int32, Array(Variant(String, Bool))))"),
                     "a=Array(Variant(String, UInt8))|t=Tuple(x Variant(String))|"
                     "m=Map(String, Variant(Array(Variant(Bool, String)), Int32))");
    chtype *t;
    char err[256];
    ck_assert_int_eq(chtype_parse("Variant(String, Int64, Float64)", &t, err, sizeof err), 0);
    ck_assert_int_eq(t->kind, CT_VARIANT);
    ck_assert_uint_eq(t->nelems, 3);
    ck_assert_int_eq(t->elems[0]->kind, CT_FLOAT64);
    ck_assert_int_eq(t->elems[1]->kind, CT_INT64);
    ck_assert_int_eq(t->elems[2]->kind, CT_STRING);
    ck_assert_uint_eq(chtype_fixed_size(t), 0);
    ck_assert_int_eq(chtype_has_variant(t), 1);
    chtype_free(t);
    ck_assert_int_eq(chtype_parse("Array(Tuple(a Variant(UInt8)))", &t, err, sizeof err), 0);
    ck_assert_int_eq(chtype_has_variant(t), 1);
    chtype_free(t);
    ck_assert_int_eq(chtype_parse("Array(Tuple(a UInt8))", &t, err, sizeof err), 0);
    ck_assert_int_eq(chtype_has_variant(t), 0);
    chtype_free(t);
}
END_TEST

START_TEST(variant_refusals) {
    ck_assert_str_eq(parse_error("v Variant(Nullable(String), Int64)"),
                     "column 'v': Nullable types are not allowed inside Variant (a Variant holds NULL itself)");
    ck_assert_str_eq(parse_error("v Variant(LowCardinality(Nullable(String)))"),
                     "column 'v': Nullable types are not allowed inside Variant (a Variant holds NULL itself)");
    ck_assert_str_eq(parse_error("v Variant(Variant(String), Int64)"),
                     "column 'v': a Variant cannot hold a Variant directly");
    ck_assert_ptr_nonnull(strstr(parse_error("v Variant(Array(LowCardinality(String)))"),
                                 "LowCardinality inside Variant is not supported"));
    ck_assert_str_eq(parse_error("v Nullable(Variant(String))"),
                     "column 'v': Nullable cannot wrap Nullable, LowCardinality, Array, Map, Nested or "
                     "Variant (a Variant holds NULL itself)");
    ck_assert_ptr_nonnull(strstr(parse_error("v LowCardinality(Variant(String))"), "LowCardinality holds"));
    ck_assert_ptr_nonnull(strstr(parse_error("m Map(Variant(String), UInt8)"), "Variant type is not supported"));
    ck_assert_str_eq(parse_error("v Variant()"), "column 'v': expected a type at \")\"");
    ck_assert_str_eq(parse_error("v Variant"), "column 'v': expected '(' at \"end of text\"");
    ck_assert_str_eq(parse_error("v Variant(a String)"), "column 'v': unsupported type 'a String'");
    /* 256 different types: more than the discriminators 0..254 can name. */
    char many[8192] = "v Variant(";
    for (int i = 1; i <= 256; i++) {
        char one[32];
        snprintf(one, sizeof one, "%sFixedString(%d)", i > 1 ? ", " : "", i);
        strcat(many, one);
    }
    strcat(many, ")");
    ck_assert_str_eq(parse_error(many), "column 'v': a Variant holds at most 255 types");
    many[strlen(many) - strlen(", FixedString(256))")] = '\0';
    strcat(many, ")");
    chcolumns cols;
    char err[256];
    ck_assert_msg(chcolumns_parse(many, &cols, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(cols.v[0].type->nelems, 255);
    chcolumns_free(&cols);
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
                 {"Bool", 1}, {"Int128", 16}, {"UInt256", 32}, {"Decimal(9, 2)", 4},
                 {"Decimal(10, 2)", 8}, {"Decimal(38, 2)", 16}, {"Decimal(39, 2)", 32},
                 {"FixedString(5)", 5}, {"UUID", 16}, {"IPv4", 4}, {"IPv6", 16}, {"Date32", 4},
                 {"BFloat16", 2}, {"Enum16('a' = 1)", 2}, {"Tuple(UInt8, IPv6)", 17},
                 {"Tuple(UInt8, String)", 0}, {"Array(UInt8)", 0}, {"LowCardinality(UUID)", 16}};
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
    tcase_add_test(tc, canonical_spelling_of_every_type);
    tcase_add_test(tc, nested_is_flattened);
    tcase_add_test(tc, paths);
    tcase_add_test(tc, errors_name_the_column_and_type);
    tcase_add_test(tc, fixed_sizes);
    tcase_add_test(tc, variant_types_sorted_and_once);
    tcase_add_test(tc, variant_refusals);
    suite_add_tcase(s, tc);
    return s;
}
