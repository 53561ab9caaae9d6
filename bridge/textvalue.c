#include "textvalue.h"

#include <string.h>

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int tv_uuid(const char *s, size_t n, unsigned char out[16]) {
    int dashes = n == 36;
    if (n != 36 && n != 32) return -1;
    size_t i = 0;
    for (int b = 0; b < 16; b++) {
        if (dashes && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-') return -1;
            i++;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[b] = (unsigned char)(hi << 4 | lo);
        i += 2;
    }
    return 0;
}

/* Reads a dotted quad starting at s[*i], stopping at the end of it. */
static int dotted_quad(const char *s, size_t n, size_t *i, uint32_t *out) {
    uint32_t v = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (*i >= n || s[*i] != '.') return -1;
            (*i)++;
        }
        unsigned x = 0, digits = 0;
        while (*i < n && s[*i] >= '0' && s[*i] <= '9' && digits < 3) {
            x = x * 10 + (unsigned)(s[*i] - '0');
            (*i)++;
            digits++;
        }
        if (digits == 0 || x > 255) return -1;
        v = v << 8 | x;
    }
    *out = v;
    return 0;
}

int tv_ipv4(const char *s, size_t n, uint32_t *out) {
    size_t i = 0;
    return dotted_quad(s, n, &i, out) == 0 && i == n ? 0 : -1;
}

int tv_ipv6(const char *s, size_t n, unsigned char out[16]) {
    uint16_t groups[8];
    int ngroups = 0, gap = -1; /* gap: the group index where "::" stands */
    size_t i = 0;
    uint32_t v4;
    if (memchr(s, ':', n) == NULL) {
        if (tv_ipv4(s, n, &v4)) return -1;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        for (int b = 0; b < 4; b++) out[12 + b] = (unsigned char)(v4 >> (24 - 8 * b));
        return 0;
    }
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    } else if (n && s[0] == ':') {
        return -1;
    }
    while (i < n) {
        /* A dotted quad may end the address in place of two groups. */
        size_t j = i;
        while (j < n && hexval(s[j]) >= 0) j++;
        if (j < n && s[j] == '.') {
            if (ngroups > 6 || dotted_quad(s, n, &i, &v4) || i != n) return -1;
            groups[ngroups++] = (uint16_t)(v4 >> 16);
            groups[ngroups++] = (uint16_t)v4;
            break;
        }
        if (j == i || j - i > 4 || ngroups == 8) return -1;
        unsigned g = 0;
        for (; i < j; i++) g = g << 4 | (unsigned)hexval(s[i]);
        groups[ngroups++] = (uint16_t)g;
        if (i == n) break;
        if (s[i] != ':') return -1;
        i++;
        if (i < n && s[i] == ':') {
            if (gap >= 0) return -1;
            gap = ngroups;
            i++;
        } else if (i == n) {
            return -1; /* a single trailing ':' */
        }
    }
    if (gap < 0 ? ngroups != 8 : ngroups > 7) return -1;
    /* The groups before "::", zeros for the ones it stands for, the rest. */
    uint16_t full[8] = {0};
    int head = gap < 0 ? ngroups : gap;
    for (int g = 0; g < head; g++) full[g] = groups[g];
    for (int g = head; g < ngroups; g++) full[8 - ngroups + g] = groups[g];
    for (int g = 0; g < 8; g++) {
        out[2 * g] = (unsigned char)(full[g] >> 8);
        out[2 * g + 1] = (unsigned char)full[g];
    }
    return 0;
}

int tv_integer(const char *s, size_t n, int *negative, wideint *magnitude, const char **why) {
    size_t i = 0;
    *negative = 0;
    wide_zero(magnitude);
    if (i < n && (s[i] == '-' || s[i] == '+')) *negative = s[i++] == '-';
    if (i == n) {
        *why = "not an integer";
        return -1;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            *why = "not an integer";
            return -1;
        }
        if (wide_mul10_add(magnitude, (unsigned)(s[i] - '0'))) {
            *why = "out of range";
            return -1;
        }
    }
    return 0;
}

int tv_decimal(const char *s, size_t n, unsigned precision, unsigned scale, int *negative,
               wideint *scaled) {
    size_t i = 0;
    *negative = 0;
    wide_zero(scaled);
    if (i < n && (s[i] == '-' || s[i] == '+')) *negative = s[i++] == '-';
    size_t int_start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        frac_end = i;
    }
    if (int_end == int_start && frac_end == frac_start) return TV_DECIMAL_SYNTAX;
    long exponent = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
        if (i == n) return TV_DECIMAL_SYNTAX;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (exponent < 1000000) exponent = exponent * 10 + (s[i] - '0');
        if (eneg) exponent = -exponent;
    }
    if (i != n) return TV_DECIMAL_SYNTAX;

    /* The digits D (integer part, then fraction) stand for D * 10^(exponent
     * - fraction digits); scaled, that is D * 10^shift.  A positive shift
     * appends zeros; a negative one cuts digits off the end, which must be
     * zeros, or the value would change. */
    size_t ndigits = (int_end - int_start) + (frac_end - frac_start);
    long shift = exponent - (long)(frac_end - frac_start) + (long)scale;
    long keep = (long)ndigits + (shift < 0 ? shift : 0); /* digits of D kept */
    /* Digit k of D (0-based, left to right). */
#define DIGIT(k) ((k) < int_end - int_start ? s[int_start + (k)] : s[frac_start + (k) - (int_end - int_start)])
    for (long k = keep < 0 ? 0 : keep; k < (long)ndigits; k++)
        if (DIGIT((size_t)k) != '0') return TV_DECIMAL_SCALE;
    unsigned significant = 0;
    for (long k = 0; k < keep; k++) {
        unsigned d = (unsigned)(DIGIT((size_t)k) - '0');
        if (significant == 0 && d == 0) continue;
        if (++significant > precision) return TV_DECIMAL_RANGE;
        wide_mul10_add(scaled, d); /* cannot overflow: at most 76 digits */
    }
#undef DIGIT
    if (significant && shift > 0) {
        if ((long)significant + shift > (long)precision) return TV_DECIMAL_RANGE;
        for (long k = 0; k < shift; k++) wide_mul10_add(scaled, 0);
    }
    return 0;
}
