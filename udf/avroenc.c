#include "avroenc.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "timeparse.h"

#define MAX_DEPTH 64

typedef struct enc {
    kb_avroenc *e;
    kb_json_cursor c;
    buf *out;
    char *err;
    size_t errlen;
} enc;

void kb_avroenc_init(kb_avroenc *e) {
    memset(e, 0, sizeof *e);
    buf_init(&e->scratch, 256);
    buf_init(&e->path, 64);
}

void kb_avroenc_free(kb_avroenc *e) {
    buf_free(&e->scratch);
    buf_free(&e->path);
    free(e->slots);
    memset(e, 0, sizeof *e);
}

static int fail(enc *x, const char *fmt, ...) {
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (x->e->path.len)
        snprintf(x->err, x->errlen, "field '%.*s': %s", (int)x->e->path.len, (const char *)x->e->path.data, why);
    else
        snprintf(x->err, x->errlen, "%s", why);
    return -1;
}

static int json_fail(enc *x) {
    return fail(x, "malformed JSON at byte %ld: %s", (long)(x->c.p - x->c.start), x->c.why ? x->c.why : "?");
}

static void path_push(enc *x, const char *name, size_t n, int index) {
    if (index >= 0) {
        char b[24];
        int k = snprintf(b, sizeof b, "[%d]", index);
        buf_put(&x->e->path, b, (size_t)k);
        return;
    }
    if (x->e->path.len) buf_u8(&x->e->path, '.');
    buf_put(&x->e->path, name, n);
}

static void put_long(buf *b, int64_t v) {
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    buf_reserve(b, 10);
    while (u >= 0x80) {
        b->data[b->len++] = (unsigned char)(u | 0x80);
        u >>= 7;
    }
    b->data[b->len++] = (unsigned char)u;
}

static void put_bytes(buf *b, const void *p, size_t n) {
    put_long(b, (int64_t)n);
    buf_put(b, p, n);
}

/* An integer's text: an optional minus and digits, nothing else. */
static int parse_integer(const char *s, size_t n, int64_t *v) {
    size_t i = 0;
    int neg = 0;
    if (i < n && s[i] == '-') neg = 1, i++;
    if (i == n) return -1;
    uint64_t mag = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (mag > (UINT64_MAX - d) / 10) return -1;
        mag = mag * 10 + d;
    }
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX) return -1;
    *v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

/* The text of a number or of a string; *quoted says which. */
static int scalar_text(enc *x, const char **s, size_t *n, int *quoted, const char *want) {
    kb_json_kind k = kb_json_peek(&x->c);
    if (k == KB_JSON_NUMBER) {
        *quoted = 0;
        return kb_json_number(&x->c, s, n) ? json_fail(x) : 0;
    }
    if (k == KB_JSON_STRING) {
        *quoted = 1;
        return kb_json_string(&x->c, &x->e->scratch, s, n) ? json_fail(x) : 0;
    }
    if (k == KB_JSON_INVALID) return json_fail(x);
    static const char *const kinds[] = {"an object", "an array", "a string", "a number", "true", "false", "null"};
    return fail(x, "expected %s, got %s", want, kinds[k]);
}

static int64_t units_per_second(av_logical l) {
    switch (l) {
    case AVL_TS_MILLIS: case AVL_LTS_MILLIS: return 1000;
    case AVL_TS_MICROS: case AVL_LTS_MICROS: return 1000000;
    case AVL_TS_NANOS: case AVL_LTS_NANOS: return 1000000000;
    default: return 0;
    }
}

static int encode_integer(enc *x, const av_node *w) {
    const char *s;
    size_t n;
    int quoted;
    int64_t per = units_per_second(w->logical);
    if (scalar_text(x, &s, &n, &quoted, w->logical == AVL_DATE ? "a date" : per ? "a timestamp" : "an integer"))
        return -1;
    int64_t v;
    if (parse_integer(s, n, &v) == 0) {
        /* a number: the logical type's own unit, as Avro stores it */
    } else if (quoted && w->logical == AVL_DATE) {
        const char *why;
        if (tp_parse_date(s, n, &v, &why)) return fail(x, "'%.*s' is not a date: %s", (int)(n > 40 ? 40 : n), s, why);
    } else if (quoted && per) {
        int64_t sec;
        uint32_t nanos;
        int has_zone;
        const char *why;
        if (tp_parse(s, n, &sec, &nanos, &has_zone, &why))
            return fail(x, "'%.*s' is not a timestamp: %s", (int)(n > 40 ? 40 : n), s, why);
        int64_t step = 1000000000 / per;
        if (nanos % step)
            return fail(x, "'%.*s' is finer than the schema's unit (%s)", (int)(n > 40 ? 40 : n), s,
                        per == 1000 ? "milliseconds" : "microseconds");
        if (__builtin_mul_overflow(sec, per, &v) || __builtin_add_overflow(v, (int64_t)(nanos / step), &v))
            return fail(x, "'%.*s' is out of range for a long", (int)(n > 40 ? 40 : n), s);
    } else {
        return fail(x, "'%.*s' is not an integer", (int)(n > 40 ? 40 : n), s);
    }
    if (w->type == AV_INT && (v < INT32_MIN || v > INT32_MAX))
        return fail(x, "%" PRId64 " is out of range for an Avro int", v);
    put_long(x->out, v);
    return 0;
}

static int encode_float(enc *x, const av_node *w) {
    const char *s;
    size_t n;
    int quoted;
    if (scalar_text(x, &s, &n, &quoted, "a number")) return -1;
    char text[400];
    if (n == 0 || n >= sizeof text) return fail(x, "a number of %zu characters", n);
    memcpy(text, s, n);
    text[n] = '\0';
    double d;
    if (quoted && (!strcmp(text, "nan") || !strcmp(text, "-nan"))) d = NAN;
    else if (quoted && (!strcmp(text, "inf") || !strcmp(text, "+inf"))) d = INFINITY;
    else if (quoted && !strcmp(text, "-inf")) d = -INFINITY;
    else {
        char *end;
        errno = 0;
        d = strtod(text, &end);
        /* strtod also reads "nan", hex and leading blanks: only a plain
         * decimal number is taken, as JSON spells them. */
        int plain = (text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) && !strpbrk(text, "xXnNiI ");
        if (*end || !plain) return fail(x, "'%.40s' is not a number", text);
        if (errno == ERANGE && isinf(d)) return fail(x, "%.40s is out of range for a double", text);
    }
    if (w->type == AV_FLOAT) {
        float f = (float)d;
        if (isinf(f) && !isinf(d)) return fail(x, "%.40s is out of range for an Avro float", text);
        uint32_t u;
        memcpy(&u, &f, 4);
        buf_le(x->out, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &d, 8);
        buf_le(x->out, u, 8);
    }
    return 0;
}

/* A decimal's text as the big-endian two's complement of its unscaled
 * value, in as few bytes as keep the sign (size 0), or in exactly size
 * bytes.  Exact: no floating point. */
static int encode_decimal(enc *x, const av_node *w, size_t size) {
    const char *s;
    size_t n;
    int quoted;
    if (scalar_text(x, &s, &n, &quoted, "a decimal number")) return -1;
    int sh = (int)(n > 40 ? 40 : n);
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i] == '-', i++;
    char digits[160];
    size_t nd = 0, ifrac = 0;
    int seen_dot = 0, any = 0;
    for (; i < n; i++) {
        char ch = s[i];
        if (ch == '.' && !seen_dot) {
            seen_dot = 1;
            continue;
        }
        if (ch < '0' || ch > '9')
            return fail(x, "'%.*s' is not a decimal number (no exponents)", sh, s);
        any = 1;
        if (seen_dot) {
            if (++ifrac > w->scale) {
                if (ch != '0') return fail(x, "%.*s has more than %u digits after the point", sh, s, w->scale);
                continue;
            }
        } else if (nd == 0 && ch == '0') {
            continue; /* leading zeros */
        }
        if (nd == sizeof digits - 1) return fail(x, "%.*s has too many digits", sh, s);
        digits[nd++] = ch;
    }
    if (!any) return fail(x, "'%.*s' is not a decimal number", sh, s);
    for (size_t f = ifrac; f < w->scale; f++) {
        if (nd == sizeof digits - 1) return fail(x, "%.*s has too many digits", sh, s);
        digits[nd++] = '0';
    }
    size_t first = 0;
    while (first < nd && digits[first] == '0') first++;
    if (nd - first > w->precision)
        return fail(x, "%.*s does not fit decimal(%u, %u)", sh, s, w->precision, w->scale);
    uint8_t mag[72] = {0};
    for (size_t k = first; k < nd; k++) {
        unsigned carry = (unsigned)(digits[k] - '0');
        for (size_t b = sizeof mag; b-- > 0;) {
            unsigned v = mag[b] * 10u + carry;
            mag[b] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    if (neg) {
        unsigned carry = 1;
        for (size_t b = sizeof mag; b-- > 0;) {
            unsigned v = (uint8_t)~mag[b] + carry;
            mag[b] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    size_t start = 0;
    while (start + 1 < sizeof mag && ((mag[start] == 0 && !(mag[start + 1] & 0x80)) ||
                                      (mag[start] == 0xff && (mag[start + 1] & 0x80))))
        start++;
    size_t len = sizeof mag - start;
    if (!size) {
        /* Any width is valid for bytes; ClickHouse's AvroConfluent output
         * writes that of the Decimal type of this precision, and so does
         * this, so both send the same bytes for the same row. */
        size = w->precision <= 9 ? 4 : w->precision <= 18 ? 8 : w->precision <= 38 ? 16 : 32;
        if (len > size) size = len;
        put_long(x->out, (int64_t)size);
    } else if (len > size) {
        return fail(x, "%.*s does not fit fixed(%zu)", sh, s, size);
    }
    uint8_t pad = (mag[start] & 0x80) ? 0xff : 0;
    for (size_t k = len; k < size; k++) buf_u8(x->out, pad);
    buf_put(x->out, mag + start, len);
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int encode_uuid16(enc *x, const char *s, size_t n) {
    uint8_t out[16];
    size_t k = 0;
    int dashed = n == 36;
    if (n != 36 && n != 32) return fail(x, "'%.*s' is not a UUID", (int)(n > 40 ? 40 : n), s);
    for (size_t i = 0; i < n;) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-') return fail(x, "'%.*s' is not a UUID", (int)n, s);
            i++;
            continue;
        }
        int hi = hexval(s[i]), lo = i + 1 < n ? hexval(s[i + 1]) : -1;
        if (hi < 0 || lo < 0 || k == 16) return fail(x, "'%.*s' is not a UUID", (int)n, s);
        out[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    buf_put(x->out, out, 16);
    return 0;
}

static int encode(enc *x, const av_node *w, int depth);

static int expect_string(enc *x, const char **s, size_t *n, const char *want) {
    kb_json_kind k = kb_json_peek(&x->c);
    if (k == KB_JSON_STRING) return kb_json_string(&x->c, &x->e->scratch, s, n) ? json_fail(x) : 0;
    if (k == KB_JSON_INVALID) return json_fail(x);
    static const char *const kinds[] = {"an object", "an array", "a string", "a number", "true", "false", "null"};
    return fail(x, "expected %s, got %s", want, kinds[k]);
}

/* Counts the elements of the array or object at the cursor without
 * consuming it: Avro writes a block's count before its items. */
static int count_items(enc *x, char opener, char closer, uint64_t *count) {
    kb_json_cursor c = x->c;
    *count = 0;
    if (kb_json_expect(&c, opener, "")) return -1;
    if (!kb_json_first(&c, closer)) return 0;
    for (;;) {
        if (closer == '}') {
            if (kb_json_skip(&c) || kb_json_expect(&c, ':', "expected ':'")) goto bad;
        }
        if (kb_json_skip(&c)) goto bad;
        ++*count;
        int more = kb_json_next(&c, closer);
        if (more < 0) goto bad;
        if (!more) return 0;
    }
bad:
    x->c = c;
    return json_fail(x);
}

static int encode_array(enc *x, const av_node *w, int depth) {
    uint64_t count;
    if (count_items(x, '[', ']', &count)) return -1;
    kb_json_expect(&x->c, '[', "");
    if (count) {
        put_long(x->out, (int64_t)count);
        kb_json_first(&x->c, ']');
        for (uint64_t i = 0; i < count; i++) {
            size_t mark = x->e->path.len;
            path_push(x, NULL, 0, i > INT32_MAX ? INT32_MAX : (int)i);
            if (encode(x, w->kids[0], depth + 1)) return -1;
            x->e->path.len = mark;
            if (kb_json_next(&x->c, ']') < 0) return json_fail(x);
        }
    } else {
        kb_json_first(&x->c, ']');
    }
    put_long(x->out, 0);
    return 0;
}

static int encode_map(enc *x, const av_node *w, int depth) {
    uint64_t count;
    if (count_items(x, '{', '}', &count)) return -1;
    kb_json_expect(&x->c, '{', "");
    if (count) {
        put_long(x->out, (int64_t)count);
        kb_json_first(&x->c, '}');
        for (uint64_t i = 0; i < count; i++) {
            const char *k;
            size_t kn;
            if (kb_json_string(&x->c, &x->e->scratch, &k, &kn)) return json_fail(x);
            put_bytes(x->out, k, kn);
            size_t mark = x->e->path.len;
            path_push(x, k, kn, -1);
            if (kb_json_expect(&x->c, ':', "expected ':'")) return json_fail(x);
            if (encode(x, w->kids[0], depth + 1)) return -1;
            x->e->path.len = mark;
            if (kb_json_next(&x->c, '}') < 0) return json_fail(x);
        }
    } else {
        kb_json_first(&x->c, '}');
    }
    put_long(x->out, 0);
    return 0;
}

static int null_branch(const av_node *w) {
    if (w->type != AV_UNION) return -1;
    for (size_t i = 0; i < w->n; i++)
        if (w->kids[i]->type == AV_NULL) return (int)i;
    return -1;
}

static int encode_record(enc *x, const av_node *w, int depth) {
    kb_avroenc *e = x->e;
    if (kb_json_peek(&x->c) != KB_JSON_OBJECT) return fail(x, "expected an object (a record)");
    kb_json_expect(&x->c, '{', "");
    size_t base = e->nslots;
    if (base + w->n > e->cap_slots) {
        size_t cap = (base + w->n) * 2 + 16;
        const char **grown = realloc(e->slots, cap * sizeof *grown);
        if (!grown) abort();
        e->slots = grown;
        e->cap_slots = cap;
    }
    for (size_t i = 0; i < w->n; i++) e->slots[base + i] = NULL;
    e->nslots += w->n;
    int rc = -1;
    if (kb_json_first(&x->c, '}')) {
        for (;;) {
            const char *k;
            size_t kn;
            if (kb_json_peek(&x->c) != KB_JSON_STRING || kb_json_string(&x->c, &e->scratch, &k, &kn)) {
                if (!x->c.why) x->c.why = "expected a key string";
                json_fail(x);
                goto out;
            }
            size_t f = 0;
            while (f < w->n && !(strlen(w->names[f]) == kn && !memcmp(w->names[f], k, kn))) f++;
            if (f == w->n) {
                path_push(x, k, kn, -1);
                fail(x, "no such field in %s", w->name ? w->name : "the record");
                goto out;
            }
            if (e->slots[base + f]) {
                path_push(x, k, kn, -1);
                fail(x, "given twice");
                goto out;
            }
            if (kb_json_expect(&x->c, ':', "expected ':'")) {
                json_fail(x);
                goto out;
            }
            kb_json_skip_ws(&x->c);
            e->slots[base + f] = x->c.p;
            if (kb_json_skip(&x->c)) {
                json_fail(x);
                goto out;
            }
            int more = kb_json_next(&x->c, '}');
            if (more < 0) {
                json_fail(x);
                goto out;
            }
            if (!more) break;
        }
    }
    const char *end = x->c.p;
    for (size_t f = 0; f < w->n; f++) {
        size_t mark = e->path.len;
        path_push(x, w->names[f], strlen(w->names[f]), -1);
        const char *at = e->slots[base + f];
        if (!at) {
            int nb = null_branch(w->kids[f]);
            if (nb < 0) {
                fail(x, "missing (its type %s has no null)", av_type_name(w->kids[f]));
                goto out;
            }
            put_long(x->out, nb);
        } else {
            x->c.p = at;
            if (encode(x, w->kids[f], depth + 1)) goto out;
        }
        e->path.len = mark;
    }
    x->c.p = end;
    rc = 0;
out:
    e->nslots = base;
    return rc;
}

static int encode_union(enc *x, const av_node *w, int depth) {
    int nb = null_branch(w);
    if (kb_json_peek(&x->c) == KB_JSON_NULL) {
        if (nb < 0) return fail(x, "null, but the union has no null branch");
        kb_json_literal(&x->c, KB_JSON_NULL);
        put_long(x->out, nb);
        return 0;
    }
    size_t mark = x->out->len, pmark = x->e->path.len, tried = 0;
    kb_json_cursor at = x->c;
    for (size_t i = 0; i < w->n; i++) {
        if ((int)i == nb) continue;
        tried++;
        put_long(x->out, (int64_t)i);
        if (!encode(x, w->kids[i], depth + 1)) return 0;
        x->out->len = mark;
        x->e->path.len = pmark;
        x->c = at;
    }
    if (!tried) return fail(x, "expected null (the union's only branch)");
    if (tried > 1) {
        char last[300];
        snprintf(last, sizeof last, "%s", x->err);
        return fail(x, "fits no branch of the union (the last said: %s)", last);
    }
    return -1; /* the one branch's own message stands */
}

static int encode(enc *x, const av_node *w, int depth) {
    if (depth > MAX_DEPTH) return fail(x, "nested deeper than %d", MAX_DEPTH);
    kb_json_skip_ws(&x->c);
    const char *s;
    size_t n;
    switch (w->type) {
    case AV_NULL:
        if (kb_json_peek(&x->c) != KB_JSON_NULL) return fail(x, "expected null");
        kb_json_literal(&x->c, KB_JSON_NULL);
        return 0;
    case AV_BOOLEAN: {
        kb_json_kind k = kb_json_peek(&x->c);
        if (k != KB_JSON_TRUE && k != KB_JSON_FALSE) return fail(x, "expected true or false");
        kb_json_literal(&x->c, k);
        buf_u8(x->out, k == KB_JSON_TRUE);
        return 0;
    }
    case AV_INT:
    case AV_LONG:
        return encode_integer(x, w);
    case AV_FLOAT:
    case AV_DOUBLE:
        return encode_float(x, w);
    case AV_BYTES:
    case AV_STRING:
        if (w->logical == AVL_DECIMAL) return encode_decimal(x, w, 0);
        if (expect_string(x, &s, &n, "a string")) return -1;
        put_bytes(x->out, s, n);
        return 0;
    case AV_FIXED:
        if (w->logical == AVL_DECIMAL) return encode_decimal(x, w, w->size);
        if (expect_string(x, &s, &n, "a string")) return -1;
        if (w->logical == AVL_UUID && w->size == 16) return encode_uuid16(x, s, n);
        if (n != w->size) return fail(x, "%zu bytes for fixed(%zu)", n, w->size);
        buf_put(x->out, s, n);
        return 0;
    case AV_ENUM:
        if (expect_string(x, &s, &n, "an enum symbol")) return -1;
        for (size_t i = 0; i < w->n; i++)
            if (strlen(w->names[i]) == n && !memcmp(w->names[i], s, n)) {
                put_long(x->out, (int64_t)i);
                return 0;
            }
        return fail(x, "'%.*s' is not a symbol of enum %s", (int)(n > 40 ? 40 : n), s, w->name ? w->name : "");
    case AV_ARRAY:
        if (kb_json_peek(&x->c) != KB_JSON_ARRAY) return fail(x, "expected an array");
        return encode_array(x, w, depth);
    case AV_MAP:
        if (kb_json_peek(&x->c) != KB_JSON_OBJECT) return fail(x, "expected an object (a map)");
        return encode_map(x, w, depth);
    case AV_RECORD:
        return encode_record(x, w, depth);
    case AV_UNION:
        return encode_union(x, w, depth);
    }
    return fail(x, "unsupported Avro type");
}

int kb_avroenc_datum(kb_avroenc *e, const av_node *schema, const char *json, size_t n, buf *out, char *err,
                     size_t errlen) {
    enc x = {e, {json, json, json + n, NULL}, out, err, errlen};
    size_t start = out->len;
    e->path.len = 0;
    e->nslots = 0;
    int rc = encode(&x, schema, 0);
    if (!rc) {
        kb_json_skip_ws(&x.c);
        if (x.c.p != x.c.end) {
            e->path.len = 0;
            rc = fail(&x, "bytes after the JSON value at byte %ld", (long)(x.c.p - json));
        }
    }
    if (rc) out->len = start;
    return rc;
}
