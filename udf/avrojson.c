#include "avrojson.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avrobin.h"
#include "jsontext.h"

#define MAX_DEPTH 64
/* Items of a block beyond the bytes left: only items of zero bytes (null,
 * an empty record) can be that many, and a few of those make no sense. */
#define SLACK_ITEMS 65536

typedef struct walk {
    av_in in;
    buf *out;
    char *err;
    size_t errlen;
    char path[200];
} walk;

static int fail(walk *w, const char *fmt, ...) {
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (w->path[0])
        snprintf(w->err, w->errlen, "Avro datum, field '%s', byte %ld: %s", w->path, av_pos(&w->in), why);
    else
        snprintf(w->err, w->errlen, "Avro datum, byte %ld: %s", av_pos(&w->in), why);
    return -1;
}

static int truncated(walk *w, const av_node *n) {
    return fail(w, "the datum ends early or is corrupt (reading %s)", av_type_name(n));
}

static void put_text(buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static void put_string(buf *b, const uint8_t *p, size_t n) { kb_jsontext_string(b, p, n); }

static int put_double(walk *w, double d, int single) {
    if (kb_jsontext_double(w->out, d, single)) return fail(w, "%s has no JSON form", isnan(d) ? "NaN" : "an infinity");
    return 0;
}

/* The civil date of a day count (proleptic Gregorian), by eras of 400
 * years of 146097 days. */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void put_date(buf *b, int64_t days) {
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    char t[40];
    snprintf(t, sizeof t, "\"%04" PRId64 "-%02u-%02u", y, m, d);
    put_text(b, t);
}

static void put_timestamp(buf *b, int64_t v, int64_t per, int digits) {
    int64_t sec = v / per, frac = v % per;
    if (frac < 0) frac += per, sec--;
    int64_t days = sec / 86400, rem = sec % 86400;
    if (rem < 0) rem += 86400, days--;
    put_date(b, days);
    char t[48];
    snprintf(t, sizeof t, " %02d:%02d:%02d.%0*" PRId64 "\"", (int)(rem / 3600), (int)(rem / 60 % 60),
             (int)(rem % 60), digits, frac);
    put_text(b, t);
}

/* The unscaled value (big-endian two's complement) as decimal text.  A
 * value with more digits than the schema's precision is refused: it is not
 * a value of that type, and the encoder would not take the text back. */
static int put_decimal(walk *w, const uint8_t *s, size_t n, unsigned precision, unsigned scale) {
    uint8_t mag[64];
    if (n == 0) return fail(w, "a decimal of no bytes");
    if (n > sizeof mag) return fail(w, "a decimal of %zu bytes (at most 64)", n);
    if (scale > 150) return fail(w, "a decimal scale of %u (at most 150)", scale);
    int neg = s[0] & 0x80;
    memcpy(mag, s, n);
    if (neg) {
        unsigned carry = 1;
        for (size_t i = n; i-- > 0;) {
            unsigned v = (uint8_t)~mag[i] + carry;
            mag[i] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    char digits[200];
    size_t nd = 0;
    for (;;) {
        int zero = 1;
        unsigned rem = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned v = rem << 8 | mag[i];
            mag[i] = (uint8_t)(v / 10);
            rem = v % 10;
            if (mag[i]) zero = 0;
        }
        digits[nd++] = (char)('0' + rem);
        if (zero) break;
    }
    if (nd > precision) return fail(w, "a decimal of %zu digits, more than its precision %u", nd, precision);
    while (nd <= scale) digits[nd++] = '0';
    if (neg) buf_u8(w->out, '-');
    for (size_t i = nd; i-- > 0;) {
        buf_u8(w->out, (uint8_t)digits[i]);
        if (i == scale && scale) buf_u8(w->out, '.');
    }
    return 0;
}

static void put_uuid(buf *b, const uint8_t *p) {
    char t[40];
    snprintf(t, sizeof t,
             "\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\"", p[0], p[1], p[2], p[3],
             p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
    put_text(b, t);
}

static int value(walk *w, const av_node *n, int depth);

static size_t path_push(walk *w, const char *name) {
    size_t mark = strlen(w->path);
    snprintf(w->path + mark, sizeof w->path - mark, "%s%s", mark ? "." : "", name);
    return mark;
}

static int blocks(walk *w, const av_node *n, int depth, int is_map) {
    buf_u8(w->out, is_map ? '{' : '[');
    int first = 1;
    for (;;) {
        uint64_t count;
        if (av_block(&w->in, &count)) return truncated(w, n);
        if (!count) break;
        if (count > (uint64_t)(w->in.end - w->in.p) + SLACK_ITEMS)
            return fail(w, "a block of %" PRIu64 " items in %ld bytes", count, (long)(w->in.end - w->in.p));
        for (uint64_t i = 0; i < count; i++) {
            if (!first) buf_u8(w->out, ',');
            first = 0;
            if (is_map) {
                const uint8_t *k;
                size_t kn;
                if (av_bytes(&w->in, &k, &kn)) return truncated(w, n);
                put_string(w->out, k, kn);
                buf_u8(w->out, ':');
            }
            if (value(w, n->kids[0], depth + 1)) return -1;
        }
    }
    buf_u8(w->out, is_map ? '}' : ']');
    return 0;
}

static int value(walk *w, const av_node *n, int depth) {
    if (depth > MAX_DEPTH) return fail(w, "nested deeper than %d", MAX_DEPTH);
    const uint8_t *s;
    size_t len;
    switch (n->type) {
    case AV_NULL:
        put_text(w->out, "null");
        return 0;
    case AV_BOOLEAN:
        if (w->in.p == w->in.end || *w->in.p > 1) return fail(w, "a boolean byte that is not 0 or 1");
        put_text(w->out, *w->in.p++ ? "true" : "false");
        return 0;
    case AV_INT:
    case AV_LONG: {
        int64_t v;
        if (n->type == AV_INT) {
            int32_t i;
            if (av_int(&w->in, &i)) return truncated(w, n);
            v = i;
        } else if (av_long(&w->in, &v)) {
            return truncated(w, n);
        }
        switch (n->logical) {
        case AVL_DATE: put_date(w->out, v); buf_u8(w->out, '"'); return 0;
        case AVL_TS_MILLIS: case AVL_LTS_MILLIS: put_timestamp(w->out, v, 1000, 3); return 0;
        case AVL_TS_MICROS: case AVL_LTS_MICROS: put_timestamp(w->out, v, 1000000, 6); return 0;
        case AVL_TS_NANOS: case AVL_LTS_NANOS: put_timestamp(w->out, v, 1000000000, 9); return 0;
        default: {
            char t[24];
            snprintf(t, sizeof t, "%" PRId64, v);
            put_text(w->out, t);
            return 0;
        }
        }
    }
    case AV_FLOAT: {
        float f;
        if (av_float(&w->in, &f)) return truncated(w, n);
        return put_double(w, f, 1);
    }
    case AV_DOUBLE: {
        double d;
        if (av_double(&w->in, &d)) return truncated(w, n);
        return put_double(w, d, 0);
    }
    case AV_BYTES:
    case AV_STRING:
        if (av_bytes(&w->in, &s, &len)) return truncated(w, n);
        if (n->logical == AVL_DECIMAL) return put_decimal(w, s, len, n->precision, n->scale);
        put_string(w->out, s, len);
        return 0;
    case AV_FIXED:
        if (av_fixed(&w->in, n->size, &s)) return truncated(w, n);
        if (n->logical == AVL_DECIMAL) return put_decimal(w, s, n->size, n->precision, n->scale);
        if (n->logical == AVL_UUID && n->size == 16) put_uuid(w->out, s);
        else put_string(w->out, s, n->size);
        return 0;
    case AV_ENUM: {
        int32_t i;
        if (av_int(&w->in, &i)) return truncated(w, n);
        if (i < 0 || (size_t)i >= n->n) return fail(w, "enum index %d outside %zu symbols", (int)i, n->n);
        put_string(w->out, (const uint8_t *)n->names[i], strlen(n->names[i]));
        return 0;
    }
    case AV_ARRAY:
        return blocks(w, n, depth, 0);
    case AV_MAP:
        return blocks(w, n, depth, 1);
    case AV_RECORD:
        buf_u8(w->out, '{');
        for (size_t i = 0; i < n->n; i++) {
            if (i) buf_u8(w->out, ',');
            put_string(w->out, (const uint8_t *)n->names[i], strlen(n->names[i]));
            buf_u8(w->out, ':');
            size_t mark = path_push(w, n->names[i]);
            if (value(w, n->kids[i], depth + 1)) return -1;
            w->path[mark] = '\0';
        }
        buf_u8(w->out, '}');
        return 0;
    case AV_UNION: {
        int64_t b;
        if (av_long(&w->in, &b)) return truncated(w, n);
        if (b < 0 || (uint64_t)b >= n->n) return fail(w, "union branch %" PRId64 " outside %zu branches", b, n->n);
        return value(w, n->kids[b], depth + 1);
    }
    }
    return fail(w, "unsupported Avro type");
}

int kb_avrojson_datum(const av_node *schema, const void *p, size_t n, buf *out, char *err, size_t errlen) {
    walk w;
    av_in_init(&w.in, p, n);
    w.out = out;
    w.err = err;
    w.errlen = errlen;
    w.path[0] = '\0';
    size_t start = out->len;
    int rc = value(&w, schema, 0);
    if (!rc && w.in.p != w.in.end) {
        rc = fail(&w, "%ld bytes after the datum (the wrong schema?)", (long)(w.in.end - w.in.p));
    }
    if (rc) out->len = start;
    return rc;
}
