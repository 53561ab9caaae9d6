#include "timeparse.h"

int64_t tp_days_from_civil(int64_t year, unsigned month, unsigned day) {
    /* Shift the year to start in March so that the leap day is the last
     * day of the year; then every 400-year era has the same length. */
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned days_in_month(int64_t y, unsigned m) {
    static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

int tp_all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return n > 0;
}

/* Reads between min and max digits at s[*i]. */
static int digits(const char *s, size_t n, size_t *i, unsigned min, unsigned max, unsigned *out) {
    unsigned v = 0, k = 0;
    while (k < max && *i + k < n && s[*i + k] >= '0' && s[*i + k] <= '9') {
        v = v * 10 + (unsigned)(s[*i + k] - '0');
        k++;
    }
    if (k < min) return -1;
    *i += k;
    *out = v;
    return 0;
}

/* Reads a fraction's digits after the dot; keeps nanoseconds. */
static int fraction(const char *s, size_t n, size_t *i, uint32_t *nanos) {
    uint32_t v = 0;
    unsigned kept = 0;
    size_t start = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        if (kept < 9) {
            v = v * 10 + (uint32_t)(s[*i] - '0');
            kept++;
        }
        (*i)++;
    }
    if (*i == start) return -1;
    while (kept < 9) {
        v *= 10;
        kept++;
    }
    *nanos = v;
    return 0;
}

static int check_date(unsigned y, unsigned mo, unsigned d, const char **why) {
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        *why = "no such calendar date";
        return -1;
    }
    return 0;
}

/* YYYYMMDD or YYYYMMDDhhmmss: fixed-width fields, all digits. */
static int compact(const char *s, size_t n, int64_t *seconds, const char **why) {
    unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    size_t i = 0;
    digits(s, n, &i, 4, 4, &y);
    digits(s, n, &i, 2, 2, &mo);
    digits(s, n, &i, 2, 2, &d);
    if (n == 14) {
        digits(s, n, &i, 2, 2, &h);
        digits(s, n, &i, 2, 2, &mi);
        digits(s, n, &i, 2, 2, &se);
    }
    if (check_date(y, mo, d, why)) return -1;
    if (h > 23 || mi > 59 || se > 59) {
        *why = "time of day out of range";
        return -1;
    }
    *seconds = tp_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

int tp_parse_date(const char *s, size_t n, int64_t *days, const char **why) {
    size_t i = 0;
    unsigned y = 0, mo = 0, d = 0;
    if (n == 8 && tp_all_digits(s, n)) {
        int64_t seconds;
        if (compact(s, n, &seconds, why)) return -1;
        *days = seconds / 86400;
        return 0;
    }
    if (digits(s, n, &i, 4, 4, &y) || i >= n || s[i++] != '-' || digits(s, n, &i, 1, 2, &mo) ||
        i >= n || s[i++] != '-' || digits(s, n, &i, 1, 2, &d) || i != n) {
        *why = "expected a date as YYYY-MM-DD";
        return -1;
    }
    if (check_date(y, mo, d, why)) return -1;
    *days = tp_days_from_civil(y, mo, d);
    return 0;
}

/* Two digits at s, or -1: the fields of the fixed layout below. */
static inline int pair(const char *s) {
    unsigned a = (unsigned char)s[0] - '0', b = (unsigned char)s[1] - '0';
    return a <= 9 && b <= 9 ? (int)(a * 10 + b) : -1;
}

/* The form nearly every producer writes, YYYY-MM-DD[T ]hh:mm:ss, then an
 * optional fraction and an optional Z or +hh:mm / -hh:mm, read field by
 * field at fixed places.  Returns 1 when s has that form and every field
 * is in range, 0 otherwise, leaving other forms and every error (with its
 * reason) to the general parser below, which accepts all that this one
 * does with the same result (tests/fuzz/fuzz_timeparse.c checks it). */
static int fixed_layout(const char *s, size_t n, int64_t *seconds, uint32_t *nanos, int *has_zone) {
    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return 0;
    int yh = pair(s), yl = pair(s + 2), mo = pair(s + 5), d = pair(s + 8), h = pair(s + 11),
        mi = pair(s + 14), se = pair(s + 17);
    if ((yh | yl | mo | d | h | mi | se) < 0 || h > 23 || mi > 59 || se > 59) return 0;
    unsigned y = (unsigned)(yh * 100 + yl);
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo)) return 0;
    size_t i = 19;
    uint32_t ns = 0;
    if (i < n && s[i] == '.') {
        unsigned kept = 0;
        for (i++; i < n; i++) {
            unsigned dg = (unsigned char)s[i] - '0';
            if (dg > 9) break;
            if (kept < 9) {
                ns = ns * 10 + dg;
                kept++;
            }
        }
        if (kept == 0) return 0;
        static const uint32_t scale[10] = {1, 100000000, 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1};
        ns *= scale[kept];
    }
    int64_t offset = 0;
    int zone = 0;
    if (i + 1 == n && s[i] == 'Z') {
        zone = 1;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = pair(s + i + 1), om = pair(s + i + 4);
        if (oh < 0 || om < 0 || oh > 23 || om > 59) return 0;
        offset = (s[i] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
        zone = 1;
    } else if (i != n) {
        return 0;
    }
    *seconds = tp_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - offset;
    *nanos = ns;
    *has_zone = zone;
    return 1;
}

static int parse_general(const char *s, size_t n, int64_t *seconds, uint32_t *nanos, int *has_zone,
                            const char **why);

int tp_parse(const char *s, size_t n, int64_t *seconds, uint32_t *nanos, int *has_zone,
             const char **why) {
    if (fixed_layout(s, n, seconds, nanos, has_zone)) return 0;
    return parse_general(s, n, seconds, nanos, has_zone, why);
}

static int parse_general(const char *s, size_t n, int64_t *seconds, uint32_t *nanos, int *has_zone,
                            const char **why) {
    size_t i = 0;
    unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    *nanos = 0;
    *has_zone = 0;
    if ((n == 8 || n == 14) && tp_all_digits(s, n)) return compact(s, n, seconds, why);
    if (digits(s, n, &i, 4, 4, &y) || i >= n || s[i++] != '-' || digits(s, n, &i, 2, 2, &mo) ||
        i >= n || s[i++] != '-' || digits(s, n, &i, 2, 2, &d)) {
        *why = "expected a date as YYYY-MM-DD";
        return -1;
    }
    if (check_date(y, mo, d, why)) return -1;
    int64_t offset = 0;
    if (i < n) {
        if (s[i] != ' ' && s[i] != 'T') {
            *why = "expected ' ' or 'T' after the date";
            return -1;
        }
        i++;
        if (digits(s, n, &i, 2, 2, &h) || i >= n || s[i++] != ':' || digits(s, n, &i, 2, 2, &mi)) {
            *why = "expected a time as hh:mm:ss";
            return -1;
        }
        if (i < n && s[i] == ':') {
            i++;
            if (digits(s, n, &i, 2, 2, &se)) {
                *why = "expected a time as hh:mm:ss";
                return -1;
            }
        }
        if (h > 23 || mi > 59 || se > 59) {
            *why = "time of day out of range";
            return -1;
        }
        if (i < n && s[i] == '.') {
            i++;
            if (fraction(s, n, &i, nanos)) {
                *why = "expected digits after '.'";
                return -1;
            }
        }
        if (i + 1 < n && s[i] == ' ' && (s[i + 1] == 'Z' || s[i + 1] == '+' || s[i + 1] == '-')) i++;
        if (i < n && s[i] == 'Z') {
            i++;
            *has_zone = 1;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1;
            unsigned oh, om = 0;
            if (digits(s, n, &i, 2, 2, &oh)) {
                *why = "expected a zone offset as +hh:mm";
                return -1;
            }
            if (i < n && s[i] == ':') i++;
            if (i < n && digits(s, n, &i, 2, 2, &om)) {
                *why = "expected a zone offset as +hh:mm";
                return -1;
            }
            if (oh > 23 || om > 59) {
                *why = "zone offset out of range";
                return -1;
            }
            offset = sign * (int64_t)(oh * 3600 + om * 60);
            *has_zone = 1;
        }
    }
    if (i != n) {
        *why = "unexpected text after the time";
        return -1;
    }
    *seconds = tp_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    return 0;
}

int tp_parse_unix(const char *s, size_t n, int quoted, int64_t *seconds, uint32_t *nanos,
                  const char **why) {
    static const uint64_t per_second[] = {1, 1000, 1000000, 1000000000};
    size_t i = 0;
    int negative = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
    size_t start = i;
    uint64_t v = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (i - start == 19) break; /* too many digits: refused below */
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    size_t ndigits = i - start;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, ndigits++;
    if (ndigits == 0) {
        *why = "expected a number of seconds";
        return -1;
    }
    unsigned unit; /* index into per_second */
    if (quoted && ndigits < 9) {
        *why = "a quoted Unix time has 9 or more digits";
        return -1;
    }
    if (ndigits <= 10) unit = 0;
    else if (ndigits == 13) unit = 1;
    else if (ndigits == 16) unit = 2;
    else if (ndigits == 19) unit = 3;
    else {
        *why = "Unix times have 1-10, 13, 16 or 19 digits";
        return -1;
    }
    uint32_t frac = 0;
    if (i < n && s[i] == '.') {
        i++;
        if (fraction(s, n, &i, &frac)) {
            *why = "expected digits after '.'";
            return -1;
        }
    }
    if (i != n) {
        *why = "expected a plain decimal number";
        return -1;
    }
    /* v units plus a fraction of one unit, as seconds and nanoseconds. */
    uint64_t whole = v / per_second[unit];
    uint64_t ns = (v % per_second[unit]) * (1000000000 / per_second[unit]) + frac / per_second[unit];
    int64_t sec = (int64_t)whole;
    if (negative && (sec || ns)) {
        /* -1.25 s is 2 s before the epoch plus 0.75 s. */
        sec = -sec;
        if (ns) {
            sec -= 1;
            ns = 1000000000 - ns;
        }
    }
    *seconds = sec;
    *nanos = (uint32_t)ns;
    return 0;
}
