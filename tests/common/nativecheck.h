/*
 * nativecheck.h - test helpers for native.h, written apart from it: a
 * reader of Native blocks back into RowBinary rows, and a maker of valid
 * RowBinary rows for any column list from a stream of entropy bytes.
 *
 * A transposed block is right when reading it back gives the very rows
 * it was made from: every stream has the length its type and row count
 * say, the offsets are cumulative, nothing is left over.
 */
#ifndef KB_NATIVECHECK_H
#define KB_NATIVECHECK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "rowplan.h"

/* Reads the Native blocks in [p, p + len) for plan's columns (names in
 * order; type names parsed and never LowCardinality) and appends their
 * rows, as RowBinary, to rows.  Counts rows and blocks (each may be NULL).
 * Returns 0, or -1 with err saying what was wrong. */
int nativecheck_read(const rowplan *plan, const unsigned char *p, size_t len, buf *rows, size_t *nrows,
                     size_t *nblocks, size_t *max_block_rows, char *err, size_t errlen);

/* Entropy for nativecheck_row: bytes taken in turn, zeros once used up. */
typedef struct nativecheck_src {
    const unsigned char *p;
    size_t len;
} nativecheck_src;

/* Appends one valid RowBinary row of plan to out. */
void nativecheck_row(const rowplan *plan, nativecheck_src *src, buf *out);

#endif
