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
 * Parsing yields a tree of chtype nodes.  chtype_format() prints a type the
 * way ClickHouse prints it, because RowBinaryWithNamesAndTypes headers are
 * compared with ClickHouse's own spelling as plain strings.
 *
 * A type this version cannot encode is refused here, with the column and
 * the type named, so that no message is read for a plan that cannot work.
 */
#ifndef KB_CHTYPE_H
#define KB_CHTYPE_H

#include <stddef.h>

#include "buf.h"

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
    CT_LOWCARDINALITY
} chtype_kind;

typedef struct chtype {
    chtype_kind kind;
    unsigned precision;    /* DateTime64: digits after the second, 0..9 */
    char *timezone;        /* DateTime, DateTime64: NULL when not given */
    struct chtype *inner;  /* Nullable, LowCardinality */
} chtype;

typedef struct chcolumn {
    char *name;
    chtype *type;
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
 * variable-size types (String, and Nullable of anything). */
size_t chtype_fixed_size(const chtype *t);

/* t with any Nullable/LowCardinality wrappers removed. */
const chtype *chtype_base(const chtype *t);

#endif
