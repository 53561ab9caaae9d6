/*
 * rbcheck.c - see rbcheck.h.  Written from ClickHouse's RowBinary rules,
 * deliberately not from rbwriter.c, so that a shared mistake cannot hide.
 */
#include "rbcheck.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct reader {
    const unsigned char *p;
    size_t len, pos;
    char *err;
    size_t errlen;
    const char *column;
} reader;

static int bad(reader *r, const char *what) {
    snprintf(r->err, r->errlen, "column %s, byte %zu: %s", r->column, r->pos, what);
    return -1;
}

static int take(reader *r, size_t n, const unsigned char **at) {
    if (n > r->len - r->pos) return bad(r, "value runs past the end of the row");
    if (at) *at = r->p + r->pos;
    r->pos += n;
    return 0;
}

/* ClickHouse's length prefix: unsigned LEB128, at most 9 bytes here. */
static int varint(reader *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 63; shift += 7) {
        const unsigned char *b;
        if (take(r, 1, &b)) return -1;
        *v |= (uint64_t)(*b & 0x7f) << shift;
        if (!(*b & 0x80)) return 0;
    }
    return bad(r, "length prefix longer than 9 bytes");
}

static size_t decimal_width(unsigned precision) {
    return precision <= 9 ? 4 : precision <= 18 ? 8 : precision <= 38 ? 16 : 32;
}

static int value(reader *r, const chtype *t);

static int elements(reader *r, const chtype *t) {
    for (size_t i = 0; i < t->nelems; i++)
        if (value(r, t->elems[i])) return -1;
    return 0;
}

static int value(reader *r, const chtype *t) {
    const unsigned char *b;
    uint64_t n;
    switch (t->kind) {
    case CT_INT8: case CT_UINT8: return take(r, 1, NULL);
    case CT_INT16: case CT_UINT16: case CT_BFLOAT16: case CT_DATE: return take(r, 2, NULL);
    case CT_INT32: case CT_UINT32: case CT_FLOAT32: case CT_DATE32: case CT_DATETIME: case CT_IPV4:
        return take(r, 4, NULL);
    case CT_INT64: case CT_UINT64: case CT_FLOAT64: case CT_DATETIME64: return take(r, 8, NULL);
    case CT_INT128: case CT_UINT128: case CT_UUID: case CT_IPV6: return take(r, 16, NULL);
    case CT_INT256: case CT_UINT256: return take(r, 32, NULL);
    case CT_DECIMAL: return take(r, decimal_width(t->precision), NULL);
    case CT_FIXEDSTRING: return take(r, t->length, NULL);
    case CT_BOOL:
        if (take(r, 1, &b)) return -1;
        return *b > 1 ? bad(r, "Bool byte is neither 0 nor 1") : 0;
    case CT_ENUM8: case CT_ENUM16: {
        int v;
        if (t->kind == CT_ENUM8) {
            if (take(r, 1, &b)) return -1;
            v = (int8_t)b[0];
        } else {
            if (take(r, 2, &b)) return -1;
            v = (int16_t)(uint16_t)(b[0] | b[1] << 8);
        }
        return chtype_enum_by_value(t, v) ? 0 : bad(r, "Enum value is not one of the type's items");
    }
    case CT_STRING:
        if (varint(r, &n)) return -1;
        return n > r->len - r->pos ? bad(r, "String length runs past the end of the row") : take(r, n, NULL);
    case CT_NULLABLE:
        if (take(r, 1, &b)) return -1;
        if (*b > 1) return bad(r, "Nullable flag is neither 0 nor 1");
        return *b ? 0 : value(r, t->inner);
    case CT_LOWCARDINALITY: return value(r, t->inner);
    case CT_ARRAY: case CT_NESTED: case CT_MAP:
        if (varint(r, &n)) return -1;
        /* Every element takes at least a byte except in types of size 0,
         * which ClickHouse does not have; a count past the bytes left is
         * malformed, and checking it first keeps the walk linear. */
        if (n > r->len - r->pos) return bad(r, "element count exceeds the bytes left");
        for (uint64_t i = 0; i < n; i++) {
            int rc = t->kind == CT_ARRAY ? value(r, t->inner) : elements(r, t);
            if (rc) return -1;
        }
        return 0;
    case CT_TUPLE: return elements(r, t);
    case CT_VARIANT:
        /* The discriminator: an index into the sorted types, or 255 for
         * NULL with nothing after it. */
        if (take(r, 1, &b)) return -1;
        if (*b == 255) return 0;
        if (*b >= t->nelems) return bad(r, "Variant discriminator is neither a type's index nor 255");
        return value(r, t->elems[*b]);
    }
    return bad(r, "unknown type kind");
}

int rbcheck_row(const chcolumns *cols, const unsigned char *data, size_t len, size_t *pos, char *err,
                size_t errlen) {
    reader r = {.p = data, .len = len, .pos = *pos, .err = err, .errlen = errlen};
    for (size_t i = 0; i < cols->n; i++) {
        r.column = cols->v[i].name;
        if (value(&r, cols->v[i].type)) return -1;
    }
    *pos = r.pos;
    return 0;
}
