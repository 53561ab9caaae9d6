#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"
#include "timeparse.h"
#include "tz.h"

static tz_zone *zone(const char *name) {
    tz_zone *z;
    char err[300];
    ck_assert_msg(tz_load(name, &z, err, sizeof err) == 0, "%s", err);
    return z;
}

/* "YYYY-MM-DD hh:mm:ss" as a local time of zone z, to an instant. */
static int64_t system_local(int y, int mo, int d, int h, const char *name) {
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    setenv("TZ", name, 1);
    tzset();
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_isdst = -1};
    int64_t t = (int64_t)mktime(&tm);
    if (saved) setenv("TZ", saved, 1);
    else unsetenv("TZ");
    tzset();
    free(saved);
    return t;
}

static int64_t local(const char *text, const tz_zone *z) {
    int y, mo, d, h, mi, s;
    ck_assert_int_eq(sscanf(text, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s), 6);
    int64_t seconds = tp_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
    return tz_local_to_utc(z, seconds);
}

/* Expected instants were read from ClickHouse 26.7 (JSONEachRow into
 * DateTime('zone')), including the hours that clocks skip or repeat. */
START_TEST(time_zones) {
    tz_zone *berlin = zone("Europe/Berlin");
    ck_assert_int_eq(local("2024-03-31 01:59:59", berlin), 1711846799);
    ck_assert_int_eq(local("2024-03-31 02:30:00", berlin), 1711845000); /* skipped */
    ck_assert_int_eq(local("2024-03-31 03:00:00", berlin), 1711846800);
    ck_assert_int_eq(local("2024-10-27 02:30:00", berlin), 1729989000); /* repeated */
    ck_assert_int_eq(local("2024-10-27 03:00:00", berlin), 1729994400);
    ck_assert_int_eq(local("2200-07-01 12:00:00", berlin), 7273792800); /* the footer rule */
    ck_assert_int_eq(local("2200-03-30 02:30:00", berlin), 7265723400);
    ck_assert_int_eq(local("1900-01-01 00:00:00", berlin), -2208992400);
    ck_assert_int_eq(tz_offset_at(berlin, 1719835200), 7200);
    tz_free(berlin);

    tz_zone *ny = zone("America/New_York");
    ck_assert_int_eq(local("2024-03-10 02:30:00", ny), 1710052200);
    ck_assert_int_eq(local("2024-11-03 01:30:00", ny), 1730611800);
    tz_free(ny);
    tz_zone *howe = zone("Australia/Lord_Howe");
    ck_assert_int_eq(local("2024-10-06 02:15:00", howe), 1728141300);
    ck_assert_int_eq(local("2024-04-07 01:45:00", howe), 1712414700);
    tz_free(howe);
    tz_zone *kolkata = zone("Asia/Kolkata");
    ck_assert_int_eq(local("1900-01-01 00:00:00", kolkata), -2209008070);
    ck_assert_int_eq(local("2024-01-01 00:00:00", kolkata), 1704047400);
    tz_free(kolkata);
    tz_zone *apia = zone("Pacific/Apia");
    ck_assert_int_eq(local("2011-12-30 12:00:00", apia), 1325196000); /* a skipped day */
    ck_assert_int_eq(local("2011-12-31 00:00:00", apia), 1325239200);
    tz_free(apia);
    tz_zone *kathmandu = zone("Asia/Kathmandu");
    ck_assert_int_eq(local("1986-01-01 00:10:00", kathmandu), 504901500);
    tz_free(kathmandu);
    tz_zone *sao_paulo = zone("America/Sao_Paulo");
    ck_assert_int_eq(local("2018-11-04 00:30:00", sao_paulo), 1541298600);
    ck_assert_int_eq(local("2019-02-16 23:30:00", sao_paulo), 1550367000);
    tz_free(sao_paulo);
    tz_zone *casablanca = zone("Africa/Casablanca");
    /* Past the last transition the zone's POSIX rule applies; what that
     * rule says for Morocco changes between tzdata releases, so the
     * expectation is the C library's reading of the same installed file. */
    ck_assert_int_eq(local("2087-06-01 12:00:00", casablanca), system_local(2087, 6, 1, 12, "Africa/Casablanca"));
    tz_free(casablanca);

    tz_zone *utc = zone("UTC");
    int32_t offset = -1;
    ck_assert(tz_is_fixed(utc, &offset));
    ck_assert_int_eq(offset, 0);
    tz_free(utc);

    tz_zone *z;
    char err[300];
    ck_assert_int_eq(tz_load("Mars/Olympus", &z, err, sizeof err), -1);
    ck_assert_str_eq(err, "unknown time zone 'Mars/Olympus' (no file /usr/share/zoneinfo/Mars/Olympus)");
    ck_assert_int_eq(tz_load("../etc/passwd", &z, err, sizeof err), -1);
    ck_assert_str_eq(err, "invalid time zone name '../etc/passwd'");
}
END_TEST

Suite *tz_suite(void) {
    Suite *s = suite_create("tz");
    TCase *tc = tcase_create("zones");
    tcase_add_test(tc, time_zones);
    suite_add_tcase(s, tc);
    return s;
}
