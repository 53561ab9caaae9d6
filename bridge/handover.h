/*
 * handover.h - what a run handed to ClickHouse, kept for the next run.
 *
 * The run lock is released when the bridge exits, but ClickHouse commits
 * the rows only after that, when its INSERT ends.  A run starting in that
 * window would be given the old positions by its input query and read
 * the same messages again.  So a run that ends well records, in its lock
 * file, where each partition's rows ended and when; the next run compares
 * that with the positions the table gave it.  A table behind the record
 * means the rows are not visible yet: the run refuses to read.  Once the
 * grace period has passed since the record, a table still behind means
 * that INSERT failed, and reading from the table's positions is right.
 *
 * Record format (text, after the pid line of the lock file):
 *   handover 1
 *   topic NAME
 *   time UNIX_MS
 *   PARTITION NEXT_OFFSET      one line per partition that got rows
 */
#ifndef KB_HANDOVER_H
#define KB_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

#include "consumer.h"

typedef struct handover {
    int64_t *next;   /* by partition id: offset after its last row, or -1 */
    size_t cap;
} handover;

void handover_init(handover *h);
void handover_free(handover *h);

/* A row (or rows) of the message at (partition, offset) was written.
 * Returns -1 only when out of memory, which happens at most once per new
 * partition id, never per message. */
int handover_note(handover *h, int32_t partition, int64_t offset);

/* The record text for the lock file, malloc'd; NULL when out of memory. */
char *handover_format(const handover *h, const char *topic, int64_t now_ms);

/* Checks the previous run's record against `stored`, the start positions
 * (those the table gave on stdin; sorted by partition), for the partitions
 * in `reading` (sorted) only.  Returns 0 to go on (with `note` filled when
 * a record was given up after the grace period), or -1 with err filled
 * when the previous run's rows are not visible yet. */
int handover_check(const char *record, const char *topic, const int32_t *reading,
                   size_t nreading, const partition_start *stored, size_t nstored, double grace_s, int64_t now_ms, char *note, size_t notelen,
                   char *err, size_t errlen);

#endif
