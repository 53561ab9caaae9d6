/*
 * startpos.h - start positions handed over by ClickHouse.
 *
 * With --offsets-from stdin, the query passes an input query such as
 *
 *     (SELECT _partition, max(_offset) + 1 FROM events GROUP BY _partition)
 *
 * and ClickHouse writes its result to the program's stdin in the format of
 * the executable() call.  Only RowBinaryWithNamesAndTypes is accepted for
 * this input: its header carries the types, so the bridge checks what it
 * was given instead of assuming it.  The rows are (partition, next offset):
 * two columns of any integer types, Nullable allowed, but a NULL is an
 * error (it is no position).  The names are not checked: they are whatever the query
 * computed (`plus(max(_offset), 1)`).
 */
#ifndef KB_STARTPOS_H
#define KB_STARTPOS_H

#include <stddef.h>

#include "consumer.h"

/* Reads fd to its end and parses it.  On success *out holds *n starts
 * (OFFSET_ABSOLUTE each, sorted by partition; free() it), and returns 0.  On failure returns -1
 * with err naming the problem as "input query: ...".  ClickHouse leaves
 * stdin open and silent when the query has no input query, so a wait of
 * more than timeout_ms for the next bytes is that mistake, reported as
 * such rather than left to ClickHouse's own read timeout. */
int startpos_read(int fd, int timeout_ms, partition_start **out, size_t *n, char *err,
                  size_t errlen);

/* Orders partition_start by partition, for qsort and bsearch. */
int partition_start_cmp(const void *a, const void *b);

/* The same on bytes already in memory (used by the reader and the tests). */
int startpos_parse(const unsigned char *data, size_t len, partition_start **out, size_t *n,
                   char *err, size_t errlen);

#endif
