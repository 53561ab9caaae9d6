/*
 * formats/msgpack.c - MessagePack messages, in two shapes:
 *
 *   msgpack             one map per message, fields by name, read exactly
 *                       as the same record written as a JSON object;
 *   msgpack-positional  ClickHouse's own MsgPack format: one value per
 *                       column, in column order, no names, nothing around
 *                       them.
 *
 * docs/msgpack-rules.md states every rule and every difference from
 * ClickHouse.  In short: integers, floats, str, bin, arrays, maps, nil and
 * the timestamp extension (type -1) go to every type the bridge supports;
 * a value that does not fit its column is an error, never a wraparound.
 *
 * msgpack-c parses each message into an object tree held in one zone that
 * is cleared, not freed, between messages (msgpack_unpack with our own
 * zone); strings and bins point into the message (zero-copy).  Scalars the
 * map shape cannot write directly (a str into a Date, say) go through
 * jsonvalue_put_scalar, so that the text rules exist once.
 */
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldtree.h"
#include "formats.h"
#include "json.h"
#include "jsonvalue.h"
#include "rbwriter.h"

#define ZONE_CHUNK 8192

typedef struct mpdec {
    const rowplan *plan;
    field_source source;
    int positional;
    const void *data;    /* the message, for byte offsets */
    msgpack_zone zone;
    fieldtree tree;
    jsonvalue text;      /* JSON's rules for text */
    char number[64];     /* a number's text for those rules */
    size_t *order;       /* positional: the value columns, in order */
    size_t norder;
} mpdec;

static const char *kind_name(const msgpack_object *o) {
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "a float";
    case MSGPACK_OBJECT_STR: return "a str";
    case MSGPACK_OBJECT_BIN: return "a bin";
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    case MSGPACK_OBJECT_EXT: return "an ext value";
    }
    return "an unknown value";
}

static int fail_type(row_error *e, const chtype *t, const msgpack_object *o) {
    buf name;
    buf_init(&name, 32);
    chtype_format(t, &name);
    kb_row_fail(e, "%s cannot be %.*s", kind_name(o), (int)name.len, (const char *)name.data);
    buf_free(&name);
    return -1;
}

/* The byte offset of a str, bin or ext value (which point into the
 * message); -1 for others. */
static long offset_of(const mpdec *d, const msgpack_object *o) {
    const char *p = NULL;
    if (o->type == MSGPACK_OBJECT_STR) p = o->via.str.ptr;
    else if (o->type == MSGPACK_OBJECT_BIN) p = o->via.bin.ptr;
    else if (o->type == MSGPACK_OBJECT_EXT) p = o->via.ext.ptr;
    return p ? (long)(p - (const char *)d->data) : -1;
}

/* The shortest text that reads back as x, spelled as JSON writers print
 * floats (Python's repr, JavaScript's toString): fixed notation with at
 * least one decimal for exponents -4..15, else d.ddde+XX. */
static size_t float_text(double x, char *out, size_t outlen) {
    char sci[40];
    if (!isfinite(x)) return (size_t)snprintf(out, outlen, "%s", isnan(x) ? "nan" : x < 0 ? "-inf" : "inf");
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec, x);
        if (strtod(sci, NULL) == x) break;
    }
    /* sci is [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0, o = 0;
    const char *p = sci;
    int negative = *p == '-';
    if (negative) p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (negative && o + 1 < outlen) out[o++] = '-';
    if (exp10 < -4 || exp10 >= 16) {
        return o + (size_t)snprintf(out + o, outlen - o, "%c%s%.*se%c%02d", digits[0], nd > 1 ? "." : "",
                                    (int)(nd - 1), digits + 1, exp10 < 0 ? '-' : '+', abs(exp10));
    }
    char fixed[48];
    size_t f = 0;
    if (exp10 < 0) {
        fixed[f++] = '0';
        fixed[f++] = '.';
        for (int i = -1; i > exp10; i--) fixed[f++] = '0';
        for (size_t i = 0; i < nd; i++) fixed[f++] = digits[i];
    } else {
        for (int i = 0; i <= exp10; i++) fixed[f++] = (size_t)i < nd ? digits[i] : '0';
        fixed[f++] = '.';
        if ((size_t)exp10 + 1 < nd)
            for (size_t i = (size_t)exp10 + 1; i < nd; i++) fixed[f++] = digits[i];
        else
            fixed[f++] = '0';
    }
    fixed[f] = '\0';
    return o + (size_t)snprintf(out + o, outlen - o, "%s", fixed);
}

static int put(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e);

/* ---- scalars -------------------------------------------------------------- */

/* By JSON's rules, a number's text. */
static int as_json_number(mpdec *d, const chtype *t, const char *s, size_t n, buf *dst, row_error *e) {
    return jsonvalue_put_scalar(&d->text, t, KB_JSON_NUMBER, s, n, dst, e);
}

/* Sign and magnitude from a MessagePack integer. */
static void int_parts(const msgpack_object *o, int *negative, uint64_t *magnitude) {
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *negative = 0;
        *magnitude = o->via.u64;
    } else {
        *negative = o->via.i64 < 0;
        *magnitude = *negative ? (uint64_t)0 - (uint64_t)o->via.i64 : (uint64_t)o->via.i64;
    }
}

static int put_integer(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    int negative;
    uint64_t m;
    int_parts(o, &negative, &m);
    switch (t->kind) {
    case CT_INT8: case CT_INT16: case CT_INT32: case CT_INT64: case CT_INT128: case CT_INT256:
    case CT_UINT8: case CT_UINT16: case CT_UINT32: case CT_UINT64: case CT_UINT128: case CT_UINT256:
        return rbw_int(dst, t, negative, m, e);
    case CT_FLOAT64:
        rbw_f64(dst, t, negative ? -(double)m : (double)m);
        return 0;
    case CT_FLOAT32: case CT_BFLOAT16:
        rbw_f32(dst, t, negative ? -(float)m : (float)m);
        return 0;
    case CT_ENUM8: case CT_ENUM16:
        if (m > 32768) return kb_row_fail(e, "%s%" PRIu64 " is not an element of the Enum", negative ? "-" : "", m);
        return rbw_enum_value(dst, t, negative ? -(long)m : (long)m, e);
    case CT_DATE: case CT_DATE32:
        return rbw_days(dst, t, m > INT64_MAX ? (negative ? INT64_MIN : INT64_MAX)
                                              : negative ? -(int64_t)m : (int64_t)m, e);
    default:
        break;
    }
    if (d->positional) {
        /* ClickHouse's MsgPack: an integer is the stored value itself. */
        int64_t v = m > INT64_MAX ? (negative ? INT64_MIN : INT64_MAX) : negative ? -(int64_t)m : (int64_t)m;
        switch (t->kind) {
        case CT_DATETIME:
            return rbw_time(dst, t, v, 0, e);
        case CT_DATETIME64: {
            static const int64_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000,
                                              10000000, 100000000, 1000000000};
            int64_t scale = pow10[t->precision];
            int64_t s = v / scale, r = v % scale;
            if (r < 0) {
                s -= 1;
                r += scale;
            }
            return rbw_time(dst, t, s, (uint32_t)(r * pow10[9 - t->precision]), e);
        }
        case CT_DECIMAL: {
            wideint w = {{m, 0, 0, 0}};
            return rbw_decimal(dst, t, negative, &w, e);
        }
        case CT_IPV4:
            if (negative || m > UINT32_MAX) return kb_row_fail(e, "value %s%" PRIu64 " is out of range for IPv4", negative ? "-" : "", m);
            rbw_ipv4(dst, (uint32_t)m);
            return 0;
        case CT_BOOL:
            if (m > 1) return kb_row_fail(e, "expected 0 or 1, got %s%" PRIu64, negative ? "-" : "", m);
            rbw_bool(dst, (int)m);
            return 0;
        default:
            break;
        }
    }
    int n = snprintf(d->number, sizeof d->number, "%s%" PRIu64, negative ? "-" : "", m);
    return as_json_number(d, t, d->number, (size_t)n, dst, e);
}

static int put_float(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    double x = o->via.f64;
    if (t->kind == CT_FLOAT64) {
        rbw_f64(dst, t, x);
        return 0;
    }
    if ((t->kind == CT_FLOAT32 || t->kind == CT_BFLOAT16) && o->type == MSGPACK_OBJECT_FLOAT32) {
        rbw_f32(dst, t, (float)x); /* exact: it was a float */
        return 0;
    }
    size_t n = float_text(x, d->number, sizeof d->number);
    return as_json_number(d, t, d->number, n, dst, e);
}

static int put_bool(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    int b = o->via.boolean;
    if (t->kind == CT_BOOL) {
        rbw_bool(dst, b);
        return 0;
    }
    return jsonvalue_put_scalar(&d->text, t, b ? KB_JSON_TRUE : KB_JSON_FALSE, b ? "true" : "false",
                                b ? 4 : 5, dst, e);
}

static int put_str(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    const char *s = o->via.str.ptr;
    size_t n = o->via.str.size;
    if (t->kind == CT_STRING) {
        rbw_string(dst, s, n);
        return 0;
    }
    if (t->kind == CT_FIXEDSTRING) return rbw_fixedstring(dst, t, s, n, e);
    return jsonvalue_put_scalar(&d->text, t, KB_JSON_STRING, s, n, dst, e);
}

/* Little-endian two's complement bytes as sign and magnitude. */
static void le_bytes(const unsigned char *p, size_t n, int *negative, wideint *mag) {
    wide_zero(mag);
    for (size_t i = 0; i < n; i++) mag->limb[i / 8] |= (uint64_t)p[i] << (8 * (i % 8));
    *negative = n && (p[n - 1] & 0x80);
    if (*negative) { /* magnitude = ~v + 1 over n bytes */
        unsigned carry = 1;
        for (size_t i = 0; i < 4; i++) {
            uint64_t mask = i * 8 < n ? (n - i * 8 >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * (n - i * 8))) - 1) : 0;
            uint64_t x = (~mag->limb[i] & mask) + carry;
            carry = carry && x == 0 && mask;
            mag->limb[i] = x & mask;
        }
    }
}

/* bin: bytes for String and FixedString; for UUID, IPv6, the wide
 * integers and wide Decimals, their RowBinary bytes as ClickHouse's MsgPack
 * input takes them. */
static int put_bin(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    const unsigned char *p = (const unsigned char *)o->via.bin.ptr;
    size_t n = o->via.bin.size, want = 0;
    (void)d;
    switch (t->kind) {
    case CT_STRING:
        rbw_string(dst, p, n);
        return 0;
    case CT_FIXEDSTRING:
        return rbw_fixedstring(dst, t, p, n, e);
    case CT_UUID: case CT_IPV6: case CT_INT128: case CT_UINT128:
        want = 16;
        break;
    case CT_INT256: case CT_UINT256:
        want = 32;
        break;
    case CT_DECIMAL:
        want = chtype_fixed_size(t);
        if (want < 16) return fail_type(e, t, o);
        break;
    default:
        return fail_type(e, t, o);
    }
    if (n != want) {
        buf name;
        buf_init(&name, 32);
        chtype_format(t, &name);
        kb_row_fail(e, "a bin of %zu bytes cannot be %.*s (it takes %zu)", n, (int)name.len, (const char *)name.data, want);
        buf_free(&name);
        return -1;
    }
    if (t->kind == CT_DECIMAL) { /* the digits still have to fit */
        int negative;
        wideint mag;
        le_bytes(p, n, &negative, &mag);
        return rbw_decimal(dst, t, negative, &mag, e);
    }
    buf_put(dst, p, n);
    return 0;
}

static uint64_t be(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* ext -1 (timestamp) into DateTime/DateTime64; ext 2 (ClickHouse's UUID,
 * 16 bytes big-endian) into UUID. */
static int put_ext(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    const unsigned char *p = (const unsigned char *)o->via.ext.ptr;
    size_t n = o->via.ext.size;
    (void)d;
    if (o->via.ext.type == -1) {
        int64_t seconds;
        uint64_t nanos;
        if (n == 4) {
            seconds = (int64_t)be(p, 4);
            nanos = 0;
        } else if (n == 8) {
            uint64_t v = be(p, 8);
            nanos = v >> 34;
            seconds = (int64_t)(v & (((uint64_t)1 << 34) - 1));
        } else if (n == 12) {
            nanos = be(p, 4);
            seconds = (int64_t)be(p + 4, 8);
        } else {
            return kb_row_fail(e, "a timestamp extension of %zu bytes (expected 4, 8 or 12)", n);
        }
        if (nanos > 999999999) return kb_row_fail(e, "a timestamp extension with %" PRIu64 " nanoseconds", nanos);
        if (t->kind != CT_DATETIME && t->kind != CT_DATETIME64) return fail_type(e, t, o);
        return rbw_time(dst, t, seconds, (uint32_t)nanos, e);
    }
    if (o->via.ext.type == 2 && n == 16 && t->kind == CT_UUID) {
        rbw_uuid(dst, p);
        return 0;
    }
    if (o->via.ext.type != 2) return kb_row_fail(e, "unsupported MessagePack extension type %d", o->via.ext.type);
    return fail_type(e, t, o);
}

/* ---- composites ----------------------------------------------------------- */

/* A named Tuple from a map: elements by name, in the type's order;
 * missing ones get defaults, unknown keys are skipped. */
static int put_named(mpdec *d, const chtype *t, const msgpack_object_map *m, buf *dst, row_error *e) {
    for (size_t i = 0; i < t->nelems; i++) {
        const msgpack_object *found = NULL;
        size_t len = strlen(t->names[i]);
        for (uint32_t k = 0; k < m->size; k++) {
            const msgpack_object *key = &m->ptr[k].key;
            if (key->type != MSGPACK_OBJECT_STR || key->via.str.size != len ||
                memcmp(key->via.str.ptr, t->names[i], len) != 0)
                continue;
            if (found) return kb_row_fail(e, "Tuple element '%s' given twice", t->names[i]);
            found = &m->ptr[k].val;
        }
        if (!found) rbw_default(dst, t->elems[i]);
        else if (put(d, t->elems[i], found, dst, e)) return -1;
    }
    return 0;
}

static int put_tuple(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    if (o->type == MSGPACK_OBJECT_MAP && t->names) return put_named(d, t, &o->via.map, dst, e);
    if (o->type != MSGPACK_OBJECT_ARRAY) return fail_type(e, t, o);
    if (o->via.array.size != t->nelems)
        return kb_row_fail(e, "expected a Tuple of %zu elements, got %" PRIu32, t->nelems, o->via.array.size);
    for (size_t i = 0; i < t->nelems; i++)
        if (put(d, t->elems[i], &o->via.array.ptr[i], dst, e)) return -1;
    return 0;
}

static int put_array(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    if (o->type != MSGPACK_OBJECT_ARRAY) return fail_type(e, t, o);
    rbw_count(dst, o->via.array.size);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *x = &o->via.array.ptr[i];
        if (t->kind != CT_NESTED) {
            if (put(d, t->inner, x, dst, e)) return -1;
        } else if (x->type == MSGPACK_OBJECT_NIL) { /* a nil element: all defaults */
            for (size_t k = 0; k < t->nelems; k++) rbw_default(dst, t->elems[k]);
        } else if (put_tuple(d, t, x, dst, e)) {
            return -1;
        }
    }
    return 0;
}

static int put_map(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    if (o->type != MSGPACK_OBJECT_MAP) return fail_type(e, t, o);
    rbw_count(dst, o->via.map.size);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        if (put(d, t->elems[0], &o->via.map.ptr[i].key, dst, e) ||
            put(d, t->elems[1], &o->via.map.ptr[i].val, dst, e))
            return -1;
    }
    return 0;
}

/* ---- dispatch --------------------------------------------------------- */

static int put(mpdec *d, const chtype *t, const msgpack_object *o, buf *dst, row_error *e) {
    if (t->kind == CT_LOWCARDINALITY) t = t->inner;
    if (o->type == MSGPACK_OBJECT_NIL) {
        rbw_default(dst, t);
        return 0;
    }
    t = rbw_present(dst, t);
    switch (t->kind) {
    case CT_ARRAY: case CT_NESTED:
        return put_array(d, t, o, dst, e);
    case CT_MAP:
        return put_map(d, t, o, dst, e);
    case CT_TUPLE:
        return put_tuple(d, t, o, dst, e);
    default:
        break;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return put_integer(d, t, o, dst, e);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return put_float(d, t, o, dst, e);
    case MSGPACK_OBJECT_BOOLEAN:
        return put_bool(d, t, o, dst, e);
    case MSGPACK_OBJECT_STR:
        return put_str(d, t, o, dst, e);
    case MSGPACK_OBJECT_BIN:
        return put_bin(d, t, o, dst, e);
    case MSGPACK_OBJECT_EXT:
        return put_ext(d, t, o, dst, e);
    default:
        return fail_type(e, t, o);
    }
}

/* ---- rows ----------------------------------------------------------------- */

static int put_column(mpdec *d, rowbuild *rb, size_t col, const msgpack_object *o, row_error *e) {
    const plan_column *pc = &d->plan->cols[col];
    buf *dst = rowbuild_open(rb, col, e);
    if (!dst) {
        e->byte = offset_of(d, o);
        return -1;
    }
    if (put(d, pc->type, o, dst, e)) {
        e->column = pc->name;
        if (e->byte < 0) e->byte = offset_of(d, o);
        return -1;
    }
    return rowbuild_close(rb, col, e);
}

/* The value o is at path node `node`: its columns, then its children. */
static int visit(mpdec *d, rowbuild *rb, uint32_t node, const msgpack_object *o, row_error *e) {
    const fieldtree *t = &d->tree;
    for (int col = t->nodes[node].column; col >= 0; col = t->same[col])
        if (put_column(d, rb, (size_t)col, o, e)) return -1;
    if (!t->nodes[node].first_child || o->type == MSGPACK_OBJECT_NIL) return 0;
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR) continue;
            uint32_t child = fieldtree_key_child(t, node, k->via.str.ptr, k->via.str.size);
            if (child && visit(d, rb, child, &o->via.map.ptr[i].val, e)) return -1;
        }
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            uint32_t child = fieldtree_index_child(t, node, i);
            if (child && visit(d, rb, child, &o->via.array.ptr[i], e)) return -1;
        }
        return 0;
    }
    e->column = d->plan->cols[t->nodes[t->nodes[node].first_child].any_column].name;
    e->byte = offset_of(d, o);
    return kb_row_fail(e, "the column's path needs a map or an array here, got %s", kind_name(o));
}

/* msgpack-c allocates an array's or map's elements as soon as it reads
 * the count, before it has seen them: a 5-byte message can declare four
 * billion elements.  So `count` values starting at p are checked first, in
 * one pass and without recursion: every element takes at least a byte, so
 * no container may declare more elements than bytes remain, and every
 * length must lie within the message.  Returns the offset after the
 * values, or -1 with e filled. */
static long check_values(const unsigned char *p, size_t n, size_t at, size_t count, row_error *e) {
    static const unsigned char fixed[32] = {
        /* 0xc0..0xdf: payload bytes after the type byte, for fixed sizes */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 1, 2, 4, 8,
        1, 2, 4, 8, 2, 3, 5, 9, 17, 0, 0, 0, 0, 0, 0, 0};
    uint64_t need = count; /* values still to read */
    size_t i = at;
    while (need) {
        if (i >= n) goto short_;
        unsigned b = p[i++];
        need--;
        uint64_t len = 0, elems = 0;
        if (b <= 0x7f || b >= 0xe0) continue;
        if (b <= 0x8f) elems = 2 * (uint64_t)(b & 0x0f);
        else if (b <= 0x9f) elems = b & 0x0f;
        else if (b <= 0xbf) len = b & 0x1f;
        else {
            size_t w = 0;
            switch (b) {
            case 0xc1:
                e->byte = (long)(i - 1);
                return kb_row_fail(e, "malformed MessagePack: byte 0xc1 is never used");
            case 0xc4: case 0xd9: w = 1; break;                  /* bin8, str8 */
            case 0xc5: case 0xda: w = 2; break;                  /* bin16, str16 */
            case 0xc6: case 0xdb: w = 4; break;                  /* bin32, str32 */
            case 0xc7: w = 1; len = 1; break;                    /* ext8: + type */
            case 0xc8: w = 2; len = 1; break;
            case 0xc9: w = 4; len = 1; break;
            case 0xdc: case 0xde: w = 2; break;                  /* array16, map16 */
            case 0xdd: case 0xdf: w = 4; break;                  /* array32, map32 */
            default: len = fixed[b - 0xc0]; break;
            }
            if (w) {
                if (n - i < w) goto short_;
                uint64_t v = be(p + i, w);
                i += w;
                if (b == 0xdc || b == 0xdd) elems = v;
                else if (b == 0xde || b == 0xdf) elems = 2 * v;
                else len += v;
            }
        }
        if (len > n - i) goto short_;
        i += (size_t)len;
        need += elems;
        if (need > n - i) {
            e->byte = (long)i;
            return kb_row_fail(e, "malformed MessagePack: a container declares more elements than the message holds");
        }
    }
    return (long)i;
short_:
    e->byte = (long)n;
    return kb_row_fail(e, "malformed MessagePack: the value ends early");
}

static int unpack_error(row_error *e, msgpack_unpack_return rc, size_t at) {
    e->byte = (long)at;
    if (rc == MSGPACK_UNPACK_CONTINUE) return kb_row_fail(e, "malformed MessagePack: the value ends early");
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR) return kb_row_fail(e, "MessagePack value too large for memory");
    return kb_row_fail(e, "malformed MessagePack");
}

static int mp_decode(void *state, rowbuild *rb, const void *data, size_t n, row_error *e) {
    mpdec *d = state;
    const char *what = d->source == FIELD_KEY ? "key" : "value";
    if (!data)
        return kb_row_fail(e, "message has no %s%s; expected MessagePack", what,
                    d->source == FIELD_KEY ? "" : " (a tombstone)");
    d->data = data;
    msgpack_zone_clear(&d->zone);
    size_t off = 0;
    msgpack_object o;
    if (d->positional && d->source == FIELD_VALUE) {
        for (size_t k = 0; k < d->norder; k++) {
            size_t at = off;
            if (at == n)
                return kb_row_fail(e, "expected %zu MessagePack values (one per column), got %zu", d->norder, k);
            if (check_values(data, n, at, 1, e) < 0) return -1;
            msgpack_unpack_return rc = msgpack_unpack(data, n, &off, &d->zone, &o);
            if (rc != MSGPACK_UNPACK_SUCCESS && rc != MSGPACK_UNPACK_EXTRA_BYTES) return unpack_error(e, rc, at);
            if (put_column(d, rb, d->order[k], &o, e)) {
                if (e->byte < 0) e->byte = (long)at;
                return -1;
            }
        }
        if (off != n) {
            e->byte = (long)off;
            return kb_row_fail(e, "unexpected data after the %zu MessagePack values of the columns", d->norder);
        }
        return 0;
    }
    if (check_values(data, n, 0, 1, e) < 0) return -1;
    msgpack_unpack_return rc = msgpack_unpack(data, n, &off, &d->zone, &o);
    if (rc == MSGPACK_UNPACK_EXTRA_BYTES) {
        e->byte = (long)off;
        return kb_row_fail(e, "unexpected data after the MessagePack %s", d->source == FIELD_KEY ? "value" : "map");
    }
    if (rc != MSGPACK_UNPACK_SUCCESS) return unpack_error(e, rc, 0);
    if (d->source == FIELD_KEY) return d->tree.nodes ? visit(d, rb, 0, &o, e) : 0;
    if (o.type != MSGPACK_OBJECT_MAP) {
        e->byte = 0;
        return kb_row_fail(e, "expected a MessagePack map, got %s", kind_name(&o));
    }
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key, *v = &o.via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            e->byte = offset_of(d, v);
            return kb_row_fail(e, "a field name must be a str, got %s", kind_name(k));
        }
        int col = rowplan_find(d->plan, k->via.str.ptr, k->via.str.size);
        if (col >= 0 && put_column(d, rb, (size_t)col, v, e)) return -1;
        uint32_t child = d->tree.nodes ? fieldtree_key_child(&d->tree, 0, k->via.str.ptr, k->via.str.size) : 0;
        if (child && visit(d, rb, child, v, e)) return -1;
    }
    return 0;
}

static void mp_close(void *state) {
    mpdec *d = state;
    if (!d) return;
    msgpack_zone_destroy(&d->zone);
    fieldtree_free(&d->tree);
    jsonvalue_free(&d->text);
    free(d->order);
    free(d);
}

static int open_shape(void **state, const kb_decoder_config *cfg, int positional, char *err, size_t errlen) {
    const rowplan *plan = cfg->plan;
    if (rowplan_refuse_variant(plan, cfg->source, cfg->format, err, errlen)) return -1;
    mpdec *d = calloc(1, sizeof *d);
    if (!d || !msgpack_zone_init(&d->zone, ZONE_CHUNK)) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    d->plan = plan;
    d->source = cfg->source;
    d->positional = positional;
    jsonvalue_init(&d->text, NULL, 0);
    fieldtree_build(&d->tree, plan, cfg->source);
    d->order = calloc(plan->ncols ? plan->ncols : 1, sizeof *d->order);
    if (!d->order) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    if (positional && cfg->source == FIELD_VALUE) {
        for (size_t i = 0; i < plan->ncols; i++) {
            const plan_column *c = &plan->cols[i];
            if (c->meta != META_NONE || c->source != FIELD_VALUE) continue;
            if (c->path) {
                snprintf(err, errlen, "column '%s': --format %s has no field names to take a path "
                                      "into (the values are in column order)", c->name, cfg->format);
                mp_close(d);
                return -1;
            }
            d->order[d->norder++] = i;
        }
    }
    *state = d;
    return 0;
}

static int mp_open(void **state, const kb_decoder_config *cfg, char *err, size_t errlen) {
    return open_shape(state, cfg, 0, err, errlen);
}

static int mp_open_positional(void **state, const kb_decoder_config *cfg, char *err, size_t errlen) {
    return open_shape(state, cfg, 1, err, errlen);
}

const kb_decoder_ops kb_msgpack_decoder = {
    .name = "msgpack",
    .describe = "one MessagePack map per message, fields by name (read as JSONEachRow reads JSON)",
    .open = mp_open,
    .decode = mp_decode,
    .close = mp_close,
};

const kb_decoder_ops kb_msgpack_positional_decoder = {
    .name = "msgpack-positional",
    .describe = "the column values in order, ClickHouse's MsgPack format",
    .open = mp_open_positional,
    .decode = mp_decode,
    .close = mp_close,
};
