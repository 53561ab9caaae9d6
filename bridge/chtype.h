/*
 * chtype.h - ClickHouse column lists and data types.
 *
 * A column list is written the way ClickHouse writes a table structure:
 *
 *     id UInt64, name String, ts DateTime64(3, 'UTC'), tag Nullable(String)
 *
 * Because some ClickHouse entry points split the command line on every
 * space, a colon may stand between a name and its type instead of
 * whitespace, which gives a spelling with no spaces at all:
 *
 *     id:UInt64,name:String,ts:DateTime64(3,UTC)
 *
 * (a time zone may be written without quotes, which survive neither
 * shell-like splitting nor easily a quoted SQL string).
 *
 * A column may name where in the message its value is (see fieldpath.h),
 * after the type, with the word PATH or, in the spelling without spaces,
 * a second colon:
 *
 *     user_id UInt64 PATH '$.user.id', first_tag String PATH '$.tags[0]'
 *     user_id:UInt64:$.user.id,first_tag:String:$.tags[0]
 *
 * The path is the bridge's own: it is not part of the structure given to
 * executable(), which lists names and types only.
 *
 * A column of type Nested(a T, b U) stands for the columns `name.a
 * Array(T)` and `name.b Array(U)`, as ClickHouse flattens it
 * (flatten_nested = 1, its default); the list is expanded when parsed.
 *
 * Parsing yields a tree of chtype nodes.  chtype_format() prints a type the
 * way ClickHouse prints it, because RowBinaryWithNamesAndTypes headers are
 * compared with ClickHouse's own spelling as plain strings: Decimal32(2) is
 * Decimal(9, 2), an Enum's elements are sorted by value, and so on.
 *
 * Variant(T, U, ...) keeps its types as ClickHouse does: sorted by their
 * canonical names (byte order) with repeats dropped, because a value's
 * discriminator is its type's index in that order.  ClickHouse refuses
 * Nullable, LowCardinality(Nullable) and Variant directly inside a
 * Variant, and a Nullable(Variant); so does this parser, which also
 * refuses LowCardinality anywhere inside a Variant (Native output names
 * types without LowCardinality, which would change their order).
 *
 * A type this version cannot encode (Dynamic, JSON, AggregateFunction,
 * ...) or a combination ClickHouse itself forbids
 * (Nullable(Array(...)), LowCardinality(Decimal(...)), ...) is refused
 * here, with the column and the type named, so that no message is read for
 * a plan that cannot work.
 */
#ifndef KB_CHTYPE_H
#define KB_CHTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "fieldpath.h"
#include "tz.h"

/* The first eight kinds are the integers up to 64 bits, in this order:
 * rowplan relies on it. */
typedef enum chtype_kind {
    CT_INT8,
    CT_INT16,
    CT_INT32,
    CT_INT64,
    CT_UINT8,
    CT_UINT16,
    CT_UINT32,
    CT_UINT64,
    CT_FLOAT32,
    CT_FLOAT64,
    CT_BOOL,
    CT_STRING,
    CT_DATE,
    CT_DATETIME,
    CT_DATETIME64,
    CT_NULLABLE,
    CT_LOWCARDINALITY,
    CT_INT128,
    CT_INT256,
    CT_UINT128,
    CT_UINT256,
    CT_BFLOAT16,
    CT_DECIMAL,
    CT_FIXEDSTRING,
    CT_DATE32,
    CT_UUID,
    CT_IPV4,
    CT_IPV6,
    CT_ENUM8,
    CT_ENUM16,
    CT_ARRAY,
    CT_MAP,
    CT_TUPLE,
    CT_NESTED, /* inside another type: Array(Tuple(...)) spelled Nested(...) */
    CT_VARIANT /* elems: the types, sorted by their names as ClickHouse sorts them */
} chtype_kind;

typedef struct chtype_enum_item {
    char *name;
    size_t name_len;
    int value;
} chtype_enum_item;

typedef struct chtype {
    chtype_kind kind;
    unsigned precision;    /* DateTime64: digits after the second, 0..9; Decimal: 1..76 */
    unsigned scale;        /* Decimal: 0..precision */
    size_t length;         /* FixedString: bytes */
    char *timezone;        /* DateTime, DateTime64: as written, NULL when not given */
    tz_zone *zone;         /* DateTime, DateTime64: the zone of local times, default one if none given */
    struct chtype *inner;  /* Nullable, LowCardinality, Array */
    struct chtype **elems; /* Tuple, Nested: the elements; Map: key and value; Variant: its types */
    char **names;          /* Tuple, Nested: element names; NULL for an unnamed Tuple */
    size_t nelems;
    chtype_enum_item *items; /* Enum: sorted by value */
    uint32_t *by_name;     /* Enum: item indexes sorted by name, for lookups */
    size_t nitems;
} chtype;

typedef struct chcolumn {
    char *name;
    chtype *type;
    fieldpath *path;        /* NULL: the top-level field of the column's name */
} chcolumn;

typedef struct chcolumns {
    chcolumn *v;
    size_t n;
} chcolumns;

/* Parses a column list.  On failure returns -1 and writes a message naming
 * the column (when known) and the offending text into err. */
int chcolumns_parse(const char *text, chcolumns *out, char *err, size_t errlen);
void chcolumns_free(chcolumns *cols);

/* Parses a single type, e.g. "Nullable(DateTime64(3, 'UTC'))". */
int chtype_parse(const char *text, chtype **out, char *err, size_t errlen);
void chtype_free(chtype *t);

/* Appends ClickHouse's canonical spelling of t to out. */
void chtype_format(const chtype *t, buf *out);

/* Bytes one value of t takes in RowBinary when that size is fixed; 0 for
 * variable-size types (String, Array, Map, Nullable of anything, and
 * tuples holding one of them). */
size_t chtype_fixed_size(const chtype *t);

/* Whether t is or holds a Variant anywhere (for decoders that cannot
 * fill one). */
int chtype_has_variant(const chtype *t);

/* t with any Nullable/LowCardinality wrappers removed. */
const chtype *chtype_base(const chtype *t);

/* The Enum item named (s, n), or NULL. */
const chtype_enum_item *chtype_enum_by_name(const chtype *t, const char *s, size_t n);
/* The Enum item of value v, or NULL. */
const chtype_enum_item *chtype_enum_by_value(const chtype *t, long v);

#endif
