/*
 * rowplan.h - a column list compiled for decoding.
 *
 * Built once per run: each column is either a field of the message or one
 * of the metadata columns below, and a hash table maps field names to
 * columns so that decoders look nothing up by type or by string
 * comparison per message beyond that one probe.
 *
 * Metadata columns (names reserved by the bridge):
 *     _topic      String, LowCardinality(String)
 *     _partition  any integer type wide enough for the partition numbers
 *     _offset     any integer type wide enough for the offsets
 *     _timestamp  DateTime64(P) or DateTime: the message timestamp, held to
 *                 the type's range like any time (rbw_time)
 *     _key        String: the message key, raw bytes
 *     _error      String: with --on-error stream, why the message could not
 *                 become a row ('' for good rows)
 *     _raw        String: with --on-error stream, the message value of a row
 *                 with an error ('' for good rows)
 *     _headers.name   Array(String): the header names, in the message's order
 *     _headers.value  Array(String) or Array(Nullable(String)): their values,
 *                 raw bytes; a header without a value is '' (or NULL)
 *                 (both also come from `_headers Nested(name String, value String)`)
 *     _headers    Map(String, String) or Map(String, Nullable(String)): each
 *                 name once, with the value of its last occurrence, in the
 *                 order of those last occurrences
 * Each scalar one may be Nullable; a key, timestamp, error or raw value
 * that is absent is then NULL.
 */
#ifndef KB_ROWPLAN_H
#define KB_ROWPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "chtype.h"
#include "message.h"

typedef enum meta_kind {
    META_NONE,
    META_TOPIC,
    META_PARTITION,
    META_OFFSET,
    META_TIMESTAMP,
    META_KEY,
    META_ERROR,
    META_RAW,
    META_HEADER_NAMES,
    META_HEADER_VALUES,
    META_HEADERS
} meta_kind;

typedef struct plan_column {
    const char *name;
    size_t name_len;
    int plain_name;    /* no '"', '\\' or control bytes: JSON writes it as is */
    const chtype *type;
    const fieldpath *path; /* NULL: the field of the column's name */
    field_source source;   /* the part of the message it is read from */
    meta_kind meta;
} plan_column;

typedef struct rowplan {
    plan_column *cols;
    size_t ncols;
    uint32_t *index;   /* open addressing: column number + 1, 0 = empty */
    size_t index_mask;
} rowplan;

/* The plan borrows names and types from `cols`, which must outlive it. */
int rowplan_build(rowplan *p, const chcolumns *cols, char *err, size_t errlen);
void rowplan_free(rowplan *p);

/* Column number of a message field, or -1 when no column takes it. */
int rowplan_find(const rowplan *p, const char *name, size_t len);

/* RowBinaryWithNamesAndTypes header: count, names, canonical types. */
void rowplan_header(const rowplan *p, buf *out);

/* Encodes metadata column `col` of message m. */
int rowplan_put_meta(const plan_column *col, const kb_msg *m, buf *out, row_error *e);

/* The row standing for message m that could not be decoded (--on-error
 * stream): metadata columns filled, m->error in _error, the value in _raw,
 * every other column its default. */
int rowplan_put_error_row(const rowplan *p, const kb_msg *m, buf *out, row_error *e);

/* Column number of a metadata column, or -1. */
int rowplan_find_meta(const rowplan *p, meta_kind kind);

/* Whether some column reads the message key through a path ($key...). */
int rowplan_reads_key(const rowplan *p);

/* Whether some column holds the message headers: only then does the
 * consumer fill kb_msg.headers. */
int rowplan_reads_headers(const rowplan *p);

/* For a decoder that cannot fill Variant columns (only Avro's unions map
 * onto one): -1 with err naming the first column read from `source` whose
 * type is or holds a Variant, and the format; else 0. */
int rowplan_refuse_variant(const rowplan *p, field_source source, const char *format, char *err,
                           size_t errlen);

#endif
