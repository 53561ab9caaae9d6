#include <stdio.h>
#include <string.h>

#include "suites.h"
#include "textvalue.h"

static const char *hex(const unsigned char *p, size_t n) {
    static char out[200];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) o += (size_t)snprintf(out + o, sizeof out - o, "%s%02x", i ? " " : "", p[i]);
    out[o] = '\0';
    return out;
}

static const char *ipv6(const char *s) {
    unsigned char b[16];
    if (tv_ipv6(s, strlen(s), b)) return "invalid";
    return hex(b, 16);
}

START_TEST(ipv6_forms) {
    ck_assert_str_eq(ipv6("::1"), "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01");
    ck_assert_str_eq(ipv6("2001:db8::ff00:42:8329"), "20 01 0d b8 00 00 00 00 00 00 ff 00 00 42 83 29");
    ck_assert_str_eq(ipv6("::ffff:1.2.3.4"), "00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04");
    ck_assert_str_eq(ipv6("2001:DB8:0:0:0:0:0:1"), "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01");
    ck_assert_str_eq(ipv6("1:2:3:4:5:6:7::"), "00 01 00 02 00 03 00 04 00 05 00 06 00 07 00 00");
    ck_assert_str_eq(ipv6("1:2:3:4:5:6:7:8:9"), "invalid");
    ck_assert_str_eq(ipv6("::1:2:3:4:5:6:7:8"), "invalid");
    ck_assert_str_eq(ipv6("12345::"), "invalid");
    ck_assert_str_eq(ipv6(":1::"), "invalid");
    ck_assert_str_eq(ipv6("1:"), "invalid");
    ck_assert_str_eq(ipv6(""), "invalid");
    ck_assert_str_eq(ipv6("20010db8000000000000000000000001"), "invalid");
}
END_TEST

START_TEST(ipv4_and_uuid) {
    uint32_t v;
    ck_assert_int_eq(tv_ipv4("127.0.0.1", 9, &v), 0);
    ck_assert_uint_eq(v, 0x7f000001);
    ck_assert_int_eq(tv_ipv4("01.2.3.4", 8, &v), 0); /* leading zeros are decimal, as in ClickHouse */
    ck_assert_uint_eq(v, 0x01020304);
    ck_assert_int_eq(tv_ipv4("1.2.3", 5, &v), -1);
    ck_assert_int_eq(tv_ipv4("1.2.3.4.5", 9, &v), -1);
    ck_assert_int_eq(tv_ipv4("1.2.3.1000", 10, &v), -1);
    unsigned char u[16];
    ck_assert_int_eq(tv_uuid("00112233-4455-6677-8899-aabbccddeeff", 36, u), 0);
    ck_assert_str_eq(hex(u, 16), "00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff");
    ck_assert_int_eq(tv_uuid("00112233445566778899aabbccddeeff", 32, u), 0);
    ck_assert_int_eq(tv_uuid("00112233-4455-6677-8899_aabbccddeeff", 36, u), -1);
    ck_assert_int_eq(tv_uuid("0011223344556677889", 19, u), -1);
}
END_TEST

static const char *decimal(const char *s, unsigned p, unsigned scale) {
    int negative;
    wideint v;
    buf b;
    static char out[300];
    int rc = tv_decimal(s, strlen(s), p, scale, &negative, &v);
    if (rc == TV_DECIMAL_SYNTAX) return "syntax";
    if (rc == TV_DECIMAL_RANGE) return "range";
    if (rc == TV_DECIMAL_SCALE) return "scale";
    buf_init(&b, 32);
    wide_put_le(&b, &v, negative, 8);
    snprintf(out, sizeof out, "%s", hex(b.data, 8));
    buf_free(&b);
    return out;
}

START_TEST(decimals) {
    ck_assert_str_eq(decimal("1.5", 10, 2), "96 00 00 00 00 00 00 00");
    ck_assert_str_eq(decimal("-1.5", 10, 2), "6a ff ff ff ff ff ff ff");
    ck_assert_str_eq(decimal("15e-1", 10, 2), "96 00 00 00 00 00 00 00");
    ck_assert_str_eq(decimal("0.015e2", 10, 2), "96 00 00 00 00 00 00 00");
    ck_assert_str_eq(decimal("+000001.500000", 10, 2), "96 00 00 00 00 00 00 00");
    ck_assert_str_eq(decimal("5.", 3, 0), "05 00 00 00 00 00 00 00");
    ck_assert_str_eq(decimal("0e999999999", 3, 0), "00 00 00 00 00 00 00 00");
    ck_assert_str_eq(decimal("999", 3, 0), "e7 03 00 00 00 00 00 00");
    ck_assert_str_eq(decimal("1000", 3, 0), "range");
    ck_assert_str_eq(decimal("1e3", 3, 0), "range");
    ck_assert_str_eq(decimal("9.99", 3, 2), "e7 03 00 00 00 00 00 00");
    ck_assert_str_eq(decimal("10", 3, 2), "range");
    ck_assert_str_eq(decimal("1.001", 10, 2), "scale");
    ck_assert_str_eq(decimal("1e-400", 10, 2), "scale");
    ck_assert_str_eq(decimal(".", 10, 2), "syntax");
    ck_assert_str_eq(decimal("1e", 10, 2), "syntax");
    ck_assert_str_eq(decimal("1x", 10, 2), "syntax");
    ck_assert_str_eq(decimal("", 10, 2), "syntax");
    /* 76 nines: the widest Decimal holds them. */
    char nines[80];
    memset(nines, '9', 76);
    nines[76] = '\0';
    ck_assert_str_eq(decimal(nines, 76, 0), "ff ff ff ff ff ff ff ff");
    nines[76] = '9';
    nines[77] = '\0';
    ck_assert_str_eq(decimal(nines, 76, 0), "range");
}
END_TEST

START_TEST(wide_integers) {
    int negative;
    wideint v;
    const char *why;
    ck_assert_int_eq(tv_integer("-128", 4, &negative, &v, &why), 0);
    ck_assert(wide_fits(&v, negative, 8, 1));
    ck_assert_int_eq(tv_integer("128", 3, &negative, &v, &why), 0);
    ck_assert(!wide_fits(&v, negative, 8, 1));
    ck_assert(wide_fits(&v, negative, 8, 0));
    ck_assert_int_eq(tv_integer("-0", 2, &negative, &v, &why), 0);
    ck_assert(wide_fits(&v, negative, 8, 0));
    const char *max256 = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    ck_assert_int_eq(tv_integer(max256, strlen(max256), &negative, &v, &why), 0);
    ck_assert(wide_fits(&v, negative, 256, 0));
    ck_assert(!wide_fits(&v, negative, 256, 1));
    const char *over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
    ck_assert_int_eq(tv_integer(over, strlen(over), &negative, &v, &why), -1);
    ck_assert_str_eq(why, "out of range");
    ck_assert_int_eq(tv_integer("1.0", 3, &negative, &v, &why), -1);
    ck_assert_str_eq(why, "not an integer");
    ck_assert_int_eq(tv_integer("-", 1, &negative, &v, &why), -1);
}
END_TEST

Suite *textvalue_suite(void) {
    Suite *s = suite_create("textvalue");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, ipv6_forms);
    tcase_add_test(tc, ipv4_and_uuid);
    tcase_add_test(tc, decimals);
    tcase_add_test(tc, wide_integers);
    suite_add_tcase(s, tc);
    return s;
}
