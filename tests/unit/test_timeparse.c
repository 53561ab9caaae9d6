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
    const char *why = NULL;
    ck_assert_msg(tp_parse(s, strlen(s), &v, nanos, &why) == 0, "%s: %s", s, why);
    return v;
}

static const char *reject(const char *s) {
    int64_t v;
    uint32_t n;
    const char *why = NULL;
    ck_assert_msg(tp_parse(s, strlen(s), &v, &n, &why) == -1, "accepted %s", s);
    return why;
}

START_TEST(forms) {
    uint32_t ns;
    ck_assert_int_eq(secs("2024-01-02", &ns), 1704153600);
    ck_assert_int_eq(secs("2024-01-02 03:04:05", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02T03:04:05Z", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02T04:04:05+01:00", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02T02:04:05-0100", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02T05:04:05+02", &ns), 1704164645);
    ck_assert_int_eq(secs("2024-01-02 03:04:05.5", &ns), 1704164645);
    ck_assert_uint_eq(ns, 500000000);
    ck_assert_int_eq(secs("2024-01-02 03:04:05.123456789123", &ns), 1704164645);
    ck_assert_uint_eq(ns, 123456789);
    ck_assert_int_eq(secs("1969-12-31 23:59:59", &ns), -1);
}
END_TEST

START_TEST(rejections) {
    ck_assert_str_eq(reject("2024-1-02"), "expected a date as YYYY-MM-DD");
    ck_assert_str_eq(reject("2023-02-29"), "no such calendar date");
    ck_assert_str_eq(reject("2024-13-01"), "no such calendar date");
    ck_assert_str_eq(reject("2024-01-02 24:00:00"), "time of day out of range");
    ck_assert_str_eq(reject("2024-01-02 03:04"), "expected a time as hh:mm:ss");
    ck_assert_str_eq(reject("2024-01-02X03:04:05"), "expected ' ' or 'T' after the date");
    ck_assert_str_eq(reject("2024-01-02 03:04:05."), "expected digits after '.'");
    ck_assert_str_eq(reject("2024-01-02 03:04:05 UTC"), "unexpected text after the time");
    ck_assert_str_eq(reject("2024-01-02T03:04:05+25:00"), "zone offset out of range");
}
END_TEST

START_TEST(unix_seconds) {
    int64_t v;
    uint32_t ns;
    const char *why;
    ck_assert_int_eq(tp_parse_unix("1700000000", 10, &v, &ns, &why), 0);
    ck_assert_int_eq(v, 1700000000);
    ck_assert_uint_eq(ns, 0);
    ck_assert_int_eq(tp_parse_unix("-0.5", 4, &v, &ns, &why), 0);
    ck_assert_int_eq(v, -1);
    ck_assert_uint_eq(ns, 500000000);
    ck_assert_int_eq(tp_parse_unix("99999999999999999999", 20, &v, &ns, &why), -1);
    ck_assert_str_eq(why, "number of seconds out of range");
    ck_assert_int_eq(tp_parse_unix("1e9", 3, &v, &ns, &why), -1);
}
END_TEST

Suite *timeparse_suite(void) {
    Suite *s = suite_create("timeparse");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, civil_days);
    tcase_add_test(tc, forms);
    tcase_add_test(tc, rejections);
    tcase_add_test(tc, unix_seconds);
    suite_add_tcase(s, tc);
    return s;
}
