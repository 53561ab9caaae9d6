/*
 * native.h - RowBinary rows transposed into ClickHouse Native blocks.
 *
 * Decoders write RowBinary (rbwriter.h stays the one place that knows how
 * each type is stored).  ClickHouse reads Native much more cheaply, because
 * a Native block is column after column and each column is read in bulk.
 * This module turns a run of whole RowBinary rows into Native blocks: a
 * transposer compiled once from the column types, whose per-stream buffers
 * are kept from block to block, so that once warm nothing is allocated.
 *
 * A block, as ClickHouse's Native input format reads it (no client
 * revision, hence no block info and no serialization kinds):
 *     LEB128 column count, LEB128 row count,
 *     per column: name (String), type name (String), data.
 * Column data is the concatenation of the type's streams, depth first:
 *     fixed-width types   the values back to back, as in RowBinary;
 *     String              per value LEB128 length and bytes, as in RowBinary;
 *     Nullable(T)         one byte per row (1 = NULL), then T for every row,
 *                         a NULL row holding T's default;
 *     Array(T)            a UInt64 per row: elements so far in the block
 *                         (cumulative), then T for every element;
 *     Map(K, V)           as Array(Tuple(K, V)): offsets, all keys, all
 *                         values;
 *     Tuple(...)          each element's column in turn;
 *     Variant(...)        one byte per row, the discriminator (255 = NULL),
 *                         then each type's column holding only the rows
 *                         of that type, in the Variant's (sorted) order;
 *                         before all of the column's streams, one UInt64
 *                         0 per Variant in it (its discriminators' mode,
 *                         basic), in the order the types nest.
 * LowCardinality(T) is sent as T, and named so in the block: its own
 * encoding (dictionaries and indexes) would be built only to be rebuilt;
 * ClickHouse converts a column whose type differs from the table's
 * (input_format_native_allow_types_conversion, on by default).
 */
#ifndef KB_NATIVE_H
#define KB_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "rowplan.h"

typedef struct native native;

/* Compiles the transposer for plan's columns.  A block holds at most
 * max_rows rows and is closed as soon as its rows took max_bytes of
 * RowBinary (a single row larger than that is a block of its own).  The
 * plan must outlive every native_encode call; native_close does not read
 * it. */
native *native_open(const rowplan *plan, size_t max_rows, size_t max_bytes);
void native_close(native *n);

/* Appends to out the Native blocks holding rows[0..len), which must be
 * whole RowBinary rows of the plan.  *nblocks (may be NULL) gets the
 * number of blocks written.  Returns 0, or -1 with err naming the row and
 * column when the bytes are not such rows (a programming error upstream:
 * out then holds the blocks before the bad one). */
int native_encode(native *n, const unsigned char *rows, size_t len, buf *out, size_t *nblocks,
                  char *err, size_t errlen);

/* A block that ClickHouse refuses with `message` quoted in its error: one
 * column named `name` whose type name is @'message', which no type starts
 * with.  Valid blocks may precede it; nothing after it is read. */
void native_error_block(buf *out, const char *name, const char *message);

#endif
