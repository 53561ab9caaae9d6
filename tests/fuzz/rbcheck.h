/*
 * rbcheck.h - an independent reader of RowBinary, for the fuzz targets.
 *
 * The bridge's writers (rbwriter.h) are the code under test, so this
 * reader shares nothing with them but the type tree: it walks one row of
 * a column list over a buffer and says whether the bytes are exactly a
 * row ClickHouse would accept, with every length inside the buffer, every
 * Nullable flag 0 or 1, every Bool 0 or 1, every Enum value one of the
 * type's items and every Variant discriminator a type's index or 255.
 */
#ifndef KB_RBCHECK_H
#define KB_RBCHECK_H

#include <stddef.h>

#include "chtype.h"

/* Reads one row of cols at data[*pos..len) and advances *pos past it.
 * Returns 0, or -1 with a reason in err (the column and the byte). */
int rbcheck_row(const chcolumns *cols, const unsigned char *data, size_t len, size_t *pos, char *err,
                size_t errlen);

#endif
