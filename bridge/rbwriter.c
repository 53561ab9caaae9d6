#include "rbwriter.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The type's name as ClickHouse prints it, for messages. */
static void type_name(const chtype *t, char *out, size_t outlen) {
    buf name;
    buf_init(&name, 32);
    chtype_format(t, &name);
    snprintf(out, outlen, "%.*s", (int)name.len, (const char *)name.data);
    buf_free(&name);
}

static int internal(row_error *e, const char *what) {
    return kb_row_fail(e, "internal error: %s called for another type", what);
}

/* Decimal digits of a magnitude, for messages: at most outlen - 1. */
static void wide_text(const wideint *v, char *out, size_t outlen) {
    char digits[80];
    size_t n = 0;
    wideint x = *v;
    do {
        unsigned __int128 rem = 0;
        for (int i = 3; i >= 0; i--) {
            unsigned __int128 cur = rem << 64 | x.limb[i];
            x.limb[i] = (uint64_t)(cur / 10);
            rem = cur % 10;
        }
        digits[n++] = (char)('0' + (int)rem);
    } while (!wide_is_zero(&x) && n < sizeof digits);
    size_t o = 0;
    while (n && o + 1 < outlen) out[o++] = digits[--n];
    out[o] = '\0';
}

void rbw_default(buf *out, const chtype *t) {
    switch (t->kind) {
    case CT_NULLABLE:
        buf_u8(out, 1);
        return;
    case CT_LOWCARDINALITY:
        rbw_default(out, t->inner);
        return;
    case CT_STRING: case CT_ARRAY: case CT_MAP: case CT_NESTED:
        buf_u8(out, 0); /* empty: a zero length or count */
        return;
    case CT_TUPLE:
        for (size_t i = 0; i < t->nelems; i++) rbw_default(out, t->elems[i]);
        return;
    case CT_VARIANT: /* ClickHouse's default of a Variant is NULL */
        rbw_variant_null(out);
        return;
    case CT_ENUM8:
    case CT_ENUM16:
        /* ClickHouse's default of an Enum is its first element by value,
         * which need not be 0. */
        buf_le(out, (uint64_t)(int64_t)t->items[0].value, t->kind == CT_ENUM8 ? 1 : 2);
        return;
    default: {
        size_t n = chtype_fixed_size(t);
        buf_reserve(out, n);
        memset(out->data + out->len, 0, n);
        out->len += n;
    }
    }
}

/* ---- numbers ------------------------------------------------------------ */

int rbw_int(buf *out, const chtype *t, int negative, uint64_t magnitude, row_error *e) {
    static const struct {
        unsigned bytes;
        int is_signed;
    } shape[] = {
        [CT_INT8] = {1, 1},  [CT_INT16] = {2, 1},  [CT_INT32] = {4, 1},  [CT_INT64] = {8, 1},
        [CT_UINT8] = {1, 0}, [CT_UINT16] = {2, 0}, [CT_UINT32] = {4, 0}, [CT_UINT64] = {8, 0},
    };
    if (t->kind > CT_UINT64) {
        wideint w = {{magnitude, 0, 0, 0}};
        return rbw_wide(out, t, negative, &w, e);
    }
    unsigned bits = shape[t->kind].bytes * 8;
    uint64_t value;
    if (shape[t->kind].is_signed) {
        uint64_t limit = (uint64_t)1 << (bits - 1); /* |min|; max is limit - 1 */
        if (negative ? magnitude > limit : magnitude >= limit) goto range;
        value = negative ? (uint64_t)0 - magnitude : magnitude;
    } else {
        if (negative && magnitude) goto range;
        if (bits < 64 && magnitude >> bits) goto range;
        value = magnitude;
    }
    buf_le(out, value, shape[t->kind].bytes);
    return 0;
range: {
    char name[120];
    type_name(t, name, sizeof name);
    return kb_row_fail(e, "value %s%" PRIu64 " is out of range for %s", negative ? "-" : "", magnitude, name);
}
}

unsigned rbw_int_range(const chtype *t, int64_t *min, uint64_t *max) {
    if (t->kind > CT_UINT64) return 0;
    chtype_kind k = t->kind;
    unsigned bytes = k == CT_INT8 || k == CT_UINT8 ? 1 : k == CT_INT16 || k == CT_UINT16 ? 2
                     : k == CT_INT32 || k == CT_UINT32 ? 4 : 8;
    int is_signed = k == CT_INT8 || k == CT_INT16 || k == CT_INT32 || k == CT_INT64;
    unsigned bits = bytes * 8;
    if (is_signed) {
        *min = bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
        *max = ((uint64_t)1 << (bits - 1)) - 1;
    } else {
        *min = 0;
        *max = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    }
    return bytes;
}

int rbw_wide(buf *out, const chtype *t, int negative, const wideint *magnitude, row_error *e) {
    unsigned bits;
    int is_signed;
    switch (t->kind) {
    case CT_INT128: bits = 128, is_signed = 1; break;
    case CT_UINT128: bits = 128, is_signed = 0; break;
    case CT_INT256: bits = 256, is_signed = 1; break;
    case CT_UINT256: bits = 256, is_signed = 0; break;
    default:
        if (t->kind > CT_UINT64) return internal(e, "rbw_wide");
        if (magnitude->limb[1] | magnitude->limb[2] | magnitude->limb[3]) {
            char name[120], text[90];
            type_name(t, name, sizeof name);
            wide_text(magnitude, text, sizeof text);
            return kb_row_fail(e, "value %s%s is out of range for %s", negative ? "-" : "", text, name);
        }
        return rbw_int(out, t, negative, magnitude->limb[0], e);
    }
    if (!wide_fits(magnitude, negative, bits, is_signed)) {
        char name[120], text[90];
        type_name(t, name, sizeof name);
        wide_text(magnitude, text, sizeof text);
        return kb_row_fail(e, "value %s%s is out of range for %s", negative ? "-" : "", text, name);
    }
    wide_put_le(out, magnitude, negative, bits / 8);
    return 0;
}

int rbw_i64(buf *out, const chtype *t, int64_t v, row_error *e) {
    return rbw_int(out, t, v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, e);
}

int rbw_u64(buf *out, const chtype *t, uint64_t v, row_error *e) { return rbw_int(out, t, 0, v, e); }

void rbw_f32(buf *out, const chtype *t, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    if (t->kind == CT_BFLOAT16) buf_le(out, bits >> 16, 2);
    else if (t->kind == CT_FLOAT64) rbw_f64(out, t, (double)v);
    else buf_le(out, bits, 4);
}

void rbw_f64(buf *out, const chtype *t, double v) {
    if (t->kind != CT_FLOAT64) {
        rbw_f32(out, t, (float)v);
        return;
    }
    uint64_t bits;
    memcpy(&bits, &v, 8);
    buf_le(out, bits, 8);
}

/* Whether |scaled| < 10^precision. */
static int decimal_fits(const wideint *v, unsigned precision) {
    unsigned len = 0;
    for (int i = 3; i >= 0; i--)
        if (v->limb[i]) {
            len = (unsigned)(64 * i + 64 - __builtin_clzll(v->limb[i]));
            break;
        }
    /* 10^P > 2^floor(P * log2(10)): short numbers need no exact test. */
    if (len <= precision * 3321928u / 1000000u) return 1;
    wideint limit = {{1, 0, 0, 0}};
    for (unsigned i = 0; i < precision; i++)
        if (wide_mul10_add(&limit, 0)) return 1; /* 10^77 > any 256-bit value */
    for (int i = 3; i >= 0; i--)
        if (v->limb[i] != limit.limb[i]) return v->limb[i] < limit.limb[i];
    return 0;
}

int rbw_decimal(buf *out, const chtype *t, int negative, const wideint *scaled, row_error *e) {
    if (t->kind != CT_DECIMAL) return internal(e, "rbw_decimal");
    if (!decimal_fits(scaled, t->precision)) {
        char name[120], text[90], shown[200];
        type_name(t, name, sizeof name);
        wide_text(scaled, text, sizeof text);
        size_t n = strlen(text);
        if (!t->scale) snprintf(shown, sizeof shown, "%s", text);
        else if (n > t->scale)
            snprintf(shown, sizeof shown, "%.*s.%s", (int)(n - t->scale), text, text + n - t->scale);
        else
            snprintf(shown, sizeof shown, "0.%.*s%s", (int)(t->scale - n),
                     "0000000000000000000000000000000000000000000000000000000000000000000000000000",
                     text);
        return kb_row_fail(e, "value %s%s does not fit %s", negative ? "-" : "", shown, name);
    }
    wide_put_le(out, scaled, negative, (unsigned)chtype_fixed_size(t));
    return 0;
}

/* ---- strings and bytes -------------------------------------------------- */

int rbw_fixedstring(buf *out, const chtype *t, const void *s, size_t n, row_error *e) {
    if (t->kind != CT_FIXEDSTRING) return internal(e, "rbw_fixedstring");
    if (n > t->length)
        return kb_row_fail(e, "a string of %zu bytes is too long for FixedString(%zu)", n, t->length);
    buf_reserve(out, t->length);
    if (n) memcpy(out->data + out->len, s, n);
    memset(out->data + out->len + n, 0, t->length - n);
    out->len += t->length;
    return 0;
}

void rbw_uuid(buf *out, const unsigned char bytes[16]) {
    buf_reserve(out, 16);
    unsigned char *p = out->data + out->len;
    for (int b = 0; b < 8; b++) {
        p[b] = bytes[7 - b];
        p[8 + b] = bytes[15 - b];
    }
    out->len += 16;
}

int rbw_enum_value(buf *out, const chtype *t, long value, row_error *e) {
    if (t->kind != CT_ENUM8 && t->kind != CT_ENUM16) return internal(e, "rbw_enum_value");
    const chtype_enum_item *it = chtype_enum_by_value(t, value);
    if (!it) return kb_row_fail(e, "%ld is not an element of the Enum", value);
    buf_le(out, (uint64_t)(int64_t)it->value, t->kind == CT_ENUM8 ? 1 : 2);
    return 0;
}

int rbw_enum_name(buf *out, const chtype *t, const char *s, size_t n, row_error *e) {
    if (t->kind != CT_ENUM8 && t->kind != CT_ENUM16) return internal(e, "rbw_enum_name");
    const chtype_enum_item *it = chtype_enum_by_name(t, s, n);
    if (!it) {
        char shown[120];
        size_t o = 0;
        for (size_t i = 0; i < n && i < 40 && o + 5 < sizeof shown; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') shown[o++] = (char)ch;
            else o += (size_t)snprintf(shown + o, sizeof shown - o, "\\x%02x", ch);
        }
        shown[o] = '\0';
        return kb_row_fail(e, "\"%s%s\" is not an element of the Enum", shown, n > 40 ? "..." : "");
    }
    buf_le(out, (uint64_t)(int64_t)it->value, t->kind == CT_ENUM8 ? 1 : 2);
    return 0;
}

/* ---- dates and times ---------------------------------------------------- */

int rbw_days(buf *out, const chtype *t, int64_t days, row_error *e) {
    if (t->kind == CT_DATE32) {
        if (days < -25567 || days > 120529)
            return kb_row_fail(e, "expected a date in 1900-01-01..2299-12-31, got day %" PRId64, days);
        buf_le(out, (uint64_t)days, 4);
        return 0;
    }
    if (t->kind != CT_DATE) return internal(e, "rbw_days");
    if (days < 0 || days > 65535)
        return kb_row_fail(e, "expected a date in 1970-01-01..2149-06-06, got day %" PRId64, days);
    buf_le(out, (uint64_t)days, 2);
    return 0;
}

/* ClickHouse's DateTime64 range: 1900-01-01 to 2299-12-31, in seconds. */
#define DT64_MIN_SECONDS (-2208988800LL)
#define DT64_MAX_SECONDS 10413791999LL

static const int64_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

int rbw_ticks_range(const chtype *t, int64_t per_second, int64_t *lo, int64_t *hi, int64_t *mult) {
    if (t->kind != CT_DATETIME64 || t->precision > 9) return -1;
    unsigned u = 0;
    while (u <= t->precision && pow10[u] != per_second) u++;
    if (u > t->precision) return -1; /* finer than the column, or not a power of ten */
    *mult = pow10[t->precision - u];
    *lo = DT64_MIN_SECONDS * per_second; /* at most 9 digits: no overflow */
    if (__builtin_mul_overflow(DT64_MAX_SECONDS, per_second, hi) ||
        __builtin_add_overflow(*hi, per_second - 1, hi))
        *hi = INT64_MAX;
    if (*hi > INT64_MAX / *mult) *hi = INT64_MAX / *mult;
    return 0;
}

int rbw_time(buf *out, const chtype *t, int64_t seconds, uint32_t nanos, row_error *e) {
    if (t->kind == CT_DATETIME) { /* a fraction is dropped, as ClickHouse does */
        if (seconds < 0 || seconds > (int64_t)UINT32_MAX)
            return kb_row_fail(e, "expected a time in 1970-01-01 00:00:00..2106-02-07 06:28:15 UTC, got %" PRId64 " s",
                        seconds);
        buf_le(out, (uint64_t)seconds, 4);
        return 0;
    }
    if (t->kind != CT_DATETIME64 || nanos > 999999999u) return internal(e, "rbw_time");
    if (seconds < DT64_MIN_SECONDS || seconds > DT64_MAX_SECONDS)
        return kb_row_fail(e, "expected a time in 1900-01-01..2299-12-31 UTC, got %" PRId64 " s", seconds);
    /* At precision 7 and more, Int64 ticks end before 2299 (in 2262 at 9). */
    int64_t ticks;
    if (__builtin_mul_overflow(seconds, pow10[t->precision], &ticks) ||
        __builtin_add_overflow(ticks, (int64_t)(nanos / pow10[9 - t->precision]), &ticks))
        return kb_row_fail(e, "expected a time that fits DateTime64(%u), got %" PRId64 " s", t->precision, seconds);
    buf_le(out, (uint64_t)ticks, 8);
    return 0;
}

/* ---- composites ----------------------------------------------------------- */

void rbw_count_end(buf *out, size_t at, uint64_t count) {
    if (count < 128) {
        out->data[at] = (unsigned char)count;
        return;
    }
    unsigned char leb[10];
    size_t k = 0;
    for (uint64_t x = count; x >= 0x80; x >>= 7) leb[k++] = (unsigned char)(x | 0x80);
    leb[k] = (unsigned char)(count >> (7 * k));
    k++;
    buf_reserve(out, k - 1);
    memmove(out->data + at + k, out->data + at + 1, out->len - at - 1);
    memcpy(out->data + at, leb, k);
    out->len += k - 1;
}

void rbw_tuple_order(buf *out, size_t base, const chtype *t, const size_t *span, buf *scratch) {
    scratch->len = 0;
    buf_put(scratch, out->data + base, out->len - base);
    out->len = base;
    for (size_t i = 0; i < t->nelems; i++) {
        if (span[2 * i + 1] == RBW_UNSET) rbw_default(out, t->elems[i]);
        else buf_put(out, scratch->data + span[2 * i], span[2 * i + 1]);
    }
}

/* dst = a + b + c, cut at cap - 1 bytes. */
static void join3(char *dst, size_t cap, const char *a, const char *b, const char *c) {
    size_t o = 0;
    for (const char *part[3] = {a, b, c}, **q = part; q < part + 3; q++)
        for (const char *p = *q; *p && o + 1 < cap; p++) dst[o++] = *p;
    dst[o] = '\0';
}

void rbw_restate(row_error *e, const char *shown) {
    char *r = e->reason, head[256], tail[256];
    if (strncmp(r, "value ", 6) == 0) {
        char *end = strchr(r + 6, ' ');
        if (!end) return;
        snprintf(tail, sizeof tail, "%s", end);
        join3(r, sizeof e->reason, "value ", shown, tail);
        return;
    }
    char *got = strstr(r, ", got ");
    if (!got) return;
    snprintf(head, sizeof head, "%.*s, got \"", (int)(got - r), r);
    join3(r, sizeof e->reason, head, shown, "\"");
}
