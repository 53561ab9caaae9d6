#include <string.h>

#include "suites.h"
#include "timeparse.h"

START_TEST(civil_days) {
    ck_assert_int_eq(tp_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(tp_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(tp_days_from_civil(2000, 3, 1), 11017);
    ck_assert_int_eq(tp_days_from_civil(2024, 2, 29), 19782);
    ck_assert_int_eq(tp_days_from_civil(2149, 6, 6), 65535);
    ck_assert_int_eq(tp_days_from_civil(1900, 1, 1), -25567);
}
END_TEST

static int64_t secs(const char *s, uint32_t *nanos) {
    int64_t v = 0;
    int zone = -1;
    const char *why = NULL;
    ck_assert_msg(tp_parse(s, strlen(s), &v, nanos, &zone, &why) == 0, "%s: %s", s, why);
    return v;
}

static int has_zone(const char *s) {
    int64_t v;
    uint32_t n;
    int zone = -1;
    const char *why = NULL;
    ck_assert_msg(tp_parse(s, strlen(s), &v, &n, &zone, &why) == 0, "%s: %s", s, why);
    return zone;
}

static const char *reject(const char *s) {
    int64_t v;
    uint32_t n;
    int zone;
    const char *why = NULL;
    ck_assert_msg(tp_parse(s, strlen(s), &v, &n, &zone, &why) == -1, "accepted %s", s);
    return why;
}

START_TEST(forms) {
    uint32_t ns;
    ck_assert_int_eq(secs("2024-01-02", &ns), 1704153600);
    ck_assert_int_eq(secs("2024-01-02 03:04:05", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02 03:04", &ns), 1704164640);
    ck_assert_int_eq(secs("2024-01-02T03:04:05Z", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02T04:04:05+01:00", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02T02:04:05-0100", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02T05:04:05+02", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02 05:04:05 +02:00", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02 03:04:05.5", &ns), 1704164645);
    ck_assert_uint_eq(ns, 500000000);
    ck_assert_int_eq(secs("2024-01-02 03:04:05.123456789123", &ns), 1704164645);
    ck_assert_uint_eq(ns, 123456789);
    ck_assert_int_eq(secs("1969-12-31 23:59:59", &ns), -1);
    ck_assert_int_eq(secs("20240102", &ns), 1704153600);
    ck_assert_int_eq(secs("20240102030405", &ns), 1704164645);
    ck_assert_int_eq(has_zone("2024-01-02 03:04:05"), 0);
    ck_assert_int_eq(has_zone("2024-01-02T03:04:05Z"), 1);
    ck_assert_int_eq(has_zone("2024-01-02T03:04:05-01"), 1);
}
END_TEST

START_TEST(rejections) {
    ck_assert_str_eq(reject("2024-1-02"), "expected a date as YYYY-MM-DD");
    ck_assert_str_eq(reject("2023-02-29"), "no such calendar date");
    ck_assert_str_eq(reject("2024-13-01"), "no such calendar date");
    ck_assert_str_eq(reject("20241301"), "no such calendar date");
    ck_assert_str_eq(reject("2024-01-02 24:00:00"), "time of day out of range");
    ck_assert_str_eq(reject("2024-01-02 03"), "expected a time as hh:mm:ss");
    ck_assert_str_eq(reject("2024-01-02X03:04:05"), "expected ' ' or 'T' after the date");
    ck_assert_str_eq(reject("2024-01-02 03:04:05."), "expected digits after '.'");
    ck_assert_str_eq(reject("2024-01-02 03:04:05 UTC"), "unexpected text after the time");
    ck_assert_str_eq(reject("2024-01-02T03:04:05+25:00"), "zone offset out of range");
    ck_assert_str_eq(reject("2024-01-02t03:04:05z"), "expected ' ' or 'T' after the date");
}
END_TEST

/* The common layout has its own reader (fixed places); near misses of it
 * go to the general one, which must give the same answers and reasons. */
START_TEST(fixed_layout_and_its_edges) {
    uint32_t ns;
    ck_assert_int_eq(secs("2024-05-01T12:34:56.789Z", &ns), 1714566896);
    ck_assert_uint_eq(ns, 789000000);
    ck_assert_int_eq(secs("2024-05-01T12:34:56.123456789999Z", &ns), 1714566896);
    ck_assert_uint_eq(ns, 123456789);
    ck_assert_int_eq(secs("2024-05-01T12:34:56.000001+02:00", &ns), 1714566896 - 7200);
    ck_assert_uint_eq(ns, 1000);
    ck_assert_int_eq(secs("2024-05-01T12:34:56-00:30", &ns), 1714566896 + 1800);
    ck_assert_int_eq(secs("2024-02-29 23:59:59", &ns), 1709251199);
    ck_assert_int_eq(secs("0000-02-29 00:00:00", &ns), tp_days_from_civil(0, 2, 29) * 86400);
    ck_assert_int_eq(has_zone("2024-05-01 12:34:56.5"), 0);
    ck_assert_int_eq(has_zone("2024-05-01 12:34:56-01:00"), 1);
    /* Forms only the general reader takes. */
    ck_assert_int_eq(secs("2024-05-01T12:34:56+0200", &ns), 1714566896 - 7200);
    ck_assert_int_eq(secs("2024-05-01T12:34:56 Z", &ns), 1714566896);
    ck_assert_int_eq(secs("2024-05-01T12:34:56.5 +02", &ns), 1714566896 - 7200);
    /* Near misses keep the general reader's reasons. */
    ck_assert_str_eq(reject("2024-05-01T12:34:60Z"), "time of day out of range");
    ck_assert_str_eq(reject("2024-05-01T12:60:00Z"), "time of day out of range");
    ck_assert_str_eq(reject("2024-00-01T12:00:00Z"), "no such calendar date");
    ck_assert_str_eq(reject("2024-04-31T12:00:00Z"), "no such calendar date");
    ck_assert_str_eq(reject("2100-02-29T12:00:00Z"), "no such calendar date");
    ck_assert_str_eq(reject("2024-05-01T12:34:56.Z"), "expected digits after '.'");
    ck_assert_str_eq(reject("2024-05-01T12:34:56+24:00"), "zone offset out of range");
    ck_assert_str_eq(reject("2024-05-01T12:34:56+02:60"), "zone offset out of range");
    ck_assert_str_eq(reject("2024-05-01T12:34:5xZ"), "expected a time as hh:mm:ss");
    ck_assert_str_eq(reject("2024-05-01T12:34:56ZZ"), "unexpected text after the time");
    ck_assert_str_eq(reject("2024-05-01T12:34:56+02:00x"), "unexpected text after the time");
    ck_assert_str_eq(reject("2O24-05-01T12:34:56Z"), "expected a date as YYYY-MM-DD");
}
END_TEST

START_TEST(dates) {
    int64_t days;
    const char *why;
    ck_assert_int_eq(tp_parse_date("2024-01-02", 10, &days, &why), 0);
    ck_assert_int_eq(days, 19724);
    ck_assert_int_eq(tp_parse_date("2024-1-2", 8, &days, &why), 0);
    ck_assert_int_eq(days, 19724);
    ck_assert_int_eq(tp_parse_date("20240102", 8, &days, &why), 0);
    ck_assert_int_eq(days, 19724);
    ck_assert_int_eq(tp_parse_date("1900-01-01", 10, &days, &why), 0);
    ck_assert_int_eq(days, -25567);
    ck_assert_int_eq(tp_parse_date("2024-01-02 00:00:00", 19, &days, &why), -1);
    ck_assert_int_eq(tp_parse_date("2023-02-29", 10, &days, &why), -1);
    ck_assert_str_eq(why, "no such calendar date");
}
END_TEST

static int64_t unix_ok(const char *s, uint32_t *ns) {
    int64_t v;
    const char *why = NULL;
    ck_assert_msg(tp_parse_unix(s, strlen(s), 0, &v, ns, &why) == 0, "%s: %s", s, why);
    return v;
}

START_TEST(unix_times_and_their_units) {
    int64_t v;
    uint32_t ns;
    const char *why;
    ck_assert_int_eq(unix_ok("1700000000", &ns), 1700000000);
    ck_assert_uint_eq(ns, 0);
    ck_assert_int_eq(unix_ok("86400", &ns), 86400);
    ck_assert_int_eq(unix_ok("-0.5", &ns), -1);
    ck_assert_uint_eq(ns, 500000000);
    ck_assert_int_eq(unix_ok("1700000000123", &ns), 1700000000);
    ck_assert_uint_eq(ns, 123000000);
    ck_assert_int_eq(unix_ok("1700000000123456", &ns), 1700000000);
    ck_assert_uint_eq(ns, 123456000);
    ck_assert_int_eq(unix_ok("1700000000123456789", &ns), 1700000000);
    ck_assert_uint_eq(ns, 123456789);
    ck_assert_int_eq(unix_ok("1700000000123.5", &ns), 1700000000);
    ck_assert_uint_eq(ns, 123500000);
    ck_assert_int_eq(unix_ok("-1700000000123", &ns), -1700000001);
    ck_assert_uint_eq(ns, 877000000);
    ck_assert_int_eq(tp_parse_unix("17000000000", 11, 0, &v, &ns, &why), -1);
    ck_assert_str_eq(why, "Unix times have 1-10, 13, 16 or 19 digits");
    ck_assert_int_eq(tp_parse_unix("99999999999999999999", 20, 0, &v, &ns, &why), -1);
    ck_assert_int_eq(tp_parse_unix("1e9", 3, 0, &v, &ns, &why), -1);
    ck_assert_int_eq(tp_parse_unix("", 0, 0, &v, &ns, &why), -1);
    ck_assert_int_eq(tp_parse_unix("12345678", 8, 1, &v, &ns, &why), -1);
    ck_assert_str_eq(why, "a quoted Unix time has 9 or more digits");
    ck_assert_int_eq(tp_parse_unix("123456789", 9, 1, &v, &ns, &why), 0);
}
END_TEST

Suite *timeparse_suite(void) {
    Suite *s = suite_create("timeparse");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, civil_days);
    tcase_add_test(tc, forms);
    tcase_add_test(tc, rejections);
    tcase_add_test(tc, fixed_layout_and_its_edges);
    tcase_add_test(tc, dates);
    tcase_add_test(tc, unix_times_and_their_units);
    suite_add_tcase(s, tc);
    return s;
}
