/*
 * native.h - ClickHouse Native blocks, filled column by column.
 *
 * ClickHouse reads Native much more cheaply than RowBinary, because a
 * Native block is column after column and each column is read in bulk.
 * Decoders still write each value as rbwriter.h encodes it (the one place
 * that knows how each type is stored), but in Native mode into the
 * column's own buffer of the block being filled (native_columns, through
 * rowbuild.h) instead of into a row.  For the types whose Native stream is
 * their RowBinary values back to back (fixed-width types, String, and
 * LowCardinality of those) that buffer is the column's stream and nothing
 * is moved again.  A composite column (Nullable, Array, Map, Nested,
 * Tuple) keeps its values in RowBinary there, and is split into its
 * streams (null map, offsets, elements) when the block is closed: one
 * pass over that column only, by a splitter compiled once from its type.
 * Every buffer is kept from block to block, so once warm nothing is
 * allocated.
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

#include <sys/uio.h>

#include "buf.h"
#include "rowplan.h"

typedef struct native native;

/* Compiles the splitters for plan's columns.  A block is full at
 * max_rows rows or max_bytes of column bytes (what the columns hold in
 * RowBinary; a single row larger than that is a block of its own).  The
 * plan must outlive every other call; native_close does not read it. */
native *native_open(const rowplan *plan, size_t max_rows, size_t max_bytes);
void native_close(native *n);

/* The block being filled: per column of the plan, the buffer that the
 * column's values are appended to, each as rbwriter.h writes it.  A row
 * is in the block once every column holds its value: say so with
 * native_added.  A row that fails half-way is cut back by the writer
 * (each buffer to its length before the row). */
buf *native_columns(native *n);

/* Counts `rows` more whole rows in native_columns.  Returns 1 when the
 * block is now full (close it, native_block_pieces or native_flush_block,
 * before the next row), else 0. */
int native_added(native *n, size_t rows);

/* Whole rows in the block being filled. */
size_t native_rows(const native *n);

/* Closes the block being filled: *pieces are its bytes as one Native
 * block, *npieces pieces to be written in order (writev), pointing into
 * n's own buffers, so the columns are not copied again on their way out
 * (the caller may advance the pieces as it writes them).  They stay
 * valid until native_block_done, which starts an empty block; no row may
 * be added before that.  A block without rows has no pieces.
 * Returns 0, or -1 with err naming the column whose values do not parse
 * as RowBinary of its type (a programming error upstream); the block is
 * then dropped. */
int native_block_pieces(native *n, struct iovec **pieces, size_t *npieces, char *err, size_t errlen);
void native_block_done(native *n);

/* native_block_pieces copied to the end of out, then native_block_done:
 * for a caller that keeps blocks before writing them. */
int native_flush_block(native *n, buf *out, char *err, size_t errlen);

/* Adds rows[0..len), whole RowBinary rows of the plan (rowplan.h's error
 * rows, say), to the block being filled, without closing it.  Returns 0,
 * or -1 with err naming the row and column when the bytes are not such
 * rows: the rows before that one are in the block, nothing of it. */
int native_append(native *n, const unsigned char *rows, size_t len, char *err, size_t errlen);

/* RowBinary rows to blocks in one call: rows[0..len) are added to the
 * block being filled row by row, each block flushed to out when full, and
 * the last one when the rows end.  *nblocks (may be NULL) gets the number
 * of blocks written.  Returns 0, or -1 as native_append (out then holds
 * the blocks before the bad row; the one it was in is dropped). */
int native_encode(native *n, const unsigned char *rows, size_t len, buf *out, size_t *nblocks,
                  char *err, size_t errlen);

/* A block that ClickHouse refuses with `message` quoted in its error: one
 * column named `name` whose type name is @'message', which no type starts
 * with.  Valid blocks may precede it; nothing after it is read. */
void native_error_block(buf *out, const char *name, const char *message);

#endif
