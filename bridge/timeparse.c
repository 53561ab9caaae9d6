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

/* Reads exactly `width` digits at s[*i]. */
static int digits(const char *s, size_t n, size_t *i, unsigned width, unsigned *out) {
    unsigned v = 0;
    if (*i + width > n) return -1;
    for (unsigned k = 0; k < width; k++) {
        char c = s[*i + k];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (unsigned)(c - '0');
    }
    *i += width;
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

int tp_parse(const char *s, size_t n, int64_t *seconds, uint32_t *nanos, const char **why) {
    size_t i = 0;
    unsigned y, mo, d, h = 0, mi = 0, se = 0;
    *nanos = 0;
    if (digits(s, n, &i, 4, &y) || i >= n || s[i++] != '-' || digits(s, n, &i, 2, &mo) ||
        i >= n || s[i++] != '-' || digits(s, n, &i, 2, &d)) {
        *why = "expected a date as YYYY-MM-DD";
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        *why = "no such calendar date";
        return -1;
    }
    int64_t offset = 0;
    if (i < n) {
        if (s[i] != ' ' && s[i] != 'T') {
            *why = "expected ' ' or 'T' after the date";
            return -1;
        }
        i++;
        if (digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' || digits(s, n, &i, 2, &mi) ||
            i >= n || s[i++] != ':' || digits(s, n, &i, 2, &se)) {
            *why = "expected a time as hh:mm:ss";
            return -1;
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
        if (i < n && s[i] == 'Z') {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1;
            unsigned oh, om = 0;
            if (digits(s, n, &i, 2, &oh)) {
                *why = "expected a zone offset as +hh:mm";
                return -1;
            }
            if (i < n && s[i] == ':') i++;
            if (i < n && digits(s, n, &i, 2, &om)) {
                *why = "expected a zone offset as +hh:mm";
                return -1;
            }
            if (oh > 23 || om > 59) {
                *why = "zone offset out of range";
                return -1;
            }
            offset = sign * (int64_t)(oh * 3600 + om * 60);
        }
    }
    if (i != n) {
        *why = "unexpected text after the time";
        return -1;
    }
    *seconds = tp_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    return 0;
}

int tp_parse_unix(const char *s, size_t n, int64_t *seconds, uint32_t *nanos, const char **why) {
    size_t i = 0;
    int negative = 0;
    if (i < n && s[i] == '-') {
        negative = 1;
        i++;
    }
    if (i >= n || s[i] < '0' || s[i] > '9') {
        *why = "expected a number of seconds";
        return -1;
    }
    int64_t v = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10) {
            *why = "number of seconds out of range";
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *nanos = 0;
    if (i < n && s[i] == '.') {
        i++;
        if (fraction(s, n, &i, nanos)) {
            *why = "expected digits after '.'";
            return -1;
        }
    }
    if (i != n) {
        *why = "expected a plain decimal number of seconds";
        return -1;
    }
    if (negative) {
        /* -1.25 s is 2 s before the epoch plus 0.75 s. */
        v = -v;
        if (*nanos) {
            v -= 1;
            *nanos = 1000000000u - *nanos;
        }
    }
    *seconds = v;
    return 0;
}
