/*
 * inspect.h - table-returning looks at Kafka for executable(), like
 * kcat -L and kcat -C -o -N: nothing is consumed for keeps, nothing is
 * committed.
 *
 * Modes (--inspect MODE) and the structure each writes, to give to
 * executable() as written here:
 *   topics   topic String, partition Int32, leader Int32,
 *            replicas Array(Int32), isr Array(Int32), log_start Int64,
 *            log_end Int64, error String
 *            every topic the credentials may see, or only -t's
 *   groups   group String, state String, topic String, partition Int32,
 *            committed Int64, log_end Int64, lag Int64
 *            every consumer group with its committed offsets (only those
 *            of -t's topic when given); a group without commits has one
 *            row with topic '' and partition -1
 *   peek     partition Int32, offset Int64, timestamp Nullable(DateTime64(3, 'UTC')),
 *            key Nullable(String), value Nullable(String),
 *            headers Array(Tuple(name String, value Nullable(String)))
 *            the last -c N messages (default 10) of each partition of -t
 *            (or of -p's), as they are at the start of the run
 *   watermarks  the same as --watermarks (see options.h)
 * All output is built in memory and written at the end, so a failure
 * always reaches ClickHouse as an error, never as a short table.
 */
#ifndef KB_INSPECT_H
#define KB_INSPECT_H

#include <stddef.h>

#include "options.h"
#include "output.h"

/* The structure a mode writes, or NULL for an unknown mode. */
const char *inspect_columns(const char *mode);

/* Runs mode o->inspect and writes its rows to out.  Returns 0, or -1 with
 * err filled (nothing written yet). */
int inspect_run(const bridge_options *o, output *out, char *err, size_t errlen);

#endif
