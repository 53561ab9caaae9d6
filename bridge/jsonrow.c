#include "jsonrow.h"

#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "timeparse.h"

void jsonrow_init(jsonrow *d, const rowplan *plan) {
    memset(d, 0, sizeof *d);
    d->plan = plan;
    size_t n = plan->ncols ? plan->ncols : 1;
    d->slots = calloc(n, sizeof *d->slots);
    d->seen = calloc(n, sizeof *d->seen);
    if (!d->slots || !d->seen) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    buf_init(&d->fields, 4096);
    buf_init(&d->key_text, 256);
    buf_init(&d->value_text, 4096);
    buf_init(&d->number_text, 64);
}

void jsonrow_free(jsonrow *d) {
    free(d->slots);
    free(d->seen);
    buf_free(&d->fields);
    buf_free(&d->key_text);
    buf_free(&d->value_text);
    buf_free(&d->number_text);
}

static const char *kind_name(json_kind k) {
    switch (k) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_NUMBER: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    case JSON_INVALID: break;
    }
    return "invalid JSON";
}

/* Quotes at most a few dozen bytes of a value for an error message,
 * escaping anything unprintable so the message stays one line. */
static void describe(const char *s, size_t n, char *out, size_t outlen) {
    size_t o = 0, i = 0;
    const size_t limit = 40;
    for (; i < n && i < limit && o + 5 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') out[o++] = (char)ch;
        else o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
    }
    if (i < n && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

__attribute__((format(printf, 2, 3)))
static int fail(row_error *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_value(row_error *e, const char *expected, const char *s, size_t n) {
    char shown[200];
    describe(s, n, shown, sizeof shown);
    return fail(e, "expected %s, got \"%s\"", expected, shown);
}

static int fail_json(row_error *e, const json_cursor *c) {
    return fail(e, "malformed JSON: %s", c->why);
}

/* The text of a scalar used as a number or a time: a JSON number's token,
 * or the contents of a string.  Returns the JSON kind it came from. */
static int scalar_text(jsonrow *d, json_cursor *c, json_kind kind, const char **s, size_t *n,
                       row_error *e) {
    if (kind == JSON_NUMBER) {
        if (json_number(c, s, n)) return fail_json(e, c);
        return 0;
    }
    if (json_string(c, &d->value_text, s, n)) return fail_json(e, c);
    return 0;
}

static int parse_integer(const char *s, size_t n, int *negative, uint64_t *magnitude,
                         const chtype *t, row_error *e) {
    size_t i = 0;
    *negative = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) *negative = s[i++] == '-';
    if (i == n) return fail_value(e, "an integer", s, n);
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return fail_value(e, "an integer", s, n);
        unsigned digit = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            buf name;
            buf_init(&name, 16);
            chtype_format(t, &name);
            char shown[200];
            describe(s, n, shown, sizeof shown);
            fail(e, "value %s is out of range for %.*s", shown, (int)name.len,
                 (const char *)name.data);
            buf_free(&name);
            return -1;
        }
        v = v * 10 + digit;
    }
    *magnitude = v;
    return 0;
}

static int put_integer(jsonrow *d, const chtype *t, json_cursor *c, json_kind kind, buf *dst,
                       row_error *e) {
    const char *s;
    size_t n;
    int negative = 0;
    uint64_t magnitude;
    if (kind == JSON_TRUE || kind == JSON_FALSE) {
        if (json_literal(c, kind)) return fail_json(e, c);
        return rowplan_put_int(t, 0, kind == JSON_TRUE, dst, e);
    }
    if (kind != JSON_NUMBER && kind != JSON_STRING)
        return fail(e, "expected an integer, got %s", kind_name(kind));
    if (scalar_text(d, c, kind, &s, &n, e)) return -1;
    if (parse_integer(s, n, &negative, &magnitude, t, e)) return -1;
    return rowplan_put_int(t, negative, magnitude, dst, e);
}

/* A float's text must be a JSON number, or nan/inf spelled the ways
 * ClickHouse accepts; strtod alone would also take hex floats and spaces. */
static int float_text_ok(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    if (i == n || s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') return 0;
    if (n - i == 3 && strncasecmp(s + i, "nan", 3) == 0) return 1;
    if (n - i == 3 && strncasecmp(s + i, "inf", 3) == 0) return 1;
    if (n - i == 8 && strncasecmp(s + i, "infinity", 8) == 0) return 1;
    json_cursor c = {s, s + i, s + n, NULL};
    const char *t;
    size_t tn;
    return json_number(&c, &t, &tn) == 0 && c.p == c.end && s[i] != '-';
}

/* Decimal text to binary floating point, exactly as strtod/strtof would
 * round it, without their multi-precision machinery for the common case.
 * When the digits form an integer m that the type holds exactly and the
 * power of ten is exact too, m * 10^e (or m / 10^-e) is one IEEE
 * operation and therefore correctly rounded (Clinger's fast path).  Other
 * inputs return 0 and go to libc. */
static int fast_decimal(const char *s, size_t n, int single, double *out) {
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    int negative = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
    uint64_t m = 0;
    int digits = 0, exp10 = 0, any = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, any = 1) {
        if (m == 0 && s[i] == '0') continue; /* leading zeros are not significant */
        if (++digits > 19) return 0;
        m = m * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, any = 1) {
            if (m == 0 && s[i] == '0') {
                exp10--;
                continue;
            }
            if (++digits > 19) return 0;
            m = m * 10 + (uint64_t)(s[i] - '0');
            exp10--;
        }
    }
    if (!any) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0, e = 0;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
        if (i == n) return 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (e > 1000) return 0;
            e = e * 10 + (s[i] - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (i != n) return 0;
    if (single) {
        if (m > (1u << 24) || exp10 < -10 || exp10 > 10) return 0;
        float f = (float)m;
        f = exp10 < 0 ? f / (float)pow10[-exp10] : f * (float)pow10[exp10];
        *out = negative ? -f : f;
    } else {
        if (m > ((uint64_t)1 << 53) || exp10 < -22 || exp10 > 22) return 0;
        double f = (double)m;
        f = exp10 < 0 ? f / pow10[-exp10] : f * pow10[exp10];
        *out = negative ? -f : f;
    }
    return 1;
}

static int put_float(jsonrow *d, const chtype *t, json_cursor *c, json_kind kind, buf *dst,
                     row_error *e) {
    const char *s;
    size_t n;
    double value;
    if (kind != JSON_NUMBER && kind != JSON_STRING)
        return fail(e, "expected a number, got %s", kind_name(kind));
    if (scalar_text(d, c, kind, &s, &n, e)) return -1;
    int single = t->kind == CT_FLOAT32;
    if (kind == JSON_STRING && !float_text_ok(s, n)) return fail_value(e, "a number", s, n);
    if (!fast_decimal(s, n, single, &value)) {
        d->number_text.len = 0;
        buf_put(&d->number_text, s, n);
        buf_u8(&d->number_text, 0);
        const char *text = (const char *)d->number_text.data;
        /* Overflow gives ±inf, as ClickHouse's own parser does; that is the
         * IEEE value of such a number, not a silent substitute. */
        value = single ? strtof(text, NULL) : strtod(text, NULL);
    }
    if (single) {
        float f = (float)value; /* exact: value is already a float */
        uint32_t bits;
        memcpy(&bits, &f, 4);
        buf_le(dst, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &value, 8);
        buf_le(dst, bits, 8);
    }
    return 0;
}

/* Like ClickHouse's JSON input: true/false, or the numbers 0 and 1; a
 * quoted "true" is refused there too. */
static int put_bool(json_cursor *c, json_kind kind, buf *dst, row_error *e) {
    const char *s;
    size_t n;
    switch (kind) {
    case JSON_TRUE:
    case JSON_FALSE:
        if (json_literal(c, kind)) return fail_json(e, c);
        buf_u8(dst, kind == JSON_TRUE);
        return 0;
    case JSON_NUMBER:
        if (json_number(c, &s, &n)) return fail_json(e, c);
        if (n == 1 && (s[0] == '0' || s[0] == '1')) {
            buf_u8(dst, s[0] == '1');
            return 0;
        }
        return fail_value(e, "true, false, 0 or 1", s, n);
    default:
        return fail(e, "expected true, false, 0 or 1, got %s", kind_name(kind));
    }
}

static int put_string(jsonrow *d, json_cursor *c, json_kind kind, buf *dst, row_error *e) {
    const char *s;
    size_t n;
    switch (kind) {
    case JSON_STRING:
        if (json_string(c, &d->value_text, &s, &n)) return fail_json(e, c);
        break;
    case JSON_NUMBER:
        if (json_number(c, &s, &n)) return fail_json(e, c);
        break;
    default: /* objects, arrays, true, false: their JSON text */
        s = c->p;
        if (json_skip(c)) return fail_json(e, c);
        n = (size_t)(c->p - s);
        break;
    }
    buf_rb_string(dst, s, n);
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* "1700000000" or "-12.5": a number of seconds (or days) in a string. */
static int is_plain_decimal(const char *s, size_t n) {
    size_t i = s && n && s[0] == '-' ? 1 : 0, digits = 0, dots = 0;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') digits++;
        else if (s[i] == '.' && dots++ == 0) continue;
        else return 0;
    }
    return digits > 0;
}

static int put_time(jsonrow *d, const chtype *t, json_cursor *c, json_kind kind, buf *dst,
                    row_error *e) {
    const char *s, *why;
    size_t n;
    int64_t seconds;
    uint32_t nanos;
    if (kind != JSON_NUMBER && kind != JSON_STRING)
        return fail(e, "expected a date or time, got %s", kind_name(kind));
    if (scalar_text(d, c, kind, &s, &n, e)) return -1;
    int numeric = kind == JSON_NUMBER || is_plain_decimal(s, n);
    if (t->kind == CT_DATE && numeric) {
        int negative;
        uint64_t days;
        if (parse_integer(s, n, &negative, &days, t, e)) return -1;
        if (negative && days) return fail_value(e, "a date in 1970-01-01..2149-06-06", s, n);
        if (days > 65535) return fail_value(e, "a date in 1970-01-01..2149-06-06", s, n);
        buf_le(dst, days, 2);
        return 0;
    }
    if (numeric ? tp_parse_unix(s, n, &seconds, &nanos, &why) : tp_parse(s, n, &seconds, &nanos, &why)) {
        char shown[200];
        describe(s, n, shown, sizeof shown);
        return fail(e, "cannot read \"%s\" as a date/time: %s", shown, why);
    }
    switch (t->kind) {
    case CT_DATE: {
        int64_t days = floor_div(seconds, 86400);
        if (days < 0 || days > 65535) return fail_value(e, "a date in 1970-01-01..2149-06-06", s, n);
        buf_le(dst, (uint64_t)days, 2);
        return 0;
    }
    case CT_DATETIME: /* a fraction is dropped, as for DateTime64's extra digits */
        if (seconds < 0 || seconds > (int64_t)UINT32_MAX)
            return fail_value(e, "a time in 1970-01-01 00:00:00..2106-02-07 06:28:15", s, n);
        buf_le(dst, (uint64_t)seconds, 4);
        return 0;
    default: { /* DateTime64 */
        static const int64_t pow10[10] = {1,      10,      100,      1000,      10000,
                                          100000, 1000000, 10000000, 100000000, 1000000000};
        /* ClickHouse's DateTime64 range: 1900-01-01 to 2299-12-31. */
        if (seconds < -2208988800LL || seconds > 10413791999LL)
            return fail_value(e, "a time in 1900-01-01..2299-12-31", s, n);
        int64_t ticks = seconds * pow10[t->precision] + nanos / pow10[9 - t->precision];
        buf_le(dst, (uint64_t)ticks, 8);
        return 0;
    }
    }
}

/* Encodes the JSON value at the cursor as a value of type t. */
static int put_value(jsonrow *d, const chtype *t, json_cursor *c, buf *dst, row_error *e) {
    json_kind kind = json_peek(c);
    if (kind == JSON_INVALID)
        return fail(e, "malformed JSON: %s",
                    c->p >= c->end ? "unexpected end of message" : "expected a value");
    if (t->kind == CT_LOWCARDINALITY) t = t->inner;
    if (kind == JSON_NULL) {
        if (json_literal(c, JSON_NULL)) return fail_json(e, c);
        rowplan_put_default(t, dst);
        return 0;
    }
    if (t->kind == CT_NULLABLE) {
        buf_u8(dst, 0);
        t = t->inner;
    }
    switch (t->kind) {
    case CT_INT8: case CT_INT16: case CT_INT32: case CT_INT64:
    case CT_UINT8: case CT_UINT16: case CT_UINT32: case CT_UINT64:
        return put_integer(d, t, c, kind, dst, e);
    case CT_FLOAT32:
    case CT_FLOAT64:
        return put_float(d, t, c, kind, dst, e);
    case CT_BOOL:
        return put_bool(c, kind, dst, e);
    case CT_STRING:
        return put_string(d, c, kind, dst, e);
    case CT_DATE:
    case CT_DATETIME:
    case CT_DATETIME64:
        return put_time(d, t, c, kind, dst, e);
    case CT_NULLABLE:
    case CT_LOWCARDINALITY:
        break; /* unwrapped above; the type parser forbids deeper nesting */
    }
    return fail(e, "internal error: unhandled type");
}

/* Writes the metadata columns that stand next in column order, so that
 * the next message field in order can go straight to the output. */
static int emit_metadata(const rowplan *plan, const kb_msg *m, buf *out, size_t *emitted,
                         row_error *e) {
    while (*emitted < plan->ncols && plan->cols[*emitted].meta != META_NONE) {
        if (rowplan_put_meta(&plan->cols[*emitted], m, out, e)) return -1;
        (*emitted)++;
    }
    return 0;
}

/* The column a key names.  Producers usually keep one field order, so the
 * column after the last one matched is tried first, comparing the raw key
 * bytes in place; only other keys are unescaped and looked up. */
static int match_key(jsonrow *d, json_cursor *c, size_t guess, row_error *e, const char **key_at) {
    const rowplan *plan = d->plan;
    json_skip_ws(c);
    *key_at = c->p;
    if (guess < plan->ncols) {
        const plan_column *g = &plan->cols[guess];
        size_t len = g->name_len;
        if (g->plain_name && (size_t)(c->end - c->p) > len + 1 && c->p[0] == '"' &&
            c->p[len + 1] == '"' && memcmp(c->p + 1, g->name, len) == 0) {
            c->p += len + 2;
            return (int)guess;
        }
    }
    const char *name;
    size_t len;
    if (json_string(c, &d->key_text, &name, &len)) {
        fail(e, "malformed JSON: %s", c->why);
        return -2;
    }
    return rowplan_find(plan, name, len);
}

int jsonrow_decode(jsonrow *d, const kb_msg *m, buf *out, row_error *e) {
    const rowplan *plan = d->plan;
    const char *value = m->value;
    json_cursor c = {value, value, value + m->value_len, NULL};
    e->column = NULL;
    e->byte = -1;
    e->reason[0] = '\0';
    if (!m->value) return fail(e, "message has no value (a tombstone); expected a JSON object");

    if (++d->generation == 0) { /* wrapped: forget every old mark */
        memset(d->seen, 0, plan->ncols * sizeof *d->seen);
        d->generation = 1;
    }
    d->fields.len = 0;
    /* Columns [0, emitted) are already in `out`; fields that arrive in
     * column order go there directly, others wait in `fields`. */
    const size_t row_start = out->len;
    size_t emitted = 0, guess = 0;
    const char *key_at;

    if (emit_metadata(plan, m, out, &emitted, e)) goto failed;
    if (json_expect(&c, '{', "expected a JSON object")) goto malformed;
    json_skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            while (guess < plan->ncols && plan->cols[guess].meta != META_NONE) guess++;
            int col = match_key(d, &c, guess, e, &key_at);
            if (col == -2) {
                e->byte = (long)(c.p - value);
                goto failed;
            }
            if (json_expect(&c, ':', "expected ':' after a key")) goto malformed;
            if (col < 0) {
                if (json_skip(&c)) goto malformed;
            } else {
                const plan_column *pc = &plan->cols[col];
                if (d->seen[col] == d->generation) {
                    e->column = pc->name;
                    e->byte = (long)(key_at - value);
                    fail(e, "field given twice");
                    goto failed;
                }
                d->seen[col] = d->generation;
                json_skip_ws(&c); /* so that an error points at the value itself */
                const char *at = c.p;
                int direct = (size_t)col == emitted;
                buf *dst = direct ? out : &d->fields;
                if (!direct) d->slots[col].off = d->fields.len;
                if (put_value(d, pc->type, &c, dst, e)) {
                    e->column = pc->name;
                    e->byte = (long)((c.why ? c.p : at) - value);
                    goto failed;
                }
                if (direct) {
                    emitted++;
                    if (emit_metadata(plan, m, out, &emitted, e)) goto failed;
                } else {
                    d->slots[col].len = d->fields.len - d->slots[col].off;
                }
                guess = (size_t)col + 1;
            }
            json_skip_ws(&c);
            if (c.p < c.end && *c.p == ',') {
                c.p++;
                continue;
            }
            if (json_expect(&c, '}', "expected ',' or '}' after a field")) goto malformed;
            break;
        }
    }
    json_skip_ws(&c);
    if (c.p != c.end) {
        c.why = "unexpected data after the JSON object";
        goto malformed;
    }

    /* The object is complete: the columns not written yet follow. */
    for (size_t i = emitted; i < plan->ncols; i++) {
        const plan_column *pc = &plan->cols[i];
        if (pc->meta != META_NONE) {
            if (rowplan_put_meta(pc, m, out, e)) goto failed;
        } else if (d->seen[i] == d->generation) {
            buf_put(out, d->fields.data + d->slots[i].off, d->slots[i].len);
        } else {
            rowplan_put_default(pc->type, out);
        }
    }
    return 0;

malformed:
    e->byte = (long)(c.p - value);
    fail(e, "malformed JSON: %s", c.why);
failed:
    out->len = row_start; /* nothing of a failed row stays */
    return -1;
}
