#include "chtype.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parser walks the text with a cursor and reports the first problem.
 * `column` is the name of the column being parsed, for messages. */
typedef struct cursor {
    const char *p;
    const char *column;
    char *err;
    size_t errlen;
} cursor;

static const struct {
    const char *name;
    chtype_kind kind;
} simple_types[] = {
    {"Int8", CT_INT8},       {"Int16", CT_INT16},     {"Int32", CT_INT32},
    {"Int64", CT_INT64},     {"UInt8", CT_UINT8},     {"UInt16", CT_UINT16},
    {"UInt32", CT_UINT32},   {"UInt64", CT_UINT64},   {"Float32", CT_FLOAT32},
    {"Float64", CT_FLOAT64}, {"Bool", CT_BOOL},       {"String", CT_STRING},
    {"Date", CT_DATE},
};

__attribute__((format(printf, 2, 3)))
static int fail(cursor *c, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->column)
        snprintf(c->err, c->errlen, "column '%s': %s", c->column, what);
    else
        snprintf(c->err, c->errlen, "%s", what);
    return -1;
}

static void skip_space(cursor *c) {
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r') c->p++;
}

static int is_ident_start(int ch) { return isalpha(ch) || ch == '_'; }
static int is_ident_char(int ch) { return isalnum(ch) || ch == '_'; }

/* Copies the text of a type that starts at `start` and runs to the end of
 * its balanced parentheses, for an error message. */
static void type_text(const char *start, char *out, size_t outlen) {
    const char *p = start;
    int depth = 0;
    while (*p) {
        if (*p == '(') depth++;
        else if (*p == ')') {
            if (depth == 0) break;
            if (--depth == 0) {
                p++;
                break;
            }
        } else if (*p == ',' && depth == 0) break;
        p++;
    }
    size_t n = (size_t)(p - start);
    while (n && isspace((unsigned char)start[n - 1])) n--;
    if (n >= outlen) n = outlen - 1;
    memcpy(out, start, n);
    out[n] = '\0';
}

static int expect(cursor *c, char ch) {
    skip_space(c);
    if (*c->p != ch) {
        char want[2] = {ch, 0};
        return fail(c, "expected '%s' at \"%.40s\"", want, *c->p ? c->p : "end of text");
    }
    c->p++;
    return 0;
}

/* A single-quoted string with backslash escapes, as ClickHouse writes
 * time zone names.  A bare name (UTC, Etc/UTC) is accepted too: quotes do
 * not survive shell-like splitting of a command, nor sit easily inside a
 * quoted SQL string. */
static int parse_quoted(cursor *c, char **out) {
    skip_space(c);
    if (*c->p != '\'') {
        const char *start = c->p;
        while (is_ident_char((unsigned char)*c->p) || *c->p == '/' || *c->p == '+' || *c->p == '-')
            c->p++;
        if (c->p == start) return fail(c, "expected a quoted string at \"%.40s\"", c->p);
        *out = strndup(start, (size_t)(c->p - start));
        if (!*out) {
            fprintf(stderr, "kafka-bridge: out of memory\n");
            abort();
        }
        return 0;
    }
    c->p++;
    buf b;
    buf_init(&b, 32);
    for (;;) {
        char ch = *c->p;
        if (ch == '\0') {
            buf_free(&b);
            return fail(c, "unterminated quoted string");
        }
        c->p++;
        if (ch == '\'') break;
        if (ch == '\\') {
            if (*c->p == '\0') continue;
            ch = *c->p++;
        }
        buf_u8(&b, (uint8_t)ch);
    }
    buf_u8(&b, 0);
    *out = (char *)b.data;
    return 0;
}

static int parse_uint(cursor *c, unsigned max, unsigned *out) {
    skip_space(c);
    if (!isdigit((unsigned char)*c->p))
        return fail(c, "expected a number at \"%.40s\"", *c->p ? c->p : "end of text");
    unsigned long v = 0;
    while (isdigit((unsigned char)*c->p)) {
        v = v * 10 + (unsigned)(*c->p++ - '0');
        if (v > max) return fail(c, "number out of range");
    }
    *out = (unsigned)v;
    return 0;
}

/* Only UTC is accepted for now: the bridge has no time zone database, and
 * a zone changes how times without an explicit offset are read. */
static int check_timezone(cursor *c, const char *tz) {
    if (strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0) return 0;
    return fail(c, "time zone '%s' is not supported (only 'UTC')", tz);
}

static chtype *new_type(chtype_kind kind) {
    chtype *t = calloc(1, sizeof *t);
    if (!t) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    t->kind = kind;
    return t;
}

static int parse_type(cursor *c, chtype **out);

static int parse_wrapper(cursor *c, chtype_kind kind, chtype **out) {
    chtype *inner = NULL;
    if (expect(c, '(') || parse_type(c, &inner) || expect(c, ')')) {
        chtype_free(inner);
        return -1;
    }
    if (kind == CT_NULLABLE &&
        (inner->kind == CT_NULLABLE || inner->kind == CT_LOWCARDINALITY)) {
        chtype_free(inner);
        return fail(c, "Nullable cannot wrap Nullable or LowCardinality");
    }
    if (kind == CT_LOWCARDINALITY) {
        const chtype *base = chtype_base(inner);
        if (inner->kind == CT_LOWCARDINALITY || base->kind != CT_STRING) {
            chtype_free(inner);
            return fail(c, "LowCardinality is supported over String and Nullable(String) only");
        }
    }
    chtype *t = new_type(kind);
    t->inner = inner;
    *out = t;
    return 0;
}

static int parse_datetime(cursor *c, int is64, chtype **out) {
    chtype *t = new_type(is64 ? CT_DATETIME64 : CT_DATETIME);
    skip_space(c);
    if (*c->p != '(') {
        if (is64) {
            chtype_free(t);
            return fail(c, "DateTime64 needs a precision, e.g. DateTime64(3)");
        }
        *out = t;
        return 0;
    }
    c->p++;
    if (is64) {
        if (parse_uint(c, 1000, &t->precision)) goto bad;
        if (t->precision > 9) {
            chtype_free(t);
            return fail(c, "DateTime64 precision must be 0..9");
        }
        skip_space(c);
        if (*c->p == ',') {
            c->p++;
            if (parse_quoted(c, &t->timezone)) goto bad;
        }
    } else {
        if (parse_quoted(c, &t->timezone)) goto bad;
    }
    if (expect(c, ')')) goto bad;
    if (t->timezone && check_timezone(c, t->timezone)) goto bad;
    *out = t;
    return 0;
bad:
    chtype_free(t);
    return -1;
}

static int parse_type(cursor *c, chtype **out) {
    skip_space(c);
    const char *start = c->p;
    if (!is_ident_start((unsigned char)*c->p))
        return fail(c, "expected a type at \"%.40s\"", *c->p ? c->p : "end of text");
    while (is_ident_char((unsigned char)*c->p)) c->p++;
    size_t n = (size_t)(c->p - start);

    for (size_t i = 0; i < sizeof simple_types / sizeof simple_types[0]; i++) {
        if (strlen(simple_types[i].name) == n && memcmp(simple_types[i].name, start, n) == 0) {
            skip_space(c);
            if (*c->p == '(') break; /* parameters on a simple type: refuse below */
            *out = new_type(simple_types[i].kind);
            return 0;
        }
    }
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(start, lit, n) == 0)
    if (IS("Nullable")) return parse_wrapper(c, CT_NULLABLE, out);
    if (IS("LowCardinality")) return parse_wrapper(c, CT_LOWCARDINALITY, out);
    if (IS("DateTime")) return parse_datetime(c, 0, out);
    if (IS("DateTime64")) return parse_datetime(c, 1, out);
#undef IS
    char text[128];
    type_text(start, text, sizeof text);
    return fail(c, "unsupported type '%s'", text);
}

int chtype_parse(const char *text, chtype **out, char *err, size_t errlen) {
    cursor c = {text, NULL, err, errlen};
    *out = NULL;
    if (parse_type(&c, out)) return -1;
    skip_space(&c);
    if (*c.p) {
        chtype_free(*out);
        *out = NULL;
        return fail(&c, "unexpected text after type: \"%.40s\"", c.p);
    }
    return 0;
}

/* A column name: a bare identifier, or quoted with backquotes or double
 * quotes as ClickHouse allows. */
static int parse_name(cursor *c, char **out) {
    skip_space(c);
    const char *start = c->p;
    if (*c->p == '`' || *c->p == '"') {
        char q = *c->p++;
        start = c->p;
        while (*c->p && *c->p != q) c->p++;
        if (!*c->p) return fail(c, "unterminated quoted column name");
        size_t n = (size_t)(c->p - start);
        c->p++;
        if (n == 0) return fail(c, "empty column name");
        *out = strndup(start, n);
    } else {
        if (!is_ident_start((unsigned char)*c->p))
            return fail(c, "expected a column name at \"%.40s\"", *c->p ? c->p : "end of text");
        while (is_ident_char((unsigned char)*c->p)) c->p++;
        *out = strndup(start, (size_t)(c->p - start));
    }
    if (!*out) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    return 0;
}

int chcolumns_parse(const char *text, chcolumns *out, char *err, size_t errlen) {
    cursor c = {text, NULL, err, errlen};
    out->v = NULL;
    out->n = 0;
    size_t cap = 0;
    skip_space(&c);
    if (!*c.p) return fail(&c, "the column list is empty");
    for (;;) {
        char *name = NULL;
        chtype *type = NULL;
        if (parse_name(&c, &name)) goto bad;
        c.column = name;
        skip_space(&c);
        if (*c.p == ':') c.p++;
        if (parse_type(&c, &type)) {
            free(name);
            goto bad;
        }
        for (size_t i = 0; i < out->n; i++) {
            if (strcmp(out->v[i].name, name) == 0) {
                fail(&c, "the column is listed twice");
                free(name);
                chtype_free(type);
                goto bad;
            }
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            chcolumn *v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                fprintf(stderr, "kafka-bridge: out of memory\n");
                abort();
            }
            out->v = v;
        }
        out->v[out->n].name = name;
        out->v[out->n].type = type;
        out->n++;
        c.column = NULL;
        skip_space(&c);
        if (*c.p == '\0') return 0;
        if (*c.p != ',') {
            fail(&c, "expected ',' between columns at \"%.40s\"", c.p);
            goto bad;
        }
        c.p++;
    }
bad:
    chcolumns_free(out);
    return -1;
}

void chcolumns_free(chcolumns *cols) {
    for (size_t i = 0; i < cols->n; i++) {
        free(cols->v[i].name);
        chtype_free(cols->v[i].type);
    }
    free(cols->v);
    cols->v = NULL;
    cols->n = 0;
}

void chtype_free(chtype *t) {
    if (!t) return;
    chtype_free(t->inner);
    free(t->timezone);
    free(t);
}

static void put_str(buf *out, const char *s) { buf_put(out, s, strlen(s)); }

static void put_quoted(buf *out, const char *s) {
    buf_u8(out, '\'');
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\') buf_u8(out, '\\');
        buf_u8(out, (uint8_t)*s);
    }
    buf_u8(out, '\'');
}

void chtype_format(const chtype *t, buf *out) {
    for (size_t i = 0; i < sizeof simple_types / sizeof simple_types[0]; i++) {
        if (simple_types[i].kind == t->kind) {
            put_str(out, simple_types[i].name);
            return;
        }
    }
    switch (t->kind) {
    case CT_NULLABLE:
    case CT_LOWCARDINALITY:
        put_str(out, t->kind == CT_NULLABLE ? "Nullable(" : "LowCardinality(");
        chtype_format(t->inner, out);
        buf_u8(out, ')');
        return;
    case CT_DATETIME:
        put_str(out, "DateTime");
        if (t->timezone) {
            buf_u8(out, '(');
            put_quoted(out, t->timezone);
            buf_u8(out, ')');
        }
        return;
    case CT_DATETIME64: {
        char p[16];
        snprintf(p, sizeof p, "DateTime64(%u", t->precision);
        put_str(out, p);
        if (t->timezone) {
            put_str(out, ", ");
            put_quoted(out, t->timezone);
        }
        buf_u8(out, ')');
        return;
    }
    default:
        return; /* every simple kind was handled by the table above */
    }
}

size_t chtype_fixed_size(const chtype *t) {
    switch (t->kind) {
    case CT_INT8: case CT_UINT8: case CT_BOOL: return 1;
    case CT_INT16: case CT_UINT16: case CT_DATE: return 2;
    case CT_INT32: case CT_UINT32: case CT_FLOAT32: case CT_DATETIME: return 4;
    case CT_INT64: case CT_UINT64: case CT_FLOAT64: case CT_DATETIME64: return 8;
    case CT_LOWCARDINALITY: return chtype_fixed_size(t->inner);
    case CT_STRING: case CT_NULLABLE: return 0;
    }
    return 0;
}

const chtype *chtype_base(const chtype *t) {
    while (t->kind == CT_NULLABLE || t->kind == CT_LOWCARDINALITY) t = t->inner;
    return t;
}
