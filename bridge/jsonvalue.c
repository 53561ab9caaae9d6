#include "jsonvalue.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbwriter.h"
#include "textvalue.h"
#include "timeparse.h"
#include "wideint.h"

/* ---- set-up ----------------------------------------------------------- */

/* Span slots (two per element) that the named Tuples of t can hold at
 * once: a Tuple's own, plus the most any one of its elements needs, since
 * elements are decoded one after another. */
static size_t spans_needed(const chtype *t) {
    size_t inner = 0;
    if (t->inner) inner = spans_needed(t->inner);
    for (size_t i = 0; i < t->nelems; i++) {
        size_t n = spans_needed(t->elems[i]);
        if (n > inner) inner = n;
    }
    return inner + ((t->kind == CT_TUPLE || t->kind == CT_NESTED) && t->names ? 2 * t->nelems : 0);
}

void jsonvalue_init(jsonvalue *v, const chtype *const *types, size_t ntypes) {
    memset(v, 0, sizeof *v);
    buf_init(&v->text, 4096);
    buf_init(&v->number, 64);
    buf_init(&v->reorder, 256);
    for (size_t i = 0; i < ntypes; i++) {
        size_t n = spans_needed(types[i]);
        if (n > v->cap_spans) v->cap_spans = n;
    }
    v->spans = calloc(v->cap_spans ? v->cap_spans : 1, sizeof *v->spans);
    if (!v->spans) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
}

void jsonvalue_free(jsonvalue *v) {
    buf_free(&v->text);
    buf_free(&v->number);
    buf_free(&v->reorder);
    free(v->spans);
}

/* ---- messages ----------------------------------------------------------- */

static const char *kind_name(kb_json_kind k) {
    switch (k) {
    case KB_JSON_OBJECT: return "an object";
    case KB_JSON_ARRAY: return "an array";
    case KB_JSON_STRING: return "a string";
    case KB_JSON_NUMBER: return "a number";
    case KB_JSON_TRUE:
    case KB_JSON_FALSE: return "a boolean";
    case KB_JSON_NULL: return "null";
    case KB_JSON_INVALID: break;
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

static int fail_value(row_error *e, const char *expected, const char *s, size_t n) {
    char shown[200];
    describe(s, n, shown, sizeof shown);
    return kb_row_fail(e, "expected %s, got \"%s\"", expected, shown);
}

static int fail_kind(row_error *e, const char *expected, kb_json_kind kind) {
    return kb_row_fail(e, "expected %s, got %s", expected, kind_name(kind));
}

static int fail_json(row_error *e, const kb_json_cursor *c) {
    return kb_row_fail(e, "malformed JSON: %s", c->why);
}

/* "value S is out of range for TYPE" / "... does not fit TYPE". */
static int fail_type(row_error *e, const char *what, const char *s, size_t n, const chtype *t) {
    char shown[200], type[120];
    buf name;
    buf_init(&name, 32);
    chtype_format(t, &name);
    describe(s, n, shown, sizeof shown);
    snprintf(type, sizeof type, "%.*s", (int)name.len, (const char *)name.data);
    buf_free(&name);
    return kb_row_fail(e, "value %s %s %s", shown, what, type);
}

/* A refusal from rbwriter.h, told with the value as the message wrote it. */
static int restate(row_error *e, const char *s, size_t n) {
    char shown[200];
    describe(s, n, shown, sizeof shown);
    rbw_restate(e, shown);
    return -1;
}

/* Reading a scalar: from the cursor, or, for jsonvalue_put_scalar(),
 * the text another format handed over (v->given). */
static int take_string(jsonvalue *v, kb_json_cursor *c, const char **s, size_t *n) {
    if (v->given) {
        *s = v->given;
        *n = v->given_len;
        return 0;
    }
    return kb_json_string(c, &v->text, s, n);
}

static int take_number(jsonvalue *v, kb_json_cursor *c, const char **s, size_t *n) {
    if (v->given) {
        *s = v->given;
        *n = v->given_len;
        return 0;
    }
    return kb_json_number(c, s, n);
}

static int take_literal(jsonvalue *v, kb_json_cursor *c, kb_json_kind kind) {
    return v->given ? 0 : kb_json_literal(c, kind);
}

/* The text of a scalar used as a number, a time or an address: a JSON
 * number's token, or the contents of a string. */
static int scalar_text(jsonvalue *v, kb_json_cursor *c, kb_json_kind kind, const char **s, size_t *n,
                       row_error *e) {
    if (kind == KB_JSON_NUMBER ? take_number(v, c, s, n) : take_string(v, c, s, n))
        return fail_json(e, c);
    return 0;
}

/* ---- numbers -------------------------------------------------------------- */

static int parse_integer(const char *s, size_t n, int *negative, uint64_t *magnitude,
                         const chtype *t, row_error *e) {
    size_t i = 0;
    *negative = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) *negative = s[i++] == '-';
    if (i == n) return fail_value(e, "an integer", s, n);
    uint64_t m = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return fail_value(e, "an integer", s, n);
        unsigned digit = (unsigned)(s[i] - '0');
        if (m > UINT64_MAX / 10 || (m == UINT64_MAX / 10 && digit > UINT64_MAX % 10))
            return fail_type(e, "is out of range for", s, n, t);
        m = m * 10 + digit;
    }
    *magnitude = m;
    return 0;
}

static int is_wide(chtype_kind k) {
    return k == CT_INT128 || k == CT_INT256 || k == CT_UINT128 || k == CT_UINT256;
}

/* Int128 and wider, kept out of line so that the common integers stay
 * small enough to inline. */
__attribute__((noinline))
static int put_wide(const chtype *t, const char *s, size_t n, buf *dst, row_error *e) {
    int negative;
    wideint magnitude;
    const char *why;
    if (tv_integer(s, n, &negative, &magnitude, &why))
        return *why == 'o' ? fail_type(e, "is out of range for", s, n, t) : fail_value(e, "an integer", s, n);
    return rbw_wide(dst, t, negative, &magnitude, e) ? restate(e, s, n) : 0;
}

/* Integers: JSON integers, the same digits quoted, or true/false as 1/0. */
static int put_integer(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                       row_error *e) {
    const char *s;
    size_t n;
    if (kind == KB_JSON_NUMBER && !v->given && !is_wide(t->kind)) {
        /* Read once: a number of up to 19 digits is its own magnitude;
         * others (a fraction, an exponent, 20 digits) take the text's
         * reading, which says what is wrong with them. */
        kb_json_num num;
        if (kb_json_number_read(c, &num)) return fail_json(e, c);
        if (num.integer) return rbw_int(dst, t, num.negative, num.mantissa, e);
        s = num.s;
        n = num.n;
    } else if (kind == KB_JSON_TRUE || kind == KB_JSON_FALSE) {
        if (take_literal(v, c, kind)) return fail_json(e, c);
        s = kind == KB_JSON_TRUE ? "1" : "0";
        n = 1;
    } else if (kind == KB_JSON_NUMBER || kind == KB_JSON_STRING) {
        if (scalar_text(v, c, kind, &s, &n, e)) return -1;
    } else {
        return fail_kind(e, "an integer", kind);
    }
    if (!is_wide(t->kind)) {
        int negative;
        uint64_t magnitude;
        if (parse_integer(s, n, &negative, &magnitude, t, e)) return -1;
        return rbw_int(dst, t, negative, magnitude, e);
    }
    return put_wide(t, s, n, dst, e);
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
    kb_json_cursor c = {s, s + i, s + n, NULL};
    const char *t;
    size_t tn;
    return s[i] != '-' && kb_json_number(&c, &t, &tn) == 0 && c.p == c.end;
}

/* ±m × 10^exp10 to binary floating point, exactly as strtod/strtof would
 * round it, without their multi-precision machinery for the common case.
 * When m is an integer that the type holds exactly and the power of ten
 * is exact too, m * 10^e (or m / 10^-e) is one IEEE operation and
 * therefore correctly rounded (Clinger's fast path).  Other inputs return
 * 0 and go to libc. */
static int exact_decimal(int negative, uint64_t m, int exp10, int single, double *out) {
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
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

/* The same for decimal text (a number's token, or a string's contents
 * that float_text_ok passed): its significant digits, at most 19 of them,
 * and its power of ten, for exact_decimal. */
static int fast_decimal(const char *s, size_t n, int single, double *out) {
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
    return exact_decimal(negative, m, exp10, single, out);
}

/* Float32, Float64 and BFloat16.  BFloat16 is read as Float32 and keeps
 * its upper 16 bits (truncated, not rounded), as ClickHouse converts. */
static int put_float(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                     row_error *e) {
    const char *s;
    size_t n;
    double value;
    int single = t->kind != CT_FLOAT64, done;
    if (kind == KB_JSON_NUMBER && !v->given) {
        /* Read once: a short number's digits come with its token. */
        kb_json_num num;
        if (kb_json_number_read(c, &num)) return fail_json(e, c);
        s = num.s;
        n = num.n;
        done = num.exact ? exact_decimal(num.negative, num.mantissa, num.exp10, single, &value)
                         : fast_decimal(s, n, single, &value);
    } else {
        if (kind != KB_JSON_NUMBER && kind != KB_JSON_STRING) return fail_kind(e, "a number", kind);
        if (scalar_text(v, c, kind, &s, &n, e)) return -1;
        if (kind == KB_JSON_STRING && !float_text_ok(s, n)) return fail_value(e, "a number", s, n);
        done = fast_decimal(s, n, single, &value);
    }
    if (!done) {
        v->number.len = 0;
        buf_put(&v->number, s, n);
        buf_u8(&v->number, 0);
        const char *text = (const char *)v->number.data;
        /* Overflow gives ±inf, as ClickHouse's own parser does; that is the
         * IEEE value of such a number, not a silent substitute. */
        value = single ? strtof(text, NULL) : strtod(text, NULL);
    }
    if (single) rbw_f32(dst, t, (float)value); /* exact: value is already a float */
    else rbw_f64(dst, t, value);
    return 0;
}

/* Like ClickHouse's JSON input: true/false, or the numbers 0 and 1; a
 * quoted "true" is refused there too. */
static int put_bool(jsonvalue *v, kb_json_cursor *c, kb_json_kind kind, buf *dst, row_error *e) {
    const char *s;
    size_t n;
    switch (kind) {
    case KB_JSON_TRUE:
    case KB_JSON_FALSE:
        if (take_literal(v, c, kind)) return fail_json(e, c);
        rbw_bool(dst, kind == KB_JSON_TRUE);
        return 0;
    case KB_JSON_NUMBER:
        if (take_number(v, c, &s, &n)) return fail_json(e, c);
        if (n == 1 && (s[0] == '0' || s[0] == '1')) {
            rbw_bool(dst, s[0] == '1');
            return 0;
        }
        return fail_value(e, "true, false, 0 or 1", s, n);
    default:
        return fail_kind(e, "true, false, 0 or 1", kind);
    }
}

static int put_decimal(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                       row_error *e) {
    const char *s;
    size_t n;
    int negative;
    wideint scaled;
    if (kind != KB_JSON_NUMBER && kind != KB_JSON_STRING) return fail_kind(e, "a decimal number", kind);
    if (scalar_text(v, c, kind, &s, &n, e)) return -1;
    switch (tv_decimal(s, n, t->precision, t->scale, &negative, &scaled)) {
    case 0:
        break;
    case TV_DECIMAL_RANGE:
        return fail_type(e, "does not fit", s, n, t);
    case TV_DECIMAL_SCALE: {
        char more[64];
        snprintf(more, sizeof more, "has more than %u digits after the point for", t->scale);
        return fail_type(e, more, s, n, t);
    }
    default:
        return fail_value(e, "a decimal number", s, n);
    }
    return rbw_decimal(dst, t, negative, &scaled, e) ? restate(e, s, n) : 0;
}

/* ---- strings ---------------------------------------------------------- */

static int put_string(jsonvalue *v, kb_json_cursor *c, kb_json_kind kind, buf *dst, row_error *e) {
    const char *s;
    size_t n;
    switch (kind) {
    case KB_JSON_STRING:
        if (take_string(v, c, &s, &n)) return fail_json(e, c);
        break;
    case KB_JSON_NUMBER:
        if (take_number(v, c, &s, &n)) return fail_json(e, c);
        break;
    default: /* objects, arrays, true, false: their JSON text */
        if (v->given) {
            s = v->given;
            n = v->given_len;
            break;
        }
        s = c->p;
        if (kb_json_skip(c)) return fail_json(e, c);
        n = (size_t)(c->p - s);
        break;
    }
    buf_rb_string(dst, s, n);
    return 0;
}

static int put_fixedstring(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                           row_error *e) {
    const char *s;
    size_t n;
    if (kind != KB_JSON_STRING) return fail_kind(e, "a string", kind);
    if (take_string(v, c, &s, &n)) return fail_json(e, c);
    return rbw_fixedstring(dst, t, s, n, e);
}

static int put_uuid(jsonvalue *v, kb_json_cursor *c, kb_json_kind kind, buf *dst, row_error *e) {
    const char *s;
    size_t n;
    unsigned char bytes[16];
    if (kind != KB_JSON_STRING) return fail_kind(e, "a UUID string", kind);
    if (take_string(v, c, &s, &n)) return fail_json(e, c);
    if (tv_uuid(s, n, bytes)) return fail_value(e, "a UUID", s, n);
    rbw_uuid(dst, bytes);
    return 0;
}

static int put_ip(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                  row_error *e) {
    const char *s;
    size_t n;
    int v6 = t->kind == CT_IPV6;
    if (kind != KB_JSON_STRING) return fail_kind(e, v6 ? "an IPv6 address" : "an IPv4 address", kind);
    if (take_string(v, c, &s, &n)) return fail_json(e, c);
    if (v6) {
        unsigned char bytes[16];
        if (tv_ipv6(s, n, bytes)) return fail_value(e, "an IPv6 address", s, n);
        rbw_ipv6(dst, bytes);
    } else {
        uint32_t addr;
        if (tv_ipv4(s, n, &addr)) return fail_value(e, "an IPv4 address", s, n);
        rbw_ipv4(dst, addr);
    }
    return 0;
}

/* An Enum element by name; or by number, as a JSON number or a quoted
 * number that is not itself a name. */
static int put_enum(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                    row_error *e) {
    const char *s;
    size_t n;
    const chtype_enum_item *it = NULL;
    if (kind != KB_JSON_STRING && kind != KB_JSON_NUMBER) return fail_kind(e, "an Enum name or number", kind);
    if (scalar_text(v, c, kind, &s, &n, e)) return -1;
    if (kind == KB_JSON_STRING) it = chtype_enum_by_name(t, s, n);
    if (!it) {
        int negative;
        uint64_t magnitude;
        size_t i = n && (s[0] == '-' || s[0] == '+');
        int numeric = i < n && n - i <= 6 && tp_all_digits(s + i, n - i);
        if (numeric && parse_integer(s, n, &negative, &magnitude, t, e) == 0)
            it = chtype_enum_by_value(t, negative ? -(long)magnitude : (long)magnitude);
        if (!it) {
            char shown[200];
            describe(s, n, shown, sizeof shown);
            return kb_row_fail(e, "\"%s\" is not an element of the Enum", shown);
        }
    }
    rbw_enum_item(dst, t, it);
    return 0;
}

/* ---- dates and times -------------------------------------------------- */

/* Days since the epoch for Date (1970-01-01..2149-06-06) and Date32
 * (1900-01-01..2299-12-31): a date's text, or a JSON integer counting
 * days. */
static int put_date(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                    row_error *e) {
    const char *s, *why;
    size_t n;
    int64_t days;
    if (kind != KB_JSON_NUMBER && kind != KB_JSON_STRING) return fail_kind(e, "a date", kind);
    if (scalar_text(v, c, kind, &s, &n, e)) return -1;
    if (kind == KB_JSON_NUMBER) {
        int negative;
        uint64_t magnitude;
        size_t i = n && s[0] == '-';
        if (!tp_all_digits(s + i, n - i)) return fail_value(e, "a whole number of days", s, n);
        /* Any more digits are out of range however many there are. */
        if (n - i > 7) days = i ? INT64_MIN : INT64_MAX;
        else if (parse_integer(s, n, &negative, &magnitude, t, e)) return -1;
        else days = negative ? -(int64_t)magnitude : (int64_t)magnitude;
    } else if (tp_parse_date(s, n, &days, &why)) {
        char shown[200];
        describe(s, n, shown, sizeof shown);
        return kb_row_fail(e, "\"%s\" is not a date: %s", shown, why);
    }
    return rbw_days(dst, t, days, e) ? restate(e, s, n) : 0;
}

/* A quoted Unix time: digits with an optional sign and fraction, other
 * than the 8 and 14 digit compact dates. */
static int is_unix_text(const char *s, size_t n) {
    size_t i = n && (s[0] == '-' || s[0] == '+');
    size_t digits = 0, dot = 0;
    if (n > 4 && s[4] == '-') return 0; /* a date's dash: the usual case, settled at once */
    if (tp_all_digits(s, n) && (n == 8 || n == 14)) return 0;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') digits++;
        else if (s[i] == '.' && !dot && digits) dot = 1;
        else return 0;
    }
    return digits > 0;
}

static int put_time(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                    row_error *e) {
    const char *s, *why;
    size_t n;
    int64_t seconds;
    uint32_t nanos;
    int has_zone = 1;
    if (kind != KB_JSON_NUMBER && kind != KB_JSON_STRING) return fail_kind(e, "a date or time", kind);
    if (scalar_text(v, c, kind, &s, &n, e)) return -1;
    int failed = kind == KB_JSON_NUMBER || is_unix_text(s, n)
                     ? tp_parse_unix(s, n, kind == KB_JSON_STRING, &seconds, &nanos, &why)
                     : tp_parse(s, n, &seconds, &nanos, &has_zone, &why);
    if (failed) {
        char shown[200];
        describe(s, n, shown, sizeof shown);
        return kb_row_fail(e, "\"%s\" is not a date/time: %s", shown, why);
    }
    /* Local times are read in the column's zone.  The calendar range is
     * checked first, so the zone lookups see sane values. */
    if (!has_zone) {
        if (seconds < -2300000000LL || seconds > 10500000000LL)
            return fail_value(e, t->kind == CT_DATETIME ? "a time in 1970..2106" : "a time in 1900..2299", s, n);
        seconds = tz_local_to_utc(t->zone, seconds);
    }
    return rbw_time(dst, t, seconds, nanos, e) ? restate(e, s, n) : 0;
}

/* ---- composites ----------------------------------------------------------- */

static int put_tuple(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                     row_error *e);

/* Array(T): a JSON array.  Nested(...) inside another type is an array of
 * named tuples. */
static int put_array(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                     row_error *e) {
    if (kind != KB_JSON_ARRAY) return fail_kind(e, "an array", kind);
    c->p++;
    size_t at = rbw_count_begin(dst);
    uint64_t count = 0;
    int more = kb_json_first(c, ']');
    while (more > 0) {
        int rc;
        if (t->kind != CT_NESTED) {
            rc = jsonvalue_put(v, t->inner, c, dst, e);
        } else if (kb_json_peek(c) == KB_JSON_NULL) { /* a null element: all defaults */
            rc = kb_json_literal(c, KB_JSON_NULL) ? fail_json(e, c) : 0;
            for (size_t i = 0; rc == 0 && i < t->nelems; i++) rbw_default(dst, t->elems[i]);
        } else {
            rc = put_tuple(v, t, c, kb_json_peek(c), dst, e);
        }
        if (rc) return -1;
        count++;
        more = kb_json_next(c, ']');
    }
    if (more < 0) return fail_json(e, c);
    rbw_count_end(dst, at, count);
    return 0;
}

/* Map(K, V): a JSON object; each key, a JSON string, is read as a value of
 * K (so "7" gives 7 in a UInt16 key).  Keys given twice are kept twice, as
 * ClickHouse keeps them. */
static int put_map(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                   row_error *e) {
    if (kind != KB_JSON_OBJECT) return fail_kind(e, "an object", kind);
    c->p++;
    size_t at = rbw_count_begin(dst);
    uint64_t count = 0;
    int more = kb_json_first(c, '}');
    while (more > 0) {
        if (kb_json_peek(c) != KB_JSON_STRING) {
            c->why = "expected a key string";
            return fail_json(e, c);
        }
        if (jsonvalue_put(v, t->elems[0], c, dst, e)) return -1;
        if (kb_json_expect(c, ':', "expected ':' after a key")) return fail_json(e, c);
        if (jsonvalue_put(v, t->elems[1], c, dst, e)) return -1;
        count++;
        more = kb_json_next(c, '}');
    }
    if (more < 0) return fail_json(e, c);
    rbw_count_end(dst, at, count);
    return 0;
}

/* An unnamed Tuple: a JSON array of exactly its size. */
static int put_positional(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                          row_error *e) {
    if (kind != KB_JSON_ARRAY) return fail_kind(e, "an array (for an unnamed Tuple)", kind);
    c->p++;
    for (size_t i = 0; i < t->nelems; i++) {
        if (i && kb_json_expect(c, ',', "expected ','")) {
            return kb_row_fail(e, "expected a Tuple of %zu elements, got %zu", t->nelems, i);
        }
        kb_json_skip_ws(c);
        if (c->p < c->end && *c->p == ']')
            return kb_row_fail(e, "expected a Tuple of %zu elements, got %zu", t->nelems, i);
        if (jsonvalue_put(v, t->elems[i], c, dst, e)) return -1;
    }
    if (kb_json_expect(c, ']', "expected ']'"))
        return kb_row_fail(e, "expected a Tuple of %zu elements, got more", t->nelems);
    return 0;
}

/* A named Tuple (or an element of Nested): a JSON object, its keys matched
 * to element names.  Elements usually come in order and go straight to
 * dst; when they do not, or some are missing, the tuple is put in order
 * afterwards from the spans recorded for each element. */
static int put_tuple(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                     row_error *e) {
    if (!t->names) return put_positional(v, t, c, kind, dst, e);
    if (kind != KB_JSON_OBJECT) return fail_kind(e, "an object (for a named Tuple)", kind);
    c->p++;
    /* jsonvalue_init sized the span stack for the deepest nesting of named
     * Tuples in the plan, so it has room for this one's elements. */
    size_t base = dst->len, next = 0, *span = v->spans + v->nspans;
    int in_order = 1;
    v->nspans += 2 * t->nelems;
    for (size_t i = 0; i < t->nelems; i++) span[2 * i + 1] = RBW_UNSET; /* not seen */
    int more = kb_json_first(c, '}');
    while (more > 0) {
        const char *key;
        size_t klen, i;
        if (kb_json_string(c, &v->text, &key, &klen)) goto malformed;
        for (i = 0; i < t->nelems; i++)
            if (strlen(t->names[i]) == klen && memcmp(t->names[i], key, klen) == 0) break;
        if (kb_json_expect(c, ':', "expected ':' after a key")) goto malformed;
        if (i == t->nelems) {
            if (kb_json_skip(c)) goto malformed; /* unknown keys are skipped */
        } else {
            if (span[2 * i + 1] != RBW_UNSET) {
                v->nspans -= 2 * t->nelems;
                return kb_row_fail(e, "Tuple element '%s' given twice", t->names[i]);
            }
            if (i != next) in_order = 0;
            next = i + 1;
            span[2 * i] = dst->len - base;
            if (jsonvalue_put(v, t->elems[i], c, dst, e)) {
                v->nspans -= 2 * t->nelems;
                return -1;
            }
            span[2 * i + 1] = dst->len - base - span[2 * i];
        }
        more = kb_json_next(c, '}');
    }
    if (more < 0) goto malformed;
    for (size_t i = 0; i < t->nelems; i++)
        if (span[2 * i + 1] == RBW_UNSET) in_order = 0;
    if (!in_order) {
        /* Inner tuples have finished with `reorder` by now. */
        rbw_tuple_order(dst, base, t, span, &v->reorder);
    }
    v->nspans -= 2 * t->nelems;
    return 0;
malformed:
    v->nspans -= 2 * t->nelems;
    return fail_json(e, c);
}

/* ---- dispatch --------------------------------------------------------- */

static inline int put_as(jsonvalue *v, const chtype *t, kb_json_cursor *c, kb_json_kind kind, buf *dst,
                         row_error *e);

int jsonvalue_put(jsonvalue *v, const chtype *t, kb_json_cursor *c, buf *dst, row_error *e) {
    kb_json_kind kind = kb_json_peek(c);
    if (kind == KB_JSON_INVALID)
        return kb_row_fail(e, "malformed JSON: %s", c->p >= c->end ? "unexpected end of message" : "expected a value");
    if (kind == KB_JSON_NULL) {
        if (kb_json_literal(c, KB_JSON_NULL)) return fail_json(e, c);
        rbw_default(dst, t);
        return 0;
    }
    return put_as(v, rbw_present(dst, t), c, kind, dst, e);
}

int jsonvalue_put_scalar(jsonvalue *v, const chtype *t, kb_json_kind kind, const char *s, size_t n,
                         buf *dst, row_error *e) {
    if (!s) s = ""; /* an empty string from a format that has no pointer for it */
    kb_json_cursor c = {s, s, s + n, NULL};
    v->given = s;
    v->given_len = n;
    int rc = put_as(v, t, &c, kind, dst, e);
    v->given = NULL;
    return rc;
}

/* The value at the cursor, of kind `kind`, as t (no longer Nullable).
 * Inlined into both callers: a call here, for every value, cost more
 * than the reading of a short number. */
static inline __attribute__((always_inline)) int put_as(jsonvalue *v, const chtype *t, kb_json_cursor *c,
                                                       kb_json_kind kind, buf *dst, row_error *e) {
    switch (t->kind) {
    case CT_INT8: case CT_INT16: case CT_INT32: case CT_INT64: case CT_INT128: case CT_INT256:
    case CT_UINT8: case CT_UINT16: case CT_UINT32: case CT_UINT64: case CT_UINT128: case CT_UINT256:
        return put_integer(v, t, c, kind, dst, e);
    case CT_FLOAT32: case CT_FLOAT64: case CT_BFLOAT16:
        return put_float(v, t, c, kind, dst, e);
    case CT_BOOL:
        return put_bool(v, c, kind, dst, e);
    case CT_DECIMAL:
        return put_decimal(v, t, c, kind, dst, e);
    case CT_STRING:
        return put_string(v, c, kind, dst, e);
    case CT_FIXEDSTRING:
        return put_fixedstring(v, t, c, kind, dst, e);
    case CT_UUID:
        return put_uuid(v, c, kind, dst, e);
    case CT_IPV4: case CT_IPV6:
        return put_ip(v, t, c, kind, dst, e);
    case CT_ENUM8: case CT_ENUM16:
        return put_enum(v, t, c, kind, dst, e);
    case CT_DATE: case CT_DATE32:
        return put_date(v, t, c, kind, dst, e);
    case CT_DATETIME: case CT_DATETIME64:
        return put_time(v, t, c, kind, dst, e);
    case CT_ARRAY: case CT_NESTED:
        return put_array(v, t, c, kind, dst, e);
    case CT_MAP:
        return put_map(v, t, c, kind, dst, e);
    case CT_TUPLE:
        return put_tuple(v, t, c, kind, dst, e);
    case CT_VARIANT: /* refused when the decoder opened; kept for callers without that check */
        return kb_row_fail(e, "a Variant column is filled from Avro unions only");
    case CT_NULLABLE: case CT_LOWCARDINALITY:
        break; /* unwrapped above; the type parser forbids deeper nesting */
    }
    return kb_row_fail(e, "internal error: unhandled type");
}
