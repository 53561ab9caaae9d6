/*
 * formats/avro.c - Avro datums: `avro-confluent` (magic byte 0, a 4-byte
 * big-endian schema id, the datum; the schema from a Confluent schema
 * registry) and `avro` (plain datums of the writer schema given in the
 * pipeline file).  Both may first skip a fixed number of header bytes.
 *
 * The writer schema and the column list are compiled, once per schema id,
 * into a tree of operations (av_op): which bytes to skip, which to read
 * as what and where each value goes, every type question settled.  Per
 * message the decoder only walks that tree over the bytes; it builds no
 * value and allocates nothing.  A schema that cannot fill the columns is
 * refused when it is compiled, naming the field and the column; the rules
 * are in docs/avro-rules.md.
 *
 * A field feeding several columns (a Tuple column and a PATH column into
 * it, say) is read once per column from the same position: cheaper than
 * any copy, and Avro bytes decode the same way twice.
 */
#include "../buf.h"
#include "avro.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avrobin.h"
#include "fieldtree.h"
#include "formats.h"
#include "options.h"
#include "rbwriter.h"
#include "registry.h"
#include "textvalue.h"

typedef enum op_code {
    OP_SKIP,          /* the value of w, unread */
    OP_FIELDS,        /* a record: kids[i] for field i */
    OP_FANOUT,        /* one value, several consumers (kids) */
    OP_BAD,           /* a union branch that cannot fit: fails the message */
    OP_NULL,          /* the column's default or NULL */
    OP_BOOL,
    OP_INTEGER,       /* int or long into an integer column */
    OP_INT_FLOAT,     /* int or long into a float column */
    OP_FLOAT,
    OP_DOUBLE,
    OP_COPY4,         /* float into Float32, double into Float64: the same little-endian IEEE bytes */
    OP_COPY8,
    OP_IPV4,
    OP_DAYS,
    OP_TIME,          /* int or long units since the epoch into DateTime/DateTime64 */
    OP_STRING,        /* bytes or string into String */
    OP_FIXEDSTRING,   /* bytes or string into FixedString */
    OP_UUID_TEXT,
    OP_ENUM_TEXT,     /* a string naming an Enum element */
    OP_DECIMAL,       /* bytes or fixed, big-endian two's complement */
    OP_FIXED_STRING,  /* fixed into String */
    OP_FIXED_RAW,     /* fixed(N) into a type of N bytes: its bytes as they are */
    OP_FIXED_UUID,
    OP_ENUM_ENUM,
    OP_ENUM_STRING,
    OP_UNION,
    OP_VARIANT,       /* the discriminator `variant`, then kids[0]: the value as that type */
    OP_ARRAY,
    OP_MAP,
    OP_TUPLE
} op_code;

typedef struct av_op {
    op_code code;
    const av_node *w;
    const chtype *t;          /* the target as given (Nullable/LowCardinality kept) */
    const chtype *base;       /* t without them */
    const char *column_name;  /* for messages */
    int opens;                /* the value goes into column `column` (rowbuild_open/close around it) */
    int column;
    int nullable;             /* t is Nullable: a present value starts with the "not NULL" byte */
    size_t nkids;
    struct av_op *kids;
    int *elem;                /* OP_TUPLE: per writer field, the element or -1 */
    int in_order;             /* OP_TUPLE: fields are the elements in order: no reordering */
    size_t *span;             /* OP_TUPLE: 2 per element */
    const chtype_enum_item **items; /* OP_ENUM_ENUM: per symbol */
    unsigned int_bytes;       /* OP_INTEGER: the column's width when it is 64 bits or less (else 0) */
    int64_t int_min;          /* OP_INTEGER: and its range (rbw_int_range) */
    uint64_t int_max;
    int64_t per_second;       /* OP_TIME: units per second */
    uint32_t nanos_per_unit;
    int local;                /* OP_TIME: local-timestamp-*: the column's zone applies */
    int64_t tick_lo, tick_hi, tick_mult; /* OP_TIME: values in [lo, hi] are value * mult ticks (rbw_ticks_range) */
    unsigned variant;         /* OP_VARIANT: the index of the type in the Variant */
    char *why;                /* OP_BAD */
} av_op;

/* The usual message is a record of scalar fields, each into a column of
 * its own.  For a record with such fields the compiler also lays it out
 * as these steps, one per field, and decode_flat runs them in one loop: the
 * column bookkeeping of rowbuild_open/close is settled at compile time,
 * and a step is a few words that fit a cache line or two for the whole
 * record.  A value off a step's shortcut (an integer outside the column's
 * range, a time outside the ticks shortcut) goes to the generic op it
 * came from, which also writes every message. */
typedef enum flat_code {
    FLAT_OP,      /* any other field: its generic op (columns only) */
    FLAT_SKIP,    /* a field no column reads: skip() */
                  /* the codes after FLAT_SKIP are a column's own value */
    FLAT_INT,     /* OP_INTEGER with a range that needs no check beyond it */
    FLAT_COPY4,
    FLAT_COPY8,
    FLAT_STRING,
    FLAT_TIME,
    FLAT_BOOL     /* boolean into Bool */
} flat_code;

/* Or'd into a value's code: the field is a union of null and the value,
 * into a Nullable column (union_null, union_value). */
#define FLAT_NULLABLE 0x80u

typedef struct flat_step {
    uint8_t code;       /* flat_code, FLAT_NULLABLE or'd into a value's */
    uint8_t bytes;      /* FLAT_INT: the column's width */
    uint8_t union_null; /* FLAT_NULLABLE: a union of null and the value into a Nullable */
    uint8_t union_value; /*   column: each branch's index as its one-byte varint */
    uint32_t column;
    int64_t lo;         /* FLAT_INT: the values written as they are: >= lo and, */
    uint64_t umax;      /*   when not negative, <= umax */
    int64_t hi;         /* FLAT_TIME: the values in [lo, hi] are value * mult ticks */
    int64_t mult;
    const av_op *op;    /* what the step came from: off the shortcut, and messages */
} flat_step;

typedef struct compiled {
    uint32_t id;
    av_schema schema;
    av_op root;
    char *refusal; /* the schema does not fit the columns: every message with it fails */
    flat_step *flat; /* root as steps, or NULL when it is not a record of scalars */
    size_t nflat;
    int flat_in_row; /* the columns are consecutive: RowBinary rows can take the steps too, */
    size_t flat_first, flat_columns; /* when the row's next column due is flat_first */
} compiled;

typedef struct avdec {
    const rowplan *plan;
    field_source source;
    fieldtree tree;
    int framed;
    size_t skip;
    kb_registry *registry;
    compiled *cache;
    size_t ncache, capcache;
    size_t last;     /* the entry that matched last */
    buf scratch;     /* tuple reordering */
} avdec;

/* ---- compiling --------------------------------------------------------- */

typedef struct compiler {
    char *err;
    size_t errlen;
    char path[512];  /* the field being compiled, for messages */
    int depth;
} compiler;

static void type_text(const chtype *t, char *out, size_t n) {
    buf b;
    buf_init(&b, 64);
    chtype_format(t, &b);
    snprintf(out, n, "%.*s", (int)b.len, b.data);
    buf_free(&b);
}

static int refuse(compiler *c, const av_node *w, const chtype *t, const char *column, const char *why) {
    char tt[200];
    type_text(t, tt, sizeof tt);
    snprintf(c->err, c->errlen, "field '%s' (Avro %s%s%s) cannot go into column '%s' (%s)%s%s",
             c->path[0] ? c->path : "(the datum)", av_type_name(w), w->name ? " " : "",
             w->name ? w->name : "", column, tt, why ? ": " : "", why ? why : "");
    return -1;
}

static void op_free(av_op *op) {
    for (size_t i = 0; i < op->nkids; i++) op_free(&op->kids[i]);
    free(op->kids);
    free(op->elem);
    free(op->span);
    free(op->items);
    free(op->why);
}

static int is_integer(chtype_kind k) {
    return k <= CT_UINT64 || k == CT_INT128 || k == CT_INT256 || k == CT_UINT128 || k == CT_UINT256;
}

static int is_float(chtype_kind k) { return k == CT_FLOAT32 || k == CT_FLOAT64 || k == CT_BFLOAT16; }

static size_t fixed_bytes(chtype_kind k) {
    switch (k) {
    case CT_IPV6: case CT_INT128: case CT_UINT128: return 16;
    case CT_INT256: case CT_UINT256: return 32;
    default: return 0;
    }
}

static void set_time(av_op *op, int64_t per_second, int local) {
    op->code = OP_TIME;
    op->per_second = per_second;
    op->nanos_per_unit = (uint32_t)(1000000000 / per_second);
    op->local = local;
    /* An empty range unless the shortcut applies: local times need the zone. */
    op->tick_lo = 1;
    op->tick_hi = 0;
    if (!local) rbw_ticks_range(op->base, per_second, &op->tick_lo, &op->tick_hi, &op->tick_mult);
}

static int compile_value(compiler *c, const av_node *w, const chtype *t, const char *column, av_op *op);
static int column_type(const av_node *w, buf *out, int depth, char *err, size_t errlen);

/* How well a Variant's type m suits a value of Avro type w, 0 not at all:
 * 1 for the kind --describe (and ClickHouse) gives w, then Avro's
 * promotions (int to long, double, float; long to double, float; float
 * to double) and the bridge's other date and time readings, in that
 * order.  A type of the same name as --describe's ranks before all. */
static int variant_rank(const av_node *w, const chtype *m) {
    chtype_kind k = m->kind;
    int ts = w->logical >= AVL_TS_MILLIS && w->logical <= AVL_LTS_NANOS;
    switch (w->type) {
    case AV_BOOLEAN: return k == CT_BOOL;
    case AV_INT:
        if (w->logical == AVL_DATE) return k == CT_DATE32 ? 1 : k == CT_DATE ? 2 : 0;
        return k == CT_INT32 ? 1 : k == CT_INT64 ? 2 : k == CT_FLOAT64 ? 3 : k == CT_FLOAT32 ? 4 : 0;
    case AV_LONG:
        if (ts) return k == CT_DATETIME64 ? 1 : k == CT_DATETIME ? 2 : 0;
        return k == CT_INT64 ? 1 : k == CT_FLOAT64 ? 2 : k == CT_FLOAT32 ? 3 : 0;
    case AV_FLOAT: return k == CT_FLOAT32 ? 1 : k == CT_FLOAT64 ? 2 : 0;
    case AV_DOUBLE: return k == CT_FLOAT64;
    case AV_STRING: case AV_BYTES: case AV_FIXED:
        if (w->logical == AVL_DECIMAL) return k == CT_DECIMAL;
        if (w->logical == AVL_UUID) return k == CT_UUID;
        return w->type == AV_FIXED ? k == CT_FIXEDSTRING : k == CT_STRING;
    case AV_ENUM: return k == CT_ENUM8 || k == CT_ENUM16;
    case AV_ARRAY: return k == CT_ARRAY;
    case AV_MAP: return k == CT_MAP;
    case AV_RECORD: return k == CT_TUPLE;
    case AV_NULL: case AV_UNION: return 0;
    }
    return 0;
}

/* A value of w (neither null nor a union) into the Variant v: the type
 * it goes in as is settled here, once; none fitting refuses the schema. */
static int compile_variant(compiler *c, const av_node *w, const chtype *v, const char *column, av_op *op) {
    buf want, name;
    buf_init(&want, 64);
    buf_init(&name, 64);
    char why[300] = "";
    int exact = -1;
    if (column_type(w, &want, 0, why, sizeof why) == 0) {
        for (size_t i = 0; i < v->nelems && exact < 0; i++) {
            name.len = 0;
            chtype_format(v->elems[i], &name);
            if (name.len == want.len && !memcmp(name.data, want.data, want.len)) exact = (int)i;
        }
    }
    buf_free(&want);
    buf_free(&name);
    av_op kid;
    char first[300] = "";
    int found = -1;
    /* Rank 0 is the exact name; then the ranks of variant_rank. */
    for (int rank = exact >= 0 ? 0 : 1; rank <= 4 && found < 0; rank++) {
        for (size_t i = 0; i < v->nelems && found < 0; i++) {
            if (rank == 0 ? (int)i != exact : variant_rank(w, v->elems[i]) != rank) continue;
            compiler sub = *c;
            sub.err = why;
            sub.errlen = sizeof why;
            memset(&kid, 0, sizeof kid);
            if (compile_value(&sub, w, v->elems[i], column, &kid) == 0) {
                found = (int)i;
                break;
            }
            op_free(&kid);
            if (!first[0]) snprintf(first, sizeof first, "%s", why);
        }
    }
    if (found < 0) {
        if (first[0]) {
            snprintf(c->err, c->errlen, "%s", first);
            return -1;
        }
        return refuse(c, w, v, column, "no type of the Variant takes it");
    }
    op->code = OP_VARIANT;
    op->variant = (unsigned)found;
    op->nkids = 1;
    op->kids = kb_xcalloc(1, sizeof *op->kids);
    op->kids[0] = kid;
    return 0;
}

static int compile_tuple(compiler *c, const av_node *w, const chtype *tup, const char *column, av_op *op) {
    if (!tup->names && tup->nelems != w->n)
        return refuse(c, w, tup, column, "an unnamed Tuple takes a record of as many fields");
    op->code = OP_TUPLE;
    op->nkids = w->n;
    op->kids = kb_xcalloc(w->n, sizeof *op->kids);
    op->elem = kb_xcalloc(w->n, sizeof *op->elem);
    op->span = kb_xcalloc(2 * tup->nelems, sizeof *op->span);
    size_t found = 0, at = strlen(c->path);
    op->in_order = w->n == tup->nelems;
    for (size_t i = 0; i < w->n; i++) {
        int e = -1;
        if (!tup->names) e = (int)i;
        else
            for (size_t k = 0; k < tup->nelems; k++)
                if (!strcmp(tup->names[k], w->names[i])) e = (int)k;
        op->elem[i] = e;
        if (e != (int)i) op->in_order = 0;
        snprintf(c->path + at, sizeof c->path - at, "%s%s", at ? "." : "", w->names[i]);
        int rc;
        if (e < 0) {
            op->kids[i].code = OP_SKIP;
            op->kids[i].w = w->kids[i];
            rc = 0;
        } else {
            found++;
            rc = compile_value(c, w->kids[i], tup->elems[e], column, &op->kids[i]);
        }
        c->path[at] = '\0';
        if (rc) return -1;
    }
    (void)found;
    return 0;
}

/* The value of w into a column (or element) of type t. */
static int compile_value(compiler *c, const av_node *w, const chtype *t, const char *column, av_op *op) {
    if (++c->depth > 64) return refuse(c, w, t, column, "nested too deeply");
    op->w = w;
    op->t = t;
    op->column_name = column;
    const chtype *b = t;
    if (b->kind == CT_LOWCARDINALITY) b = b->inner;
    if (b->kind == CT_NULLABLE) b = b->inner;
    if (b->kind == CT_LOWCARDINALITY) b = b->inner;
    op->base = b;
    op->nullable = (t->kind == CT_LOWCARDINALITY ? t->inner : t)->kind == CT_NULLABLE;
    chtype_kind k = b->kind;
    int rc = 0;
    if (k == CT_VARIANT && w->type != AV_NULL && w->type != AV_UNION) {
        rc = compile_variant(c, w, b, column, op);
        c->depth--;
        return rc;
    }
    switch (w->type) {
    case AV_NULL:
        op->code = OP_NULL;
        break;
    case AV_UNION: {
        op->code = OP_UNION;
        op->nkids = w->n;
        op->kids = kb_xcalloc(w->n, sizeof *op->kids);
        int fits = 0, others = 0;
        char first[300] = "";
        for (size_t i = 0; i < w->n; i++) {
            if (w->kids[i]->type == AV_NULL) {
                compile_value(c, w->kids[i], t, column, &op->kids[i]);
                continue;
            }
            others++;
            char why[300];
            compiler sub = *c;
            sub.err = why;
            sub.errlen = sizeof why;
            if (compile_value(&sub, w->kids[i], t, column, &op->kids[i]) == 0) {
                fits++;
                continue;
            }
            if (k == CT_VARIANT) {
                /* A Variant names the types it takes: a branch none of
                 * them takes is a mistake in the schema or the column. */
                snprintf(c->err, c->errlen, "%s", why);
                rc = -1;
                break;
            }
            op_free(&op->kids[i]);
            memset(&op->kids[i], 0, sizeof op->kids[i]);
            op->kids[i].code = OP_BAD;
            op->kids[i].w = w->kids[i];
            op->kids[i].column_name = column;
            op->kids[i].why = strdup(why);
            if (!first[0]) snprintf(first, sizeof first, "%s", why);
        }
        if (!rc && others && !fits) {
            snprintf(c->err, c->errlen, "%s (no branch of the union fits)", first);
            rc = -1;
        }
        break;
    }
    case AV_BOOLEAN:
        if (k == CT_BOOL || is_integer(k) || is_float(k)) op->code = OP_BOOL;
        else rc = refuse(c, w, t, column, NULL);
        break;
    case AV_INT:
    case AV_LONG:
        if ((k == CT_DATE || k == CT_DATE32) && (w->logical == AVL_DATE || w->logical == AVL_NONE))
            op->code = OP_DAYS;
        else if (k == CT_DATETIME || k == CT_DATETIME64) {
            static const int64_t per[] = {[AVL_TS_MILLIS] = 1000, [AVL_TS_MICROS] = 1000000,
                                          [AVL_TS_NANOS] = 1000000000, [AVL_LTS_MILLIS] = 1000,
                                          [AVL_LTS_MICROS] = 1000000, [AVL_LTS_NANOS] = 1000000000};
            if (w->logical >= AVL_TS_MILLIS && w->logical <= AVL_LTS_NANOS)
                set_time(op, per[w->logical], w->logical >= AVL_LTS_MILLIS);
            else if (w->logical == AVL_NONE) {
                /* A plain number is in the column's own unit (ticks), as ClickHouse reads it. */
                int64_t ps = 1;
                for (unsigned i = 0; k == CT_DATETIME64 && i < b->precision; i++) ps *= 10;
                set_time(op, ps, 0);
            } else rc = refuse(c, w, t, column, "a time of day is not a point in time");
        } else if (w->logical == AVL_DATE || (w->logical >= AVL_TS_MILLIS && w->logical <= AVL_LTS_NANOS)) {
            if (is_integer(k)) op->code = OP_INTEGER; /* the number itself, as ClickHouse stores it */
            else rc = refuse(c, w, t, column, NULL);
        } else if (is_integer(k)) op->code = OP_INTEGER;
        else if (is_float(k)) op->code = OP_INT_FLOAT;
        else if (k == CT_IPV4) op->code = OP_IPV4;
        else rc = refuse(c, w, t, column, NULL);
        break;
    case AV_FLOAT:
    case AV_DOUBLE:
        if (is_float(k)) op->code = w->type == AV_FLOAT ? OP_FLOAT : OP_DOUBLE;
        else rc = refuse(c, w, t, column, NULL);
        break;
    case AV_BYTES:
    case AV_STRING:
        if (w->logical == AVL_DECIMAL && k == CT_DECIMAL) {
            if (b->scale != w->scale) rc = refuse(c, w, t, column, "the scales differ");
            else op->code = OP_DECIMAL;
        } else if (k == CT_STRING) op->code = OP_STRING;
        else if (k == CT_FIXEDSTRING) op->code = OP_FIXEDSTRING;
        else if (k == CT_UUID) op->code = OP_UUID_TEXT;
        else if (k == CT_ENUM8 || k == CT_ENUM16) op->code = OP_ENUM_TEXT;
        else rc = refuse(c, w, t, column, NULL);
        break;
    case AV_FIXED:
        if (w->logical == AVL_DECIMAL && k == CT_DECIMAL) {
            if (b->scale != w->scale) rc = refuse(c, w, t, column, "the scales differ");
            else if (w->size > 32) rc = refuse(c, w, t, column, "more than 32 bytes");
            else op->code = OP_DECIMAL;
        } else if (k == CT_STRING) op->code = OP_FIXED_STRING;
        else if (k == CT_FIXEDSTRING && b->length == w->size) op->code = OP_FIXED_RAW;
        else if (k == CT_UUID && w->size == 16) op->code = OP_FIXED_UUID;
        else if (fixed_bytes(k) && fixed_bytes(k) == w->size) op->code = OP_FIXED_RAW;
        else rc = refuse(c, w, t, column, "the sizes differ");
        break;
    case AV_ENUM:
        if (k == CT_STRING) op->code = OP_ENUM_STRING;
        else if (k == CT_ENUM8 || k == CT_ENUM16) {
            op->code = OP_ENUM_ENUM;
            op->items = kb_xcalloc(w->n, sizeof *op->items);
            for (size_t i = 0; i < w->n && !rc; i++) {
                op->items[i] = chtype_enum_by_name(b, w->names[i], strlen(w->names[i]));
                if (!op->items[i]) {
                    char why[200];
                    snprintf(why, sizeof why, "the Enum has no element '%s'", w->names[i]);
                    rc = refuse(c, w, t, column, why);
                }
            }
        } else rc = refuse(c, w, t, column, NULL);
        break;
    case AV_ARRAY:
        if (k == CT_ARRAY || k == CT_NESTED) {
            op->code = OP_ARRAY;
            op->nkids = 1;
            op->kids = kb_xcalloc(1, sizeof *op->kids);
            if (k == CT_ARRAY) rc = compile_value(c, w->kids[0], b->inner, column, &op->kids[0]);
            else if (w->kids[0]->type != AV_RECORD) rc = refuse(c, w, t, column, "Nested takes an array of records");
            else {
                /* Nested's element is a Tuple of its columns. */
                op->kids[0].w = w->kids[0];
                op->kids[0].t = op->kids[0].base = b;
                op->kids[0].column_name = column;
                rc = compile_tuple(c, w->kids[0], b, column, &op->kids[0]);
            }
        } else rc = refuse(c, w, t, column, NULL);
        break;
    case AV_MAP:
        if (k == CT_MAP && chtype_base(b->elems[0])->kind == CT_STRING) {
            op->code = OP_MAP;
            op->nkids = 1;
            op->kids = kb_xcalloc(1, sizeof *op->kids);
            rc = compile_value(c, w->kids[0], b->elems[1], column, &op->kids[0]);
        } else rc = refuse(c, w, t, column, k == CT_MAP ? "map keys are strings" : NULL);
        break;
    case AV_RECORD:
        if (k == CT_TUPLE) rc = compile_tuple(c, w, b, column, op);
        else rc = refuse(c, w, t, column, NULL);
        break;
    }
    if (!rc && op->code == OP_INTEGER) op->int_bytes = rbw_int_range(b, &op->int_min, &op->int_max);
    if (!rc && op->code == OP_DOUBLE && k == CT_FLOAT64) op->code = OP_COPY8;
    if (!rc && op->code == OP_FLOAT && k == CT_FLOAT32) op->code = OP_COPY4;
    c->depth--;
    return rc;
}

/* The consumers of the value of w at tree node `node` (or, for a record
 * field met by name, the column `by_name`): columns there, and the
 * fields below.  Builds op as OP_FANOUT, or OP_SKIP when nothing reads
 * the value. */
static int compile_node(compiler *c, const avdec *d, const av_node *w, uint32_t node, int by_name,
                        av_op *op);

static int compile_fields(compiler *c, const avdec *d, const av_node *w, uint32_t node, int top, av_op *op) {
    op->code = OP_FIELDS;
    op->w = w;
    op->nkids = w->n;
    op->kids = kb_xcalloc(w->n, sizeof *op->kids);
    size_t at = strlen(c->path);
    for (size_t i = 0; i < w->n; i++) {
        const char *name = w->names[i];
        size_t len = strlen(name);
        int col = -1;
        if (top && d->source == FIELD_VALUE) {
            col = rowplan_find(d->plan, name, len);
            if (col >= 0) {
                const plan_column *pc = &d->plan->cols[col];
                if (pc->path || pc->meta != META_NONE || pc->source != FIELD_VALUE) col = -1;
            }
        }
        uint32_t child = d->tree.nodes && node != UINT32_MAX ? fieldtree_key_child(&d->tree, node, name, len) : 0;
        snprintf(c->path + at, sizeof c->path - at, "%s%s", at ? "." : "", name);
        int rc = compile_node(c, d, w->kids[i], child ? child : UINT32_MAX, col, &op->kids[i]);
        c->path[at] = '\0';
        if (rc) return -1;
    }
    return 0;
}

static void add_kid(av_op *op, av_op *kid) {
    av_op *k = realloc(op->kids, (op->nkids + 1) * sizeof *k);
    if (!k) abort();
    op->kids = k;
    op->kids[op->nkids++] = *kid;
}

static int column_op(compiler *c, const avdec *d, const av_node *w, int col, av_op *out) {
    av_op k = {0};
    if (compile_value(c, w, d->plan->cols[col].type, d->plan->cols[col].name, &k)) {
        op_free(&k);
        return -1;
    }
    k.opens = 1;
    k.column = col;
    *out = k;
    return 0;
}

static int compile_node(compiler *c, const avdec *d, const av_node *w, uint32_t node, int by_name,
                        av_op *op) {
    memset(op, 0, sizeof *op);
    op->code = OP_FANOUT;
    op->w = w;
    av_op k;
    if (by_name >= 0) {
        if (column_op(c, d, w, by_name, &k)) return -1;
        add_kid(op, &k);
    }
    if (node != UINT32_MAX && d->tree.nodes) {
        for (int col = d->tree.nodes[node].column; col >= 0; col = d->tree.same[col]) {
            if (column_op(c, d, w, col, &k)) return -1;
            add_kid(op, &k);
        }
        if (d->tree.nodes[node].first_child) {
            /* Paths go on into a record, or a union of null and a record. */
            const av_node *rec = w;
            memset(&k, 0, sizeof k);
            if (w->type == AV_UNION) {
                k.code = OP_UNION;
                k.w = w;
                k.nkids = w->n;
                k.kids = kb_xcalloc(w->n, sizeof *k.kids);
                rec = NULL;
                for (size_t i = 0; i < w->n; i++) {
                    k.kids[i].code = OP_SKIP;
                    k.kids[i].w = w->kids[i];
                    if (w->kids[i]->type == AV_RECORD && !rec) {
                        rec = w->kids[i];
                        if (compile_fields(c, d, rec, node, 0, &k.kids[i])) {
                            op_free(&k);
                            return -1;
                        }
                    }
                }
            } else if (w->type == AV_RECORD && compile_fields(c, d, w, node, 0, &k)) {
                op_free(&k);
                return -1;
            }
            for (uint32_t ch = d->tree.nodes[node].first_child; ch; ch = d->tree.nodes[ch].next_sibling)
                if (!d->tree.nodes[ch].step->key || !rec) {
                    int col = -1;
                    for (size_t i = 0; i < d->plan->ncols && col < 0; i++)
                        if (d->plan->cols[i].path && d->plan->cols[i].source == d->source) col = (int)i;
                    op_free(&k);
                    snprintf(c->err, c->errlen, "field '%s' (Avro %s): an Avro path steps into record "
                             "fields only", c->path, av_type_name(w));
                    return -1;
                }
            add_kid(op, &k);
        }
    }
    if (!op->nkids) {
        op->code = OP_SKIP;
    } else if (op->nkids == 1) {
        /* One consumer, the usual case: no fan-out step per message. */
        av_op *only = op->kids;
        *op = *only;
        free(only);
    }
    return 0;
}

static int compile(avdec *d, compiled *entry, char *err, size_t errlen) {
    compiler c = {.err = err, .errlen = errlen};
    const av_node *root = entry->schema.root;
    if (root->type != AV_RECORD && !(d->tree.nodes && d->tree.nodes[0].column >= 0)) {
        snprintf(err, errlen, "the writer schema is a %s, not a record: no field names to match columns by",
                 av_type_name(root));
        return -1;
    }
    memset(&entry->root, 0, sizeof entry->root);
    if (root->type == AV_RECORD && !(d->tree.nodes && d->tree.nodes[0].column >= 0)) {
        if (compile_fields(&c, d, root, d->tree.nodes ? 0 : UINT32_MAX, 1, &entry->root)) return -1;
        return 0;
    }
    return compile_node(&c, d, root, 0, -1, &entry->root);
}

/* Lays entry's root out as flat steps when it is a record with a field
 * that is a scalar into a column of its own, or a union of null and such
 * a scalar into a Nullable column (the branch is then one byte, null's or
 * the value's; any other byte goes to the union's op).  Other fields are
 * skipped, or left to their ops (FLAT_OP), which only a row in columns can
 * take: in a row, rowbuild_open would see the steps' columns as not yet
 * written.  Without a scalar field entry->flat stays NULL and the generic
 * ops do all the work. */

/* Fills s's code and shortcut for op k when k is a scalar the steps know;
 * returns whether it is. */
static int scalar_code(const av_op *k, flat_step *s) {
    switch (k->code) {
    case OP_INTEGER:
        if (!k->int_bytes) return 0; /* (U)Int128/256: rbw_i64's way */
        s->code = FLAT_INT;
        s->bytes = (uint8_t)k->int_bytes;
        s->lo = k->int_min;
        s->umax = k->int_max;
        if (k->w->type == AV_INT) { /* an int's own range: beyond it the generic op refuses */
            if (s->lo < INT32_MIN) s->lo = INT32_MIN;
            if (s->umax > INT32_MAX) s->umax = INT32_MAX;
        }
        return 1;
    case OP_COPY4: s->code = FLAT_COPY4; return 1;
    case OP_COPY8: s->code = FLAT_COPY8; return 1;
    case OP_STRING: s->code = FLAT_STRING; return 1;
    case OP_TIME:
        s->code = FLAT_TIME;
        s->lo = k->tick_lo;
        s->hi = k->tick_hi;
        s->mult = k->tick_mult;
        return 1;
    case OP_BOOL:
        if (k->base->kind != CT_BOOL) return 0;
        s->code = FLAT_BOOL;
        return 1;
    default: return 0;
    }
}

/* Fills s for field op k when it is a scalar into a column of its own;
 * returns whether it is. */
static int scalar_step(const av_op *k, flat_step *s) {
    if (!k->opens) return 0;
    if (!k->nullable) {
        if (!scalar_code(k, s)) return 0;
    } else {
        /* null's branch writes the NULL byte, the value's the "not NULL"
         * byte and the value: ClickHouse's Nullable in RowBinary. */
        if (k->code != OP_UNION || k->nkids != 2) return 0;
        int null_at = k->kids[0].code == OP_NULL ? 0 : 1;
        const av_op *v = &k->kids[1 - null_at];
        if (k->kids[null_at].code != OP_NULL || !v->nullable || !scalar_code(v, s)) return 0;
        s->union_null = (uint8_t)(2 * null_at); /* zigzag: 0 is 0x00, 1 is 0x02 */
        s->union_value = (uint8_t)(2 * (1 - null_at));
        s->code |= FLAT_NULLABLE;
    }
    s->column = (uint32_t)k->column;
    return 1;
}

/* Counts, per column, the ops of op's tree that open it (a union's
 * branches each, though one is taken: counted high, never low). */
static void count_opens(const av_op *op, uint32_t *opens) {
    if (op->opens) opens[op->column]++;
    for (size_t i = 0; i < op->nkids; i++) count_opens(&op->kids[i], opens);
}

static void flatten(compiled *entry, size_t ncols) {
    const av_op *root = &entry->root;
    if (root->code != OP_FIELDS || !root->nkids) return;
    flat_step *steps = kb_xcalloc(root->nkids, sizeof *steps);
    int consecutive = 1, columns = 0;
    uint32_t next = 0;
    for (size_t i = 0; i < root->nkids; i++) {
        const av_op *k = &root->kids[i];
        flat_step *s = &steps[i];
        s->op = k;
        if (k->code == OP_SKIP) {
            s->code = FLAT_SKIP;
        } else if (scalar_step(k, s)) {
            if (columns++ && s->column != next) consecutive = 0;
            next = s->column + 1;
        } else {
            s->code = FLAT_OP;
            consecutive = 0;
        }
    }
    if (!columns) {
        free(steps);
        return;
    }
    /* The steps mark their columns as given without asking whether they
     * were already: field names are unique in a record and a column has
     * one path, so no other op of the schema opens a step's column.  That
     * is checked here rather than trusted; where it failed, the ops would
     * do all the work, with their checks. */
    uint32_t *opens = kb_xcalloc(ncols ? ncols : 1, sizeof *opens);
    count_opens(root, opens);
    int once = 1;
    for (size_t i = 0; i < root->nkids; i++)
        if (steps[i].code > FLAT_SKIP && opens[steps[i].column] != 1) once = 0;
    free(opens);
    if (!once) {
        free(steps);
        return;
    }
    entry->flat = steps;
    entry->nflat = root->nkids;
    entry->flat_in_row = consecutive;
    entry->flat_columns = (size_t)columns;
    entry->flat_first = next - (uint32_t)columns;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct run {
    rowbuild *rb;
    row_error *e;
    buf *scratch;
    uint32_t id;
    int framed;
    int depth;
} run;

__attribute__((format(printf, 4, 5), cold, noinline)) static int bad(run *r, const av_op *op,
                                                                     const av_in *in, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char why[200];
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    r->e->column = op ? op->column_name : NULL;
    r->e->byte = av_pos(in);
    if (r->framed) snprintf(r->e->reason, sizeof r->e->reason, "%s (schema id %u)", why, r->id);
    else snprintf(r->e->reason, sizeof r->e->reason, "%s", why);
    return -1;
}

static __attribute__((cold, noinline)) int truncated(run *r, const av_op *op, const av_in *in, const av_node *w) {
    return bad(r, op, in, "truncated or malformed Avro %s", av_type_name(w));
}

/* A value refused by rbwriter: its reason, the column, where. */
static __attribute__((cold, noinline)) int refused(run *r, const av_op *op, const av_in *in, long at) {
    r->e->column = op->column_name;
    r->e->byte = at;
    if (r->framed) {
        size_t n = strlen(r->e->reason);
        snprintf(r->e->reason + n, sizeof r->e->reason - n, " (schema id %u)", r->id);
    }
    (void)in;
    return -1;
}

static int skip(run *r, const av_node *w, av_in *in) {
    int64_t l;
    const uint8_t *s;
    size_t n;
    if (++r->depth > 100) return bad(r, NULL, in, "Avro value nested more than 100 levels deep");
    int rc = 0;
    switch (w->type) {
    case AV_NULL: break;
    case AV_BOOLEAN:
        if (in->p == in->end) rc = -1;
        else in->p++;
        break;
    case AV_INT: case AV_LONG: case AV_ENUM: rc = av_long(in, &l); break;
    case AV_FLOAT: rc = av_fixed(in, 4, &s); break;
    case AV_DOUBLE: rc = av_fixed(in, 8, &s); break;
    case AV_BYTES: case AV_STRING: rc = av_bytes(in, &s, &n); break;
    case AV_FIXED: rc = av_fixed(in, w->size, &s); break;
    case AV_RECORD:
        for (size_t i = 0; i < w->n; i++)
            if (skip(r, w->kids[i], in)) return -1;
        break;
    case AV_UNION:
        if (av_long(in, &l) || l < 0 || (uint64_t)l >= w->n) rc = -1;
        else if (skip(r, w->kids[l], in)) return -1;
        break;
    case AV_ARRAY: case AV_MAP: {
        uint64_t count;
        for (;;) {
            if (av_block(in, &count)) {
                rc = -1;
                break;
            }
            if (!count) break;
            /* Every element takes a byte at least, unless it is null. */
            if (w->kids[0]->type != AV_NULL && count > (uint64_t)(in->end - in->p)) {
                rc = -1;
                break;
            }
            for (uint64_t i = 0; i < count; i++) {
                if (w->type == AV_MAP && av_bytes(in, &s, &n)) return truncated(r, NULL, in, w);
                if (skip(r, w->kids[0], in)) return -1;
            }
        }
        break;
    }
    }
    r->depth--;
    return rc ? truncated(r, NULL, in, w) : 0;
}

/* The rare operations and every error path live out of line, so the hot
 * switch below keeps a small stack frame and no buffers of its own. */
static __attribute__((noinline)) int decode_decimal(run *r, const av_op *op, av_in *in, buf *dst) {
    const uint8_t *s;
    size_t n;
    if (op->w->type == AV_FIXED ? av_fixed(in, op->w->size, &s) : av_bytes(in, &s, &n))
        return truncated(r, op, in, op->w);
    if (op->w->type == AV_FIXED) n = op->w->size;
    if (n == 0 || n > 32) return bad(r, op, in, "Avro decimal of %zu bytes", n);
    /* Big-endian two's complement to sign and magnitude. */
    wideint v;
    uint64_t fill = s[0] & 0x80 ? ~(uint64_t)0 : 0;
    for (int i = 0; i < 4; i++) v.limb[i] = fill;
    for (size_t i = 0; i < n; i++) {
        size_t bit = (n - 1 - i) * 8;
        uint64_t *limb = &v.limb[bit / 64];
        *limb = (*limb & ~((uint64_t)0xff << (bit % 64))) | (uint64_t)s[i] << (bit % 64);
    }
    int negative = (fill != 0);
    if (negative) {
        unsigned carry = 1;
        for (int i = 0; i < 4; i++) {
            v.limb[i] = ~v.limb[i] + carry;
            carry = carry && v.limb[i] == 0;
        }
    }
    long at = av_pos(in);
    if (op->nullable) rbw_not_null(dst);
    return rbw_decimal(dst, op->base, negative, &v, r->e) ? refused(r, op, in, at) : 0;
}

static __attribute__((noinline)) int decode_uuid_text(run *r, const av_op *op, av_in *in, buf *dst) {
    const uint8_t *s;
    size_t n;
    unsigned char u[16];
    if (av_bytes(in, &s, &n)) return truncated(r, op, in, op->w);
    if (tv_uuid((const char *)s, n, u)) return bad(r, op, in, "'%.*s' is not a UUID", (int)(n < 60 ? n : 60), s);
    if (op->nullable) rbw_not_null(dst);
    rbw_uuid(dst, u);
    return 0;
}

/* A time off rbw_ticks_range's shortcut: a local time, a DateTime, a unit
 * finer than the column, or out of range (rbw_time's message). */
static __attribute__((noinline)) int decode_time(run *r, const av_op *op, av_in *in, buf *dst, int64_t l, long at) {
    int64_t sec = l / op->per_second, rem = l % op->per_second;
    if (rem < 0) {
        sec--;
        rem += op->per_second;
    }
    if (op->local) sec = tz_local_to_utc(op->base->zone, sec);
    return rbw_time(dst, op->base, sec, (uint32_t)rem * op->nanos_per_unit, r->e) ? refused(r, op, in, at) : 0;
}

/* The low n bytes (1, 2, 4 or 8) of v, little-endian, as buf_le writes
 * them: one 8-byte store and a length of n, without buf_le's switch on n. */
static inline __attribute__((always_inline)) void put_le(buf *b, uint64_t v, unsigned n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    buf_reserve(b, 8);
    memcpy(b->data + b->len, &v, 8);
    b->len += n;
#else
    buf_le(b, v, n);
#endif
}

/* A float or double copied as it is: n (4 or 8, a constant at each call)
 * fixed bytes, so the copy is one move and no call. */
static inline __attribute__((always_inline)) int copy_ieee(run *r, const av_op *op, av_in *in, buf *dst,
                                                           size_t n) {
    const uint8_t *s;
    if (av_fixed(in, n, &s)) return truncated(r, op, in, op->w);
    if (op->nullable) rbw_not_null(dst);
    buf_reserve(dst, n);
    memcpy(dst->data + dst->len, s, n);
    dst->len += n;
    return 0;
}

/* Operations without kids.  Returns 0, -1 on failure, or 1 when op is
 * not one of them (decode_value's part).  Inlined into the loops over
 * fields and elements: a record of scalars costs no call per field. */
#define NOT_A_LEAF 1
static inline __attribute__((always_inline)) int decode_leaf(run *r, const av_op *op, av_in *in, buf *dst) {
    int64_t l;
    const uint8_t *s;
    size_t n;
    const uint8_t *v0 = in->p; /* where the value starts, for refusals */
    switch (op->code) {
    case OP_STRING:
        if (av_bytes(in, &s, &n)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        rbw_string(dst, s, n);
        return 0;
    case OP_INTEGER:
        if (av_long(in, &l) || (op->w->type == AV_INT && (l < INT32_MIN || l > INT32_MAX)))
            return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        if (op->int_bytes && l >= op->int_min && (l < 0 || (uint64_t)l <= op->int_max)) {
            put_le(dst, (uint64_t)l, op->int_bytes);
            return 0;
        }
        return rbw_i64(dst, op->base, l, r->e) ? refused(r, op, in, v0 - in->start) : 0;
    case OP_COPY8: return copy_ieee(r, op, in, dst, 8);
    case OP_COPY4: return copy_ieee(r, op, in, dst, 4);
    case OP_DOUBLE: {
        double f;
        if (av_double(in, &f)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        rbw_f64(dst, op->base, f);
        return 0;
    }
    case OP_BOOL:
        if (in->p == in->end || *in->p > 1) return bad(r, op, in, "Avro boolean is not 0 or 1");
        l = *in->p++;
        if (op->nullable) rbw_not_null(dst);
        if (op->base->kind == CT_BOOL) rbw_bool(dst, (int)l);
        else if (is_float(op->base->kind)) rbw_f64(dst, op->base, (double)l);
        else if (rbw_i64(dst, op->base, l, r->e)) return refused(r, op, in, v0 - in->start);
        return 0;
    case OP_TIME:
        if (av_long(in, &l)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        if (l >= op->tick_lo && l <= op->tick_hi) {
            put_le(dst, (uint64_t)(l * op->tick_mult), 8);
            return 0;
        }
        return decode_time(r, op, in, dst, l, v0 - in->start);
    case OP_NULL:
        rbw_default(dst, op->t->kind == CT_LOWCARDINALITY ? op->t->inner : op->t);
        return 0;
    case OP_INT_FLOAT:
        if (av_long(in, &l)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        rbw_f64(dst, op->base, (double)l);
        return 0;
    case OP_FLOAT: {
        float f;
        if (av_float(in, &f)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        rbw_f32(dst, op->base, f);
        return 0;
    }
    case OP_DAYS:
        if (av_long(in, &l)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        return rbw_days(dst, op->base, l, r->e) ? refused(r, op, in, v0 - in->start) : 0;
    default:
        return NOT_A_LEAF;
    }
}

static int decode_value(run *r, const av_op *op, av_in *in, buf *dst);

/* One value where its op says: into column op->column when the op opens
 * one (a field met by name or by path), else after what dst holds. */
static inline __attribute__((always_inline)) int decode_kid(run *r, const av_op *op, av_in *in, buf *dst) {
    if (op->opens) {
        dst = rowbuild_open(r->rb, (size_t)op->column, r->e);
        if (!dst) return -1;
    }
    int rc = decode_leaf(r, op, in, dst);
    if (rc == NOT_A_LEAF) rc = decode_value(r, op, in, dst);
    if (rc || !op->opens) return rc;
    return rowbuild_close(r->rb, (size_t)op->column, r->e);
}

/* decode_kid out of line, for the places a value is rarely a scalar. */
static __attribute__((noinline)) int decode_any(run *r, const av_op *op, av_in *in, buf *dst) {
    return decode_kid(r, op, in, dst);
}

static __attribute__((noinline)) int decode_value(run *r, const av_op *op, av_in *in, buf *dst) {
    int64_t l;
    const uint8_t *s;
    size_t n;
    long at = av_pos(in);
    switch (op->code) {
    case OP_SKIP: return skip(r, op->w, in);
    case OP_BAD: return bad(r, op, in, "%s", op->why);
    case OP_IPV4:
        if (av_long(in, &l)) return truncated(r, op, in, op->w);
        if (l < 0 || l > UINT32_MAX) return bad(r, op, in, "value %lld is not an IPv4 address", (long long)l);
        if (op->nullable) rbw_not_null(dst);
        rbw_ipv4(dst, (uint32_t)l);
        return 0;
    case OP_FIXEDSTRING:
        if (av_bytes(in, &s, &n)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        return rbw_fixedstring(dst, op->base, s, n, r->e) ? refused(r, op, in, at) : 0;
    case OP_UUID_TEXT: return decode_uuid_text(r, op, in, dst);
    case OP_ENUM_TEXT:
        if (av_bytes(in, &s, &n)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        return rbw_enum_name(dst, op->base, (const char *)s, n, r->e) ? refused(r, op, in, at) : 0;
    case OP_DECIMAL: return decode_decimal(r, op, in, dst);
    case OP_FIXED_STRING:
        if (av_fixed(in, op->w->size, &s)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        rbw_string(dst, s, op->w->size);
        return 0;
    case OP_FIXED_RAW:
        if (av_fixed(in, op->w->size, &s)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        buf_put(dst, s, op->w->size);
        return 0;
    case OP_FIXED_UUID:
        if (av_fixed(in, 16, &s)) return truncated(r, op, in, op->w);
        if (op->nullable) rbw_not_null(dst);
        rbw_uuid(dst, s);
        return 0;
    case OP_ENUM_ENUM:
    case OP_ENUM_STRING:
        if (av_long(in, &l)) return truncated(r, op, in, op->w);
        if (l < 0 || (uint64_t)l >= op->w->n)
            return bad(r, op, in, "enum index %lld outside the %zu symbols of %s", (long long)l, op->w->n, op->w->name);
        if (op->nullable) rbw_not_null(dst);
        if (op->code == OP_ENUM_ENUM) rbw_enum_item(dst, op->base, op->items[l]);
        else rbw_string(dst, op->w->names[l], strlen(op->w->names[l]));
        return 0;
    case OP_UNION:
        if (av_long(in, &l)) return truncated(r, op, in, op->w);
        if (l < 0 || (uint64_t)l >= op->nkids)
            return bad(r, op, in, "union branch %lld outside the %zu of the schema", (long long)l, op->nkids);
        return decode_any(r, &op->kids[l], in, dst);
    case OP_VARIANT:
        rbw_variant(dst, op->base, op->variant);
        return decode_any(r, &op->kids[0], in, dst);
    case OP_ARRAY:
    case OP_MAP: {
        if (op->nullable) rbw_not_null(dst);
        size_t count_at = rbw_count_begin(dst);
        uint64_t total = 0, count;
        const av_op *kid = &op->kids[0];
        if (++r->depth > 100) return bad(r, op, in, "Avro value nested more than 100 levels deep");
        for (;;) {
            if (av_block(in, &count)) return truncated(r, op, in, op->w);
            if (!count) break;
            if (op->w->kids[0]->type != AV_NULL && count > (uint64_t)(in->end - in->p))
                return truncated(r, op, in, op->w);
            for (uint64_t i = 0; i < count; i++) {
                if (op->code == OP_MAP) {
                    if (av_bytes(in, &s, &n)) return truncated(r, op, in, op->w);
                    rbw_present(dst, op->base->elems[0]);
                    rbw_string(dst, s, n);
                }
                if (decode_kid(r, kid, in, dst)) return -1;
            }
            total += count;
        }
        r->depth--;
        rbw_count_end(dst, count_at, total);
        return 0;
    }
    case OP_TUPLE: {
        if (op->nullable) rbw_not_null(dst);
        if (op->in_order) {
            for (size_t i = 0; i < op->nkids; i++)
                if (decode_kid(r, &op->kids[i], in, dst)) return -1;
            return 0;
        }
        size_t base = dst->len, ne = op->base->nelems;
        for (size_t i = 0; i < ne; i++) op->span[2 * i + 1] = RBW_UNSET;
        for (size_t i = 0; i < op->nkids; i++) {
            size_t start = dst->len;
            if (decode_any(r, &op->kids[i], in, dst)) return -1;
            if (op->elem[i] >= 0) {
                op->span[2 * op->elem[i]] = start - base;
                op->span[2 * op->elem[i] + 1] = dst->len - start;
            }
        }
        rbw_tuple_order(dst, base, op->base, op->span, r->scratch);
        return 0;
    }
    case OP_FIELDS:
        for (size_t i = 0; i < op->nkids; i++)
            if (decode_kid(r, &op->kids[i], in, dst)) return -1;
        return 0;
    case OP_FANOUT: {
        const uint8_t *start = in->p;
        for (size_t i = 0; i < op->nkids; i++) {
            in->p = start;
            if (decode_any(r, &op->kids[i], in, dst)) return -1;
        }
        return 0;
    }
    default: break;
    }
    return bad(r, op, in, "internal error: Avro operation %d", (int)op->code);
}

/* ---- the flat steps ---------------------------------------------------- */

/* A value off its step's shortcut, or failing: the generic op decodes it
 * again from its first byte, so values and messages are the ops' own. */
static __attribute__((noinline)) int flat_slow(run *r, const flat_step *s, av_in *in, const uint8_t *v0,
                                               buf *dst) {
    in->p = v0;
    int rc = decode_leaf(r, s->op, in, dst);
    return rc == NOT_A_LEAF ? decode_value(r, s->op, in, dst) : rc;
}

#define NOT_FLAT 1

/* The steps' loop, compiled twice: into columns (in_row 0: each value
 * into its column's buffer), or into the row (in_row 1: every value after
 * the one before).  The steps' columns are marked as given as they go
 * (flatten: nothing else gives them) and counted once at the end. */
static inline __attribute__((always_inline)) int run_steps(run *r, const compiled *c, av_in *in, int in_row) {
    rowbuild *rb = r->rb;
    for (const flat_step *s = c->flat, *end = c->flat + c->nflat; s < end; s++) {
        buf *dst = rb->out;
        const uint8_t *v0 = in->p, *p;
        int64_t l;
        size_t n;
        unsigned code = s->code;
        if (code > FLAT_SKIP) {
            rowbuild_seen(rb, s->column);
            if (!in_row) dst = rowbuild_column(rb, s->column);
        }
        if (code & FLAT_NULLABLE) {
            if (in->p == in->end) goto slow;
            if (*in->p == s->union_null) {
                in->p++;
                buf_u8(dst, 1);
                continue;
            }
            if (*in->p != s->union_value) goto slow;
            in->p++;
            buf_u8(dst, 0);
            code &= ~FLAT_NULLABLE;
        }
        switch ((flat_code)code) {
        case FLAT_OP:
            if (decode_kid(r, s->op, in, NULL)) return -1;
            continue;
        case FLAT_SKIP:
            if (skip(r, s->op->w, in)) return -1;
            continue;
        case FLAT_INT:
            if (av_long_inline(in, &l) || l < s->lo || (l >= 0 && (uint64_t)l > s->umax)) break;
            put_le(dst, (uint64_t)l, s->bytes);
            continue;
        case FLAT_STRING:
            if (av_bytes(in, &p, &n)) break;
            rbw_string(dst, p, n);
            continue;
        case FLAT_COPY8:
            if (av_fixed(in, 8, &p)) break;
            buf_put(dst, p, 8); /* a constant size: one move */
            continue;
        case FLAT_COPY4:
            if (av_fixed(in, 4, &p)) break;
            buf_put(dst, p, 4);
            continue;
        case FLAT_TIME:
            if (av_long_inline(in, &l) || l < s->lo || l > s->hi) break;
            put_le(dst, (uint64_t)(l * s->mult), 8);
            continue;
        case FLAT_BOOL:
            if (in->p == in->end || *in->p > 1) break;
            buf_u8(dst, *in->p++);
            continue;
        }
        /* Off the shortcut, or failing. */
        if (s->code & FLAT_NULLABLE) dst->len--; /* its "not NULL" byte */
    slow:
        if (flat_slow(r, s, in, v0, dst)) return -1;
    }
    rowbuild_given_n(rb, c->flat_columns);
    return 0;
}

/* Runs c's steps: each value into its column's buffer (Native), or
 * straight into the row when the row's next column due is the steps'
 * first and their columns are consecutive.  Returns 0, -1 on failure (the
 * caller cancels the row), or NOT_FLAT when the row cannot take them. */
static int decode_flat(run *r, const compiled *c, av_in *in) {
    rowbuild *rb = r->rb;
    if (rb->cols) return run_steps(r, c, in, 0);
    if (!c->flat_in_row || rb->emitted != c->flat_first) return NOT_FLAT;
    return run_steps(r, c, in, 1) ? -1 : rowbuild_emitted_n(rb, c->flat_columns, r->e);
}

/* ---- the decoder ------------------------------------------------------- */

/* Reasons longer than row_error's room keep their start: the registry's
 * and the compiler's sentences put what matters first. */
__attribute__((format(printf, 2, 3))) static void set_reason(row_error *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
}

static void entry_free(compiled *c) {
    free(c->flat);
    op_free(&c->root);
    av_schema_free(&c->schema);
    free(c->refusal);
}

static void avro_close(void *state) {
    avdec *d = state;
    if (!d) return;
    for (size_t i = 0; i < d->ncache; i++) entry_free(&d->cache[i]);
    free(d->cache);
    fieldtree_free(&d->tree);
    kb_registry_close(d->registry);
    buf_free(&d->scratch);
    free(d);
}

/* Parses and compiles the schema text for id into a new cache entry.  A
 * schema that does not parse fails the run (-1, err); one that does not
 * fit the columns is kept as a refusal for the messages that carry it. */
static compiled *add_entry(avdec *d, uint32_t id, const char *text, char *err, size_t errlen) {
    if (d->ncache == d->capcache) {
        d->capcache = d->capcache ? d->capcache * 2 : 4;
        compiled *c = realloc(d->cache, d->capcache * sizeof *c);
        if (!c) abort();
        d->cache = c;
    }
    compiled *c = &d->cache[d->ncache];
    memset(c, 0, sizeof *c);
    c->id = id;
    char why[400];
    if (av_schema_parse(text, strlen(text), &c->schema, why, sizeof why)) {
        if (d->framed) snprintf(err, errlen, "schema id %u: %s", id, why);
        else snprintf(err, errlen, "avro-schema: %s", why);
        return NULL;
    }
    if (compile(d, c, why, sizeof why)) {
        op_free(&c->root);
        memset(&c->root, 0, sizeof c->root);
        c->refusal = strdup(why);
        if (!c->refusal) abort();
    } else {
        flatten(c, d->plan->ncols);
    }
    d->ncache++;
    return c;
}

static avdec *new_decoder(const rowplan *plan, field_source source) {
    avdec *d = kb_xcalloc(1, sizeof *d);
    d->plan = plan;
    d->source = source;
    fieldtree_build(&d->tree, plan, source);
    buf_init(&d->scratch, 256);
    return d;
}

int kb_avro_read_schema_option(const char *v, char **text, char *err, size_t errlen) {
    /* Inline JSON starts with '{', '[' or '"'; anything else is a file. */
    const char *s = v;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '{' || *s == '[' || *s == '"') {
        *text = strdup(v);
        if (!*text) abort();
        return 0;
    }
    FILE *f = fopen(v, "rb");
    if (!f) {
        snprintf(err, errlen, "avro-schema: cannot open %s", v);
        return -1;
    }
    buf b;
    buf_init(&b, 4096);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_put(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        buf_free(&b);
        snprintf(err, errlen, "avro-schema: cannot read %s", v);
        return -1;
    }
    buf_u8(&b, 0);
    *text = (char *)b.data;
    return 0;
}

int kb_avro_open_schema(void **state, const rowplan *plan, field_source source, const char *schema_json,
                        size_t skip_bytes, char *err, size_t errlen) {
    avdec *d = new_decoder(plan, source);
    d->skip = skip_bytes;
    compiled *c = add_entry(d, 0, schema_json, err, errlen);
    if (!c || c->refusal) {
        /* Known before any message: refused up front. */
        if (c) snprintf(err, errlen, "avro-schema: %s", c->refusal);
        avro_close(d);
        return -1;
    }
    *state = d;
    return 0;
}

static int avro_open_plain(void **state, const kb_decoder_config *cfg, char *err, size_t errlen) {
    const bridge_options *o = cfg->options;
    if (!o || !o->avro_schema) {
        snprintf(err, errlen, "--format avro needs avro-schema (a file or inline JSON) in the pipeline file");
        return -1;
    }
    char *text;
    if (kb_avro_read_schema_option(o->avro_schema, &text, err, errlen)) return -1;
    int rc = kb_avro_open_schema(state, cfg->plan, cfg->source, text, o->avro_skip_bytes, err, errlen);
    free(text);
    return rc;
}

static int open_registry(kb_registry **r, const bridge_options *o, char *err, size_t errlen) {
    if (!o || !o->schema_registry) {
        snprintf(err, errlen, "avro-confluent needs schema-registry (a URL) in the pipeline file");
        return -1;
    }
    kb_registry_config rc = {o->schema_registry, o->schema_registry_user, o->schema_registry_password,
                             o->schema_registry_ca, 0};
    return kb_registry_open(r, &rc, err, errlen);
}

static int avro_open_confluent(void **state, const kb_decoder_config *cfg, char *err, size_t errlen) {
    avdec *d = new_decoder(cfg->plan, cfg->source);
    d->framed = 1;
    d->skip = cfg->options ? cfg->options->avro_skip_bytes : 0;
    if (open_registry(&d->registry, cfg->options, err, errlen)) {
        avro_close(d);
        return -1;
    }
    *state = d;
    return 0;
}

static int avro_decode(void *state, rowbuild *rb, const void *data, size_t n, row_error *e) {
    avdec *d = state;
    run r = {rb, e, &d->scratch, 0, d->framed, 0};
    av_in in;
    av_in_init(&in, data, n);
    if (!data) {
        snprintf(e->reason, sizeof e->reason, "message has no %s; an Avro datum was expected",
                 d->source == FIELD_KEY ? "key" : "value (a tombstone)");
        return -1;
    }
    compiled *c;
    if (!d->framed) {
        if (n < d->skip) return bad(&r, NULL, &in, "message of %zu bytes, shorter than the %zu to skip", n, d->skip);
        in.p += d->skip;
        c = &d->cache[0];
    } else {
        if (n < d->skip + 5)
            return bad(&r, NULL, &in, "message of %zu bytes: too short for the Confluent framing "
                       "(magic byte 0 and a 4-byte schema id)", n);
        in.p += d->skip;
        if (*in.p != 0)
            return bad(&r, NULL, &in, "bad magic byte 0x%02x: not the Confluent framing (0 and a schema id)", *in.p);
        uint32_t id = (uint32_t)in.p[1] << 24 | (uint32_t)in.p[2] << 16 | (uint32_t)in.p[3] << 8 | in.p[4];
        in.p += 5;
        r.id = id;
        if (d->ncache && d->cache[d->last].id == id) {
            c = &d->cache[d->last];
        } else {
            c = NULL;
            for (size_t i = 0; i < d->ncache && !c; i++)
                if (d->cache[i].id == id) {
                    c = &d->cache[i];
                    d->last = i;
                }
            if (!c) {
                char *text, why[600];
                if (kb_registry_schema(d->registry, id, &text, why, sizeof why)) {
                    e->fatal = 1;
                    set_reason(e, "%s", why);
                    return -1;
                }
                c = add_entry(d, id, text, why, sizeof why);
                free(text);
                if (!c) {
                    e->fatal = 1;
                    set_reason(e, "%s", why);
                    return -1;
                }
                d->last = d->ncache - 1;
            }
        }
        if (c->refusal) {
            set_reason(e, "schema id %u: %s", id, c->refusal);
            e->byte = -1;
            return -1;
        }
    }
    int rc = c->flat ? decode_flat(&r, c, &in) : NOT_FLAT;
    if (rc == NOT_FLAT) rc = decode_any(&r, &c->root, &in, NULL);
    if (rc) return -1;
    if (in.p != in.end)
        return bad(&r, NULL, &in, "%ld bytes left after the Avro datum", (long)(in.end - in.p));
    return 0;
}

const kb_decoder_ops kb_avro_confluent_decoder = {
    .name = "avro-confluent",
    .describe = "Avro datums in the Confluent framing, schemas from a schema registry (AvroConfluent)",
    .open = avro_open_confluent,
    .decode = avro_decode,
    .close = avro_close,
};

const kb_decoder_ops kb_avro_decoder = {
    .name = "avro",
    .describe = "plain Avro datums of the writer schema given in the pipeline file",
    .open = avro_open_plain,
    .decode = avro_decode,
    .close = avro_close,
};

/* ---- schema to columns ------------------------------------------------- */

/* A union of several types other than null: Variant of their types, as
 * ClickHouse infers it (null is the Variant's NULL), spelled canonically:
 * the types sorted by name, one of each. */
static int variant_type(const av_node *w, buf *out, int depth, char *err, size_t errlen) {
    buf text;
    buf_init(&text, 64);
    buf_put(&text, "Variant(", 8);
    int any = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->kids[i]->type == AV_NULL) continue;
        if (any++) buf_put(&text, ", ", 2);
        if (column_type(w->kids[i], &text, depth + 1, err, errlen)) {
            buf_free(&text);
            return -1;
        }
    }
    buf_put(&text, ")", 2); /* with the NUL */
    chtype *t;
    char why[300];
    if (chtype_parse((const char *)text.data, &t, why, sizeof why)) {
        snprintf(err, errlen, "the union's types make no Variant: %s", why);
        buf_free(&text);
        return -1;
    }
    chtype_format(t, out);
    chtype_free(t);
    buf_free(&text);
    return 0;
}

static int column_type(const av_node *w, buf *out, int depth, char *err, size_t errlen) {
    if (depth > 32) {
        snprintf(err, errlen, "schema nested too deeply (recursive?) for a column type");
        return -1;
    }
    switch (w->type) {
    case AV_NULL: buf_put(out, "Nullable(Nothing)", 17); return 0;
    case AV_BOOLEAN: buf_put(out, "Bool", 4); return 0;
    case AV_INT:
        if (w->logical == AVL_DATE) buf_put(out, "Date32", 6);
        else buf_put(out, "Int32", 5);
        return 0;
    case AV_LONG: {
        const char *s = "Int64";
        switch (w->logical) {
        case AVL_TS_MILLIS: s = "DateTime64(3, 'UTC')"; break;
        case AVL_TS_MICROS: s = "DateTime64(6, 'UTC')"; break;
        case AVL_TS_NANOS: s = "DateTime64(9, 'UTC')"; break;
        case AVL_LTS_MILLIS: s = "DateTime64(3)"; break;
        case AVL_LTS_MICROS: s = "DateTime64(6)"; break;
        case AVL_LTS_NANOS: s = "DateTime64(9)"; break;
        default: break;
        }
        buf_put(out, s, strlen(s));
        return 0;
    }
    case AV_FLOAT: buf_put(out, "Float32", 7); return 0;
    case AV_DOUBLE: buf_put(out, "Float64", 7); return 0;
    case AV_BYTES: case AV_STRING: case AV_FIXED: {
        char t[64];
        if (w->logical == AVL_DECIMAL) snprintf(t, sizeof t, "Decimal(%u, %u)", w->precision, w->scale);
        else if (w->logical == AVL_UUID) snprintf(t, sizeof t, "UUID");
        else if (w->type == AV_FIXED) snprintf(t, sizeof t, "FixedString(%zu)", w->size);
        else snprintf(t, sizeof t, "String");
        buf_put(out, t, strlen(t));
        return 0;
    }
    case AV_ENUM: {
        buf_put(out, w->n <= 127 ? "Enum8(" : "Enum16(", w->n <= 127 ? 6 : 7);
        for (size_t i = 0; i < w->n; i++) {
            char v[32];
            if (i) buf_put(out, ", ", 2);
            buf_u8(out, '\'');
            for (const char *p = w->names[i]; *p; p++) {
                if (*p == '\'' || *p == '\\') buf_u8(out, '\\');
                buf_u8(out, (uint8_t)*p);
            }
            snprintf(v, sizeof v, "' = %zu", i);
            buf_put(out, v, strlen(v));
        }
        buf_u8(out, ')');
        return 0;
    }
    case AV_ARRAY:
        buf_put(out, "Array(", 6);
        if (column_type(w->kids[0], out, depth + 1, err, errlen)) return -1;
        buf_u8(out, ')');
        return 0;
    case AV_MAP:
        buf_put(out, "Map(String, ", 12);
        if (column_type(w->kids[0], out, depth + 1, err, errlen)) return -1;
        buf_u8(out, ')');
        return 0;
    case AV_RECORD:
        buf_put(out, "Tuple(", 6);
        for (size_t i = 0; i < w->n; i++) {
            if (i) buf_put(out, ", ", 2);
            buf_put(out, w->names[i], strlen(w->names[i]));
            buf_u8(out, ' ');
            if (column_type(w->kids[i], out, depth + 1, err, errlen)) return -1;
        }
        buf_u8(out, ')');
        return 0;
    case AV_UNION: {
        const av_node *only = NULL;
        int nulls = 0, others = 0;
        for (size_t i = 0; i < w->n; i++) {
            if (w->kids[i]->type == AV_NULL) nulls++;
            else {
                others++;
                only = w->kids[i];
            }
        }
        if (others == 0) {
            snprintf(err, errlen, "a union of null alone has no column type");
            return -1;
        }
        if (others > 1) return variant_type(w, out, depth, err, errlen);
        int wrap = nulls && only->type != AV_ARRAY && only->type != AV_MAP && only->type != AV_RECORD;
        if (wrap) buf_put(out, "Nullable(", 9);
        if (column_type(only, out, depth + 1, err, errlen)) return -1;
        if (wrap) buf_u8(out, ')');
        return 0;
    }
    }
    return -1;
}

/* The names key columns are checked against: the value's columns and
 * every key column's own name (each sorted, for lookups), and the few
 * names given to key columns renamed on the way. */
typedef struct names {
    const char **value;
    size_t nvalue;
    char **keys;
    size_t nkeys;
    char **renamed;
    size_t nrenamed;
} names;

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int in_sorted(const void *sorted, size_t n, const char *name) {
    return n && bsearch(&name, sorted, n, sizeof(const char *), name_cmp);
}

static void names_free(names *t) {
    for (size_t i = 0; i < t->nkeys; i++) free(t->keys[i]);
    for (size_t i = 0; i < t->nrenamed; i++) free(t->renamed[i]);
    free(t->keys);
    free(t->renamed);
    free(t->value);
}

static char *natural_key_name(const char *field) {
    size_t n = field ? strlen(field) : 0;
    char *s = kb_xcalloc(n + 5, 1);
    memcpy(s, "key", 3);
    if (field) {
        s[3] = '_';
        memcpy(s + 4, field, n);
    }
    return s;
}

/* The key column for key field `field` (NULL: the whole key): `key_<field>`
 * (or `key`), unless a value column has that name; then the first of
 * `key_<field>_1`, `_2`, ... that no column has.  Value columns keep their
 * names, so the list never names a column twice, and the same schemas give
 * the same names every time. */
static void key_column_name(names *t, const char *field, buf *out) {
    char *name = natural_key_name(field);
    if (t && in_sorted(t->value, t->nvalue, name)) {
        size_t len = strlen(name);
        char *tried = kb_xcalloc(len + 24, 1);
        for (unsigned k = 1;; k++) {
            snprintf(tried, len + 24, "%s_%u", name, k);
            int taken = in_sorted(t->value, t->nvalue, tried) || in_sorted(t->keys, t->nkeys, tried);
            for (size_t i = 0; i < t->nrenamed && !taken; i++) taken = !strcmp(t->renamed[i], tried);
            if (!taken) break;
        }
        char **r = realloc(t->renamed, (t->nrenamed + 1) * sizeof *r);
        if (!r) abort();
        t->renamed = r;
        t->renamed[t->nrenamed++] = tried;
        free(name);
        name = strdup(tried);
        if (!name) abort();
    }
    buf_put(out, name, strlen(name));
    free(name);
}

/* One column per field of the record r; for the key (`key` set) each
 * named key_<field> and taken by PATH '$key.<field>', or a primitive key
 * whole as `key` PATH '$key' (names made unique against `taken`).  Avro
 * names need no quoting in a path. */
static int record_columns(const av_node *r, int key, names *taken, buf *out, char *err, size_t errlen) {
    char why[300];
    if (key && r->type != AV_RECORD) {
        buf_u8(out, '`');
        key_column_name(taken, NULL, out);
        buf_put(out, "` ", 2);
        if (column_type(r, out, 0, why, sizeof why)) {
            snprintf(err, errlen, "the key: %s", why);
            return -1;
        }
        buf_put(out, " PATH '$key'", 12);
        return 0;
    }
    if (r->type != AV_RECORD) {
        snprintf(err, errlen, "the schema is a %s, not a record", av_type_name(r));
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (i) buf_put(out, ",\n", 2);
        buf_u8(out, '`');
        if (key) key_column_name(taken, r->names[i], out);
        else buf_put(out, r->names[i], strlen(r->names[i]));
        buf_put(out, "` ", 2);
        if (column_type(r->kids[i], out, 0, why, sizeof why)) {
            snprintf(err, errlen, "field '%s': %s", r->names[i], why);
            return -1;
        }
        if (key) {
            buf_put(out, " PATH '$key.", 12);
            buf_put(out, r->names[i], strlen(r->names[i]));
            buf_u8(out, '\'');
        }
    }
    return 0;
}

int kb_avro_columns(const av_schema *s, buf *out, char *err, size_t errlen) {
    if (record_columns(s->root, 0, NULL, out, err, errlen)) return -1;
    buf_u8(out, '\n');
    return 0;
}

/* A writer schema --describe prints columns for, and where it came from
 * (for messages). */
typedef struct described {
    av_schema s;
    int have;
    char where[460];
} described;

/* The latest schema of the subject `<topic>-key` or `<topic>-value`. */
static int latest_schema(kb_registry *reg, const char *topic, int key, described *d, char *err, size_t errlen) {
    char subject[400], *text;
    uint32_t id;
    snprintf(subject, sizeof subject, "%s-%s", topic, key ? "key" : "value");
    if (kb_registry_latest(reg, subject, &id, &text, err, errlen)) return -1;
    snprintf(d->where, sizeof d->where, "subject '%s' (schema id %u)", subject, id);
    char why[400];
    int rc = av_schema_parse(text, strlen(text), &d->s, why, sizeof why);
    free(text);
    if (rc) {
        snprintf(err, errlen, "%s: %s", d->where, why);
        return -1;
    }
    d->have = 1;
    return 0;
}

/* The pipeline's avro-schema, for `format = avro` and `key-format = avro`. */
static int option_schema(const bridge_options *o, const char *setting, described *d, char *err, size_t errlen) {
    if (!o->avro_schema) {
        snprintf(err, errlen, "%s avro needs avro-schema (a file or inline JSON) in the pipeline file", setting);
        return -1;
    }
    char *text, why[400];
    if (kb_avro_read_schema_option(o->avro_schema, &text, err, errlen)) return -1;
    snprintf(d->where, sizeof d->where, "avro-schema");
    int rc = av_schema_parse(text, strlen(text), &d->s, why, sizeof why);
    free(text);
    if (rc) {
        snprintf(err, errlen, "avro-schema: %s", why);
        return -1;
    }
    d->have = 1;
    return 0;
}

int kb_avro_describe(const bridge_options *o, buf *out, char *err, size_t errlen) {
    /* Where each part's writer schema is: 0 nowhere, 1 the registry, 2
     * the pipeline's avro-schema.  Without an Avro format the value's
     * subject in the registry, unless only the key is Avro. */
    int key = 0, value = 0;
    if (o->key_format && !strcmp(o->key_format, "avro-confluent")) key = 1;
    else if (o->key_format && !strcmp(o->key_format, "avro")) key = 2;
    if (o->format && !strcmp(o->format, "avro-confluent")) value = 1;
    else if (o->format && !strcmp(o->format, "avro")) value = 2;
    else if (!key) value = 1;
    described kd = {0}, vd = {0};
    kb_registry *reg = NULL;
    int rc = 0;
    if ((key == 1 || value == 1) && open_registry(&reg, o, err, errlen)) return -1;
    if (key == 1) rc = latest_schema(reg, o->topic, 1, &kd, err, errlen);
    else if (key == 2) rc = option_schema(o, "key-format =", &kd, err, errlen);
    if (!rc && value == 1) rc = latest_schema(reg, o->topic, 0, &vd, err, errlen);
    else if (!rc && value == 2) rc = option_schema(o, "format =", &vd, err, errlen);
    kb_registry_close(reg);
    names taken = {0};
    if (!rc && key) {
        /* The value's names, and the key's own, before any key column is named. */
        const av_node *v = value ? vd.s.root : NULL, *k = kd.s.root;
        size_t nv = v && v->type == AV_RECORD ? v->n : 0, nk = k->type == AV_RECORD ? k->n : 1;
        taken.value = kb_xcalloc(nv + 1, sizeof *taken.value);
        for (size_t i = 0; i < nv; i++) taken.value[taken.nvalue++] = v->names[i];
        qsort(taken.value, taken.nvalue, sizeof *taken.value, name_cmp);
        taken.keys = kb_xcalloc(nk, sizeof *taken.keys);
        for (size_t i = 0; i < nk; i++)
            taken.keys[taken.nkeys++] = natural_key_name(k->type == AV_RECORD ? k->names[i] : NULL);
        qsort(taken.keys, taken.nkeys, sizeof *taken.keys, name_cmp);
        char why[300];
        if (record_columns(k, 1, &taken, out, why, sizeof why)) {
            snprintf(err, errlen, "%s: %s", kd.where, why);
            rc = -1;
        }
        if (!rc && value) buf_put(out, ",\n", 2);
    }
    if (!rc && value) {
        char why[300];
        if (record_columns(vd.s.root, 0, NULL, out, why, sizeof why)) {
            snprintf(err, errlen, "%s: %s", vd.where, why);
            rc = -1;
        }
    }
    names_free(&taken);
    if (kd.have) av_schema_free(&kd.s);
    if (vd.have) av_schema_free(&vd.s);
    if (!rc) buf_u8(out, '\n');
    return rc;
}
