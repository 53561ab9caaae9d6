#include "chtype.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Types nest no deeper than this.  ClickHouse allows more, but a column of
 * 32 levels is already far beyond what a message schema needs, and the
 * bound keeps every recursion over a type (here and in the decoder)
 * shallow. */
#define MAX_TYPE_DEPTH 32

/* The parser walks the text with a cursor and reports the first problem.
 * `column` is the name of the column being parsed, for messages. */
typedef struct cursor {
    const char *p;
    const char *column;
    char *err;
    size_t errlen;
} cursor;

/* Types that take no parameters, with the kind each spelling gives. */
static const struct {
    const char *name;
    chtype_kind kind;
} simple_types[] = {
    {"Int8", CT_INT8},         {"Int16", CT_INT16},       {"Int32", CT_INT32},
    {"Int64", CT_INT64},       {"Int128", CT_INT128},     {"Int256", CT_INT256},
    {"UInt8", CT_UINT8},       {"UInt16", CT_UINT16},     {"UInt32", CT_UINT32},
    {"UInt64", CT_UINT64},     {"UInt128", CT_UINT128},   {"UInt256", CT_UINT256},
    {"Float32", CT_FLOAT32},   {"Float64", CT_FLOAT64},   {"BFloat16", CT_BFLOAT16},
    {"Bool", CT_BOOL},         {"String", CT_STRING},     {"Date", CT_DATE},
    {"Date32", CT_DATE32},     {"UUID", CT_UUID},         {"IPv4", CT_IPV4},
    {"IPv6", CT_IPV6},
};

static void oom(void) {
    fprintf(stderr, "kafka-bridge: out of memory\n");
    abort();
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) oom();
    return p;
}

static char *xstrndup(const char *s, size_t n) {
    char *p = xcalloc(n + 1, 1);
    memcpy(p, s, n);
    return p;
}

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

static const char *here(const cursor *c) { return *c->p ? c->p : "end of text"; }

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
    if (*c->p != ch) return fail(c, "expected '%c' at \"%.40s\"", ch, here(c));
    c->p++;
    return 0;
}

/* A single-quoted string with backslash escapes (or '' for a quote), as
 * ClickHouse writes time zone names and Enum elements.  (n is set to its length, since an
 * Enum name may hold any byte.) */
static int parse_quoted(cursor *c, char **out, size_t *n) {
    skip_space(c);
    if (*c->p != '\'') return fail(c, "expected a quoted string at \"%.40s\"", here(c));
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
        if (ch == '\'' && *c->p == '\'') { /* '' stands for one quote, as in SQL */
            c->p++;
        } else if (ch == '\'') {
            break;
        } else if (ch == '\\') {
            if (*c->p == '\0') continue;
            ch = *c->p++;
        }
        buf_u8(&b, (uint8_t)ch);
    }
    if (n) *n = b.len;
    buf_u8(&b, 0);
    *out = (char *)b.data;
    return 0;
}

/* A time zone: quoted, or bare (UTC, Europe/Berlin), since quotes survive
 * neither shell-like splitting of a command nor easily a quoted SQL
 * string. */
static int parse_zone_name(cursor *c, char **out) {
    skip_space(c);
    if (*c->p == '\'') return parse_quoted(c, out, NULL);
    const char *start = c->p;
    while (is_ident_char((unsigned char)*c->p) || *c->p == '/' || *c->p == '+' || *c->p == '-')
        c->p++;
    if (c->p == start) return fail(c, "expected a time zone at \"%.40s\"", here(c));
    *out = xstrndup(start, (size_t)(c->p - start));
    return 0;
}

static int parse_uint(cursor *c, unsigned long max, unsigned long *out) {
    skip_space(c);
    if (!isdigit((unsigned char)*c->p)) return fail(c, "expected a number at \"%.40s\"", here(c));
    unsigned long v = 0;
    while (isdigit((unsigned char)*c->p)) {
        v = v * 10 + (unsigned)(*c->p++ - '0');
        if (v > max) return fail(c, "number out of range (at most %lu)", max);
    }
    *out = v;
    return 0;
}

static int parse_int(cursor *c, long min, long max, long *out) {
    skip_space(c);
    int negative = 0;
    if (*c->p == '-' || *c->p == '+') negative = *c->p++ == '-';
    unsigned long v;
    if (parse_uint(c, (unsigned long)max + 1, &v)) return -1;
    long value = negative ? -(long)v : (long)v;
    if (value < min || value > max) return fail(c, "number %ld out of range %ld..%ld", value, min, max);
    *out = value;
    return 0;
}

static chtype *new_type(chtype_kind kind) {
    chtype *t = xcalloc(1, sizeof *t);
    t->kind = kind;
    return t;
}

static int parse_type(cursor *c, int depth, chtype **out);

/* Whether t may stand inside LowCardinality(...) (Nullable removed):
 * ClickHouse allows numbers, strings, Date, Date32, DateTime, UUID and IP
 * addresses. */
static int low_cardinality_allows(const chtype *t) {
    switch (t->kind) {
    case CT_INT8: case CT_INT16: case CT_INT32: case CT_INT64: case CT_INT128: case CT_INT256:
    case CT_UINT8: case CT_UINT16: case CT_UINT32: case CT_UINT64: case CT_UINT128: case CT_UINT256:
    case CT_FLOAT32: case CT_FLOAT64: case CT_BFLOAT16: case CT_BOOL:
    case CT_STRING: case CT_FIXEDSTRING: case CT_DATE: case CT_DATE32: case CT_DATETIME:
    case CT_UUID: case CT_IPV4: case CT_IPV6:
        return 1;
    default:
        return 0;
    }
}

static int parse_wrapper(cursor *c, int depth, chtype_kind kind, chtype **out) {
    chtype *inner = NULL;
    if (expect(c, '(') || parse_type(c, depth, &inner) || expect(c, ')')) {
        chtype_free(inner);
        return -1;
    }
    const char *why = NULL;
    if (kind == CT_NULLABLE) {
        switch (inner->kind) {
        case CT_NULLABLE: case CT_LOWCARDINALITY: case CT_ARRAY: case CT_MAP: case CT_NESTED:
        case CT_VARIANT:
            why = "Nullable cannot wrap Nullable, LowCardinality, Array, Map, Nested or Variant "
                  "(a Variant holds NULL itself)";
            break;
        default:
            break;
        }
    } else if (kind == CT_LOWCARDINALITY) {
        const chtype *base = inner->kind == CT_NULLABLE ? inner->inner : inner;
        if (inner->kind == CT_LOWCARDINALITY || !low_cardinality_allows(base))
            why = "LowCardinality holds numbers, strings, Date, Date32, DateTime, UUID, IPv4 and "
                  "IPv6 only (each may be Nullable)";
    }
    if (why) {
        chtype_free(inner);
        return fail(c, "%s", why);
    }
    chtype *t = new_type(kind);
    t->inner = inner;
    *out = t;
    return 0;
}

static int parse_datetime(cursor *c, int is64, chtype **out) {
    chtype *t = new_type(is64 ? CT_DATETIME64 : CT_DATETIME);
    skip_space(c);
    if (*c->p == '(') {
        c->p++;
        if (is64) {
            unsigned long precision;
            if (parse_uint(c, 1000, &precision)) goto bad;
            if (precision > 9) {
                fail(c, "DateTime64 precision must be 0..9");
                goto bad;
            }
            t->precision = (unsigned)precision;
            skip_space(c);
            if (*c->p == ',') {
                c->p++;
                if (parse_zone_name(c, &t->timezone)) goto bad;
            }
        } else {
            if (parse_zone_name(c, &t->timezone)) goto bad;
        }
        if (expect(c, ')')) goto bad;
    } else if (is64) {
        fail(c, "DateTime64 needs a precision, e.g. DateTime64(3)");
        goto bad;
    }
    char why[300];
    if (t->timezone ? tz_load(t->timezone, &t->zone, why, sizeof why)
                    : tz_load_default(&t->zone, why, sizeof why)) {
        fail(c, "%s", why);
        goto bad;
    }
    *out = t;
    return 0;
bad:
    chtype_free(t);
    return -1;
}

/* Decimal(P, S), Decimal(P), Decimal, or Decimal32/64/128/256(S), whose
 * precision is the most digits of their width. */
static int parse_decimal(cursor *c, unsigned width_precision, chtype **out) {
    unsigned long precision = width_precision ? width_precision : 10, scale = 0;
    skip_space(c);
    if (width_precision) {
        if (expect(c, '(') || parse_uint(c, 1000, &scale) || expect(c, ')')) return -1;
    } else if (*c->p == '(') {
        c->p++;
        if (parse_uint(c, 1000, &precision)) return -1;
        skip_space(c);
        if (*c->p == ',') {
            c->p++;
            if (parse_uint(c, 1000, &scale)) return -1;
        }
        if (expect(c, ')')) return -1;
    }
    if (precision < 1 || precision > 76) return fail(c, "Decimal precision must be 1..76");
    if (scale > precision) return fail(c, "Decimal scale must be 0..%lu (the precision)", precision);
    chtype *t = new_type(CT_DECIMAL);
    t->precision = (unsigned)precision;
    t->scale = (unsigned)scale;
    *out = t;
    return 0;
}

static int parse_fixedstring(cursor *c, chtype **out) {
    unsigned long n;
    if (expect(c, '(') || parse_uint(c, 0xFFFFFF, &n) || expect(c, ')')) return -1;
    if (n == 0) return fail(c, "FixedString length must be at least 1");
    chtype *t = new_type(CT_FIXEDSTRING);
    t->length = n;
    *out = t;
    return 0;
}

static int compare_items_by_value(const void *a, const void *b) {
    const chtype_enum_item *x = a, *y = b;
    return (x->value > y->value) - (x->value < y->value);
}

static int compare_names(const char *a, size_t an, const char *b, size_t bn) {
    int r = memcmp(a, b, an < bn ? an : bn);
    return r ? r : (an > bn) - (an < bn);
}

/* Sorts the item indexes by item name.  qsort cannot see the items from
 * its comparator without a global (qsort_r is a GNU extension), so this
 * is a Shell sort over the index array: short, no recursion, and quick
 * enough for Enum16's 65536 items, sorted once per run. */
static void sort_by_name(chtype *t) {
    for (size_t i = 0; i < t->nitems; i++) t->by_name[i] = (uint32_t)i;
    for (size_t gap = t->nitems / 2; gap > 0; gap /= 2) {
        for (size_t i = gap; i < t->nitems; i++) {
            uint32_t v = t->by_name[i];
            const chtype_enum_item *x = &t->items[v];
            size_t j = i;
            while (j >= gap) {
                const chtype_enum_item *y = &t->items[t->by_name[j - gap]];
                if (compare_names(y->name, y->name_len, x->name, x->name_len) <= 0) break;
                t->by_name[j] = t->by_name[j - gap];
                j -= gap;
            }
            t->by_name[j] = v;
        }
    }
}

/* Enum8('a' = 1, 'b' = 2), Enum16(...), or Enum(...) whose width follows
 * from its values.  Values may be left out: the first is then 1, the
 * others one more than the element before. */
static int parse_enum(cursor *c, int width, chtype **out) {
    size_t cap = 8, n = 0;
    chtype_enum_item *items = xcalloc(cap, sizeof *items);
    long next = 1;
    if (expect(c, '(')) goto bad;
    for (;;) {
        if (n == cap) {
            if (n == 65536) {
                fail(c, "an Enum has at most 65536 elements");
                goto bad;
            }
            cap *= 2;
            chtype_enum_item *v = realloc(items, cap * sizeof *items);
            if (!v) oom();
            items = v;
        }
        chtype_enum_item *it = &items[n];
        if (parse_quoted(c, &it->name, &it->name_len)) goto bad;
        n++;
        skip_space(c);
        long value = next;
        if (*c->p == '=') {
            c->p++;
            if (parse_int(c, -32768, 32767, &value)) goto bad;
        }
        if (value < -32768 || value > 32767) {
            fail(c, "Enum value %ld out of range", value);
            goto bad;
        }
        it->value = (int)value;
        next = value + 1;
        skip_space(c);
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (expect(c, ')')) goto bad;
        break;
    }
    qsort(items, n, sizeof *items, compare_items_by_value);
    int fits8 = 1;
    for (size_t i = 0; i < n; i++) {
        if (i && items[i].value == items[i - 1].value) {
            fail(c, "Enum value %d is given twice", items[i].value);
            goto bad;
        }
        if (items[i].value < -128 || items[i].value > 127) fits8 = 0;
    }
    if (width == 8 && !fits8) {
        fail(c, "Enum8 values must be in -128..127");
        goto bad;
    }
    chtype *t = new_type(width == 16 || !fits8 ? CT_ENUM16 : CT_ENUM8);
    t->items = items;
    t->nitems = n;
    t->by_name = xcalloc(n, sizeof *t->by_name);
    sort_by_name(t);
    for (size_t i = 1; i < n; i++) {
        const chtype_enum_item *a = &items[t->by_name[i - 1]], *b = &items[t->by_name[i]];
        if (compare_names(a->name, a->name_len, b->name, b->name_len) == 0) {
            fail(c, "Enum element '%s' is given twice", a->name);
            chtype_free(t);
            return -1;
        }
    }
    *out = t;
    return 0;
bad:
    for (size_t i = 0; i < n; i++) free(items[i].name);
    free(items);
    return -1;
}

/* An element name inside Tuple(...) or Nested(...): a bare identifier or
 * backquoted.  Returns 1 when one was read, 0 when the text at the cursor
 * is a type rather than a name (the cursor is then unchanged). */
static int parse_element_name(cursor *c, char **out) {
    skip_space(c);
    const char *save = c->p;
    if (*c->p == '`') {
        buf b;
        buf_init(&b, 16);
        for (c->p++; *c->p && *c->p != '`'; c->p++) {
            if (*c->p == '\\' && c->p[1]) c->p++;
            buf_u8(&b, (uint8_t)*c->p);
        }
        if (*c->p != '`' || b.len == 0) {
            buf_free(&b);
            return fail(c, "unterminated or empty quoted element name");
        }
        c->p++;
        buf_u8(&b, 0);
        *out = (char *)b.data;
        return 1;
    }
    if (!is_ident_start((unsigned char)*c->p)) return 0;
    while (is_ident_char((unsigned char)*c->p)) c->p++;
    const char *end = c->p;
    skip_space(c);
    /* "a UInt8" is a name and a type; "UInt8," or "DateTime64(3)" a type. */
    if (is_ident_start((unsigned char)*c->p)) {
        *out = xstrndup(save, (size_t)(end - save));
        return 1;
    }
    c->p = save;
    return 0;
}

static int has_low_cardinality(const chtype *t) {
    if (t->kind == CT_LOWCARDINALITY) return 1;
    if (t->inner && has_low_cardinality(t->inner)) return 1;
    for (size_t i = 0; i < t->nelems; i++)
        if (has_low_cardinality(t->elems[i])) return 1;
    return 0;
}

typedef struct named_type {
    buf name;
    chtype *type;
} named_type;

static int named_type_cmp(const void *a, const void *b) {
    const named_type *x = a, *y = b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = memcmp(x->name.data, y->name.data, n);
    return c ? c : (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

/* A Variant's types as ClickHouse keeps them: what may not stand inside
 * refused, sorted by canonical name, a type given twice kept once. */
static int variant_settle(cursor *c, chtype *t) {
    for (size_t i = 0; i < t->nelems; i++) {
        const chtype *e = t->elems[i];
        if (e->kind == CT_NULLABLE || (e->kind == CT_LOWCARDINALITY && e->inner->kind == CT_NULLABLE))
            return fail(c, "Nullable types are not allowed inside Variant (a Variant holds NULL itself)");
        if (e->kind == CT_VARIANT) return fail(c, "a Variant cannot hold a Variant directly");
        if (has_low_cardinality(e))
            return fail(c, "LowCardinality inside Variant is not supported (the Native output names "
                           "types without it, which would change their order)");
    }
    named_type *v = xcalloc(t->nelems, sizeof *v);
    for (size_t i = 0; i < t->nelems; i++) {
        buf_init(&v[i].name, 32);
        chtype_format(t->elems[i], &v[i].name);
        v[i].type = t->elems[i];
    }
    qsort(v, t->nelems, sizeof *v, named_type_cmp);
    /* Equal names sit side by side once sorted: each is compared with the
     * last one kept. */
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < t->nelems; i++) {
        if (n && named_type_cmp(&v[i], &v[kept]) == 0) {
            chtype_free(v[i].type);
            continue;
        }
        kept = i;
        t->elems[n++] = v[i].type;
    }
    for (size_t i = 0; i < t->nelems; i++) buf_free(&v[i].name);
    free(v);
    t->nelems = n;
    /* 255 is the discriminator of NULL. */
    if (n > 255) return fail(c, "a Variant holds at most 255 types");
    return 0;
}

/* Tuple(T, U), Tuple(a T, b U), Nested(a T, b U), Map(K, V), Variant(T, U). */
static int parse_elements(cursor *c, int depth, chtype_kind kind, chtype **out) {
    chtype *t = new_type(kind);
    size_t cap = 4;
    t->elems = xcalloc(cap, sizeof *t->elems);
    t->names = xcalloc(cap, sizeof *t->names);
    int named = -1;
    if (expect(c, '(')) goto bad;
    for (;;) {
        if (t->nelems == cap) {
            cap *= 2;
            chtype **e = realloc(t->elems, cap * sizeof *e);
            char **nm = e ? realloc(t->names, cap * sizeof *nm) : NULL;
            if (!e || !nm) oom();
            t->elems = e;
            t->names = nm;
        }
        char *name = NULL;
        int has_name = kind == CT_MAP || kind == CT_VARIANT ? 0 : parse_element_name(c, &name);
        if (has_name < 0) goto bad;
        if (named >= 0 && named != has_name) {
            free(name);
            fail(c, "either every element of a Tuple has a name or none has");
            goto bad;
        }
        named = has_name;
        t->names[t->nelems] = name;
        t->elems[t->nelems] = NULL;
        if (parse_type(c, depth, &t->elems[t->nelems])) {
            free(name);
            goto bad;
        }
        t->nelems++;
        skip_space(c);
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (expect(c, ')')) goto bad;
        break;
    }
    if (kind == CT_NESTED && !named) {
        fail(c, "every element of Nested needs a name");
        goto bad;
    }
    if (named) {
        for (size_t i = 0; i < t->nelems; i++)
            for (size_t j = 0; j < i; j++)
                if (strcmp(t->names[i], t->names[j]) == 0) {
                    fail(c, "element name '%s' is given twice", t->names[i]);
                    goto bad;
                }
    } else {
        free(t->names);
        t->names = NULL;
    }
    if (kind == CT_MAP) {
        if (t->nelems != 2) {
            fail(c, "Map takes a key type and a value type");
            goto bad;
        }
        const chtype *key = t->elems[0];
        const chtype *base = key->kind == CT_LOWCARDINALITY ? key->inner : key;
        switch (base->kind) {
        case CT_NULLABLE:
            fail(c, "a Map key cannot be Nullable");
            goto bad;
        case CT_ARRAY: case CT_MAP: case CT_TUPLE: case CT_NESTED: case CT_VARIANT:
            fail(c, "Map keys come from JSON object keys, which are strings: a key of Array, "
                    "Map, Tuple or Variant type is not supported");
            goto bad;
        default:
            break;
        }
    }
    if (kind == CT_VARIANT && variant_settle(c, t)) goto bad;
    *out = t;
    return 0;
bad:
    chtype_free(t);
    return -1;
}

static int parse_type(cursor *c, int depth, chtype **out) {
    skip_space(c);
    const char *start = c->p;
    if (depth >= MAX_TYPE_DEPTH) return fail(c, "type nested more than %d levels deep", MAX_TYPE_DEPTH);
    if (!is_ident_start((unsigned char)*c->p)) return fail(c, "expected a type at \"%.40s\"", here(c));
    while (is_ident_char((unsigned char)*c->p)) c->p++;
    size_t n = (size_t)(c->p - start);
    depth++;

    for (size_t i = 0; i < sizeof simple_types / sizeof simple_types[0]; i++) {
        if (strlen(simple_types[i].name) == n && memcmp(simple_types[i].name, start, n) == 0) {
            skip_space(c);
            if (*c->p == '(') break; /* parameters on a simple type: refuse below */
            *out = new_type(simple_types[i].kind);
            return 0;
        }
    }
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(start, lit, n) == 0)
    if (IS("Nullable")) return parse_wrapper(c, depth, CT_NULLABLE, out);
    if (IS("LowCardinality")) return parse_wrapper(c, depth, CT_LOWCARDINALITY, out);
    if (IS("Array")) return parse_wrapper(c, depth, CT_ARRAY, out);
    if (IS("Map")) return parse_elements(c, depth, CT_MAP, out);
    if (IS("Tuple")) return parse_elements(c, depth, CT_TUPLE, out);
    if (IS("Nested")) return parse_elements(c, depth, CT_NESTED, out);
    if (IS("Variant")) return parse_elements(c, depth, CT_VARIANT, out);
    if (IS("DateTime")) return parse_datetime(c, 0, out);
    if (IS("DateTime64")) return parse_datetime(c, 1, out);
    if (IS("Decimal")) return parse_decimal(c, 0, out);
    if (IS("Decimal32")) return parse_decimal(c, 9, out);
    if (IS("Decimal64")) return parse_decimal(c, 18, out);
    if (IS("Decimal128")) return parse_decimal(c, 38, out);
    if (IS("Decimal256")) return parse_decimal(c, 76, out);
    if (IS("FixedString")) return parse_fixedstring(c, out);
    if (IS("Enum")) return parse_enum(c, 0, out);
    if (IS("Enum8")) return parse_enum(c, 8, out);
    if (IS("Enum16")) return parse_enum(c, 16, out);
#undef IS
    char text[128];
    type_text(start, text, sizeof text);
    return fail(c, "unsupported type '%s'", text);
}

int chtype_parse(const char *text, chtype **out, char *err, size_t errlen) {
    cursor c = {text, NULL, err, errlen};
    *out = NULL;
    if (parse_type(&c, 0, out)) return -1;
    skip_space(&c);
    if (*c.p) {
        chtype_free(*out);
        *out = NULL;
        return fail(&c, "unexpected text after type: \"%.40s\"", c.p);
    }
    return 0;
}

/* A column name: a bare identifier (dots allowed, as in the flattened
 * columns of a Nested one), or quoted with backquotes or double quotes as
 * ClickHouse allows. */
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
        *out = xstrndup(start, n);
        return 0;
    }
    if (!is_ident_start((unsigned char)*c->p))
        return fail(c, "expected a column name at \"%.40s\"", here(c));
    while (is_ident_char((unsigned char)*c->p) || (*c->p == '.' && is_ident_start((unsigned char)c->p[1])))
        c->p++;
    *out = xstrndup(start, (size_t)(c->p - start));
    return 0;
}

/* An optional path after the type: "PATH '$.a.b'" or ":$.a.b", quoted or
 * bare (a bare path ends at whitespace or at a ',' outside brackets). */
static int parse_path(cursor *c, fieldpath **out) {
    skip_space(c);
    *out = NULL;
    if (*c->p == ':') {
        c->p++;
    } else if (strncasecmp(c->p, "PATH", 4) == 0 && isspace((unsigned char)c->p[4])) {
        c->p += 4;
    } else {
        return 0;
    }
    skip_space(c);
    char *text = NULL;
    size_t n;
    if (*c->p == '\'') {
        if (parse_quoted(c, &text, &n)) return -1;
    } else {
        const char *start = c->p;
        int depth = 0;
        char quote = 0;
        for (; *c->p; c->p++) {
            if (quote) {
                if (*c->p == '\\' && c->p[1]) c->p++;
                else if (*c->p == quote) quote = 0;
            } else if (*c->p == '[') depth++;
            else if (*c->p == ']') depth--;
            else if (depth > 0 && (*c->p == '"' || *c->p == '\'')) quote = *c->p;
            else if (depth == 0 && (*c->p == ',' || isspace((unsigned char)*c->p))) break;
        }
        n = (size_t)(c->p - start);
        text = xstrndup(start, n);
    }
    char why[300];
    int rc = fieldpath_parse(text, n, out, why, sizeof why);
    free(text);
    if (rc) return fail(c, "%s", why);
    return 0;
}

static void add_column(chcolumns *out, size_t *cap, char *name, chtype *type, fieldpath *path) {
    if (out->n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        chcolumn *v = realloc(out->v, *cap * sizeof *v);
        if (!v) oom();
        out->v = v;
    }
    out->v[out->n].name = name;
    out->v[out->n].type = type;
    out->v[out->n].path = path;
    out->n++;
}

/* A Nested column becomes one Array column per element, named
 * "column.element", as ClickHouse flattens it.  Consumes t. */
static void add_nested(chcolumns *out, size_t *cap, const char *name, chtype *t) {
    size_t len = strlen(name);
    for (size_t i = 0; i < t->nelems; i++) {
        size_t elen = strlen(t->names[i]);
        char *full = xcalloc(len + elen + 2, 1);
        memcpy(full, name, len);
        full[len] = '.';
        memcpy(full + len + 1, t->names[i], elen);
        chtype *array = new_type(CT_ARRAY);
        array->inner = t->elems[i];
        t->elems[i] = NULL;
        add_column(out, cap, full, array, NULL);
    }
    chtype_free(t);
}

typedef struct named_index {
    const char *name;
    size_t index;
} named_index;

static int named_index_cmp(const void *a, const void *b) {
    const named_index *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* The first column whose name an earlier column has, or cols->n.  Sorted,
 * not compared pairwise: a list of 60,000 columns took 18 s to check. */
static size_t first_repeated(const chcolumns *cols) {
    size_t first = cols->n;
    if (cols->n < 2) return first;
    named_index *v = xcalloc(cols->n, sizeof *v);
    for (size_t i = 0; i < cols->n; i++) v[i] = (named_index){cols->v[i].name, i};
    qsort(v, cols->n, sizeof *v, named_index_cmp);
    for (size_t i = 1; i < cols->n; i++)
        if (!strcmp(v[i].name, v[i - 1].name) && v[i].index < first) first = v[i].index;
    free(v);
    return first;
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
        fieldpath *path = NULL;
        if (parse_name(&c, &name)) goto bad;
        c.column = name;
        skip_space(&c);
        if (*c.p == ':') c.p++;
        if (parse_type(&c, 0, &type) || parse_path(&c, &path)) {
            chtype_free(type);
            free(name);
            goto bad;
        }
        if (type->kind == CT_NESTED) {
            if (path) {
                fail(&c, "a Nested column cannot have a PATH; give its flattened columns one");
                chtype_free(type);
                fieldpath_free(path);
                free(name);
                goto bad;
            }
            add_nested(out, &cap, name, type);
            free(name);
        } else {
            add_column(out, &cap, name, type, path);
        }
        c.column = NULL;
        skip_space(&c);
        if (*c.p != '\0' && *c.p != ',') {
            fail(&c, "expected ',' between columns at \"%.40s\"", c.p);
            goto bad;
        }
        if (*c.p == '\0') break;
        c.p++;
    }
    size_t twice = first_repeated(out);
    if (twice < out->n) {
        c.column = out->v[twice].name;
        fail(&c, "the column is listed twice");
        goto bad;
    }
    return 0;
bad:
    chcolumns_free(out);
    return -1;
}

void chcolumns_free(chcolumns *cols) {
    for (size_t i = 0; i < cols->n; i++) {
        free(cols->v[i].name);
        chtype_free(cols->v[i].type);
        fieldpath_free(cols->v[i].path);
    }
    free(cols->v);
    cols->v = NULL;
    cols->n = 0;
}

void chtype_free(chtype *t) {
    if (!t) return;
    chtype_free(t->inner);
    for (size_t i = 0; i < t->nelems; i++) {
        chtype_free(t->elems[i]);
        if (t->names) free(t->names[i]);
    }
    free(t->elems);
    free(t->names);
    for (size_t i = 0; i < t->nitems; i++) free(t->items[i].name);
    free(t->items);
    free(t->by_name);
    free(t->timezone);
    tz_free(t->zone);
    free(t);
}

static void put_str(buf *out, const char *s) { buf_put(out, s, strlen(s)); }

static void put_quoted(buf *out, const char *s, size_t n) {
    buf_u8(out, '\'');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'' || s[i] == '\\') buf_u8(out, '\\');
        buf_u8(out, (uint8_t)s[i]);
    }
    buf_u8(out, '\'');
}

/* Element names are printed bare when they are identifiers, else in
 * backquotes, as ClickHouse prints them. */
static void put_element_name(buf *out, const char *s) {
    int bare = is_ident_start((unsigned char)s[0]);
    for (const char *p = s; *p; p++)
        if (!is_ident_char((unsigned char)*p)) bare = 0;
    if (bare) {
        put_str(out, s);
        return;
    }
    buf_u8(out, '`');
    for (; *s; s++) {
        if (*s == '`' || *s == '\\') buf_u8(out, '\\');
        buf_u8(out, (uint8_t)*s);
    }
    buf_u8(out, '`');
}

static void put_number(buf *out, const char *fmt, long v) {
    char num[32];
    int len = snprintf(num, sizeof num, fmt, v);
    buf_put(out, num, (size_t)len);
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
    case CT_ARRAY:
        put_str(out, t->kind == CT_NULLABLE ? "Nullable(" : t->kind == CT_ARRAY ? "Array(" : "LowCardinality(");
        chtype_format(t->inner, out);
        buf_u8(out, ')');
        return;
    case CT_DATETIME:
        put_str(out, "DateTime");
        if (t->timezone) {
            buf_u8(out, '(');
            put_quoted(out, t->timezone, strlen(t->timezone));
            buf_u8(out, ')');
        }
        return;
    case CT_DATETIME64:
        put_number(out, "DateTime64(%ld", (long)t->precision);
        if (t->timezone) {
            put_str(out, ", ");
            put_quoted(out, t->timezone, strlen(t->timezone));
        }
        buf_u8(out, ')');
        return;
    case CT_DECIMAL:
        put_number(out, "Decimal(%ld, ", (long)t->precision);
        put_number(out, "%ld)", (long)t->scale);
        return;
    case CT_FIXEDSTRING:
        put_number(out, "FixedString(%ld)", (long)t->length);
        return;
    case CT_ENUM8:
    case CT_ENUM16:
        put_str(out, t->kind == CT_ENUM8 ? "Enum8(" : "Enum16(");
        for (size_t i = 0; i < t->nitems; i++) {
            if (i) put_str(out, ", ");
            put_quoted(out, t->items[i].name, t->items[i].name_len);
            put_number(out, " = %ld", t->items[i].value);
        }
        buf_u8(out, ')');
        return;
    case CT_MAP:
    case CT_TUPLE:
    case CT_NESTED:
    case CT_VARIANT:
        put_str(out, t->kind == CT_MAP ? "Map(" : t->kind == CT_TUPLE ? "Tuple(" : t->kind == CT_NESTED ? "Nested(" : "Variant(");
        for (size_t i = 0; i < t->nelems; i++) {
            if (i) put_str(out, ", ");
            if (t->names) {
                put_element_name(out, t->names[i]);
                buf_u8(out, ' ');
            }
            chtype_format(t->elems[i], out);
        }
        buf_u8(out, ')');
        return;
    default:
        return; /* every simple kind was handled by the table above */
    }
}

size_t chtype_fixed_size(const chtype *t) {
    switch (t->kind) {
    case CT_INT8: case CT_UINT8: case CT_BOOL: case CT_ENUM8: return 1;
    case CT_INT16: case CT_UINT16: case CT_DATE: case CT_BFLOAT16: case CT_ENUM16: return 2;
    case CT_INT32: case CT_UINT32: case CT_FLOAT32: case CT_DATETIME: case CT_DATE32: case CT_IPV4: return 4;
    case CT_INT64: case CT_UINT64: case CT_FLOAT64: case CT_DATETIME64: return 8;
    case CT_INT128: case CT_UINT128: case CT_UUID: case CT_IPV6: return 16;
    case CT_INT256: case CT_UINT256: return 32;
    case CT_DECIMAL: return t->precision <= 9 ? 4 : t->precision <= 18 ? 8 : t->precision <= 38 ? 16 : 32;
    case CT_FIXEDSTRING: return t->length;
    case CT_LOWCARDINALITY: return chtype_fixed_size(t->inner);
    case CT_TUPLE: {
        size_t sum = 0;
        for (size_t i = 0; i < t->nelems; i++) {
            size_t n = chtype_fixed_size(t->elems[i]);
            if (n == 0) return 0;
            sum += n;
        }
        return sum;
    }
    case CT_STRING: case CT_NULLABLE: case CT_ARRAY: case CT_MAP: case CT_NESTED: case CT_VARIANT: return 0;
    }
    return 0;
}

int chtype_has_variant(const chtype *t) {
    if (t->kind == CT_VARIANT) return 1;
    if (t->inner && chtype_has_variant(t->inner)) return 1;
    for (size_t i = 0; i < t->nelems; i++)
        if (chtype_has_variant(t->elems[i])) return 1;
    return 0;
}

const chtype *chtype_base(const chtype *t) {
    while (t->kind == CT_NULLABLE || t->kind == CT_LOWCARDINALITY) t = t->inner;
    return t;
}

const chtype_enum_item *chtype_enum_by_name(const chtype *t, const char *s, size_t n) {
    size_t lo = 0, hi = t->nitems;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const chtype_enum_item *it = &t->items[t->by_name[mid]];
        int r = compare_names(it->name, it->name_len, s, n);
        if (r == 0) return it;
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const chtype_enum_item *chtype_enum_by_value(const chtype *t, long v) {
    size_t lo = 0, hi = t->nitems;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->items[mid].value == v) return &t->items[mid];
        if (t->items[mid].value < v) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}
