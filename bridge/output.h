/*
 * output.h - rows to stdout, and making a failed run fail the query.
 *
 * Rows are appended to one large buffer and written with write(2) when the
 * buffer is full or when the caller's flush timer says so.  Only whole rows
 * are ever in the buffer, so what has been written is always a valid
 * RowBinary stream.
 *
 * ClickHouse ignores a program's exit status unless the query sets
 * check_exit_code = 1, and ignores its stderr unless stderr_reaction says
 * otherwise.  A run that stops on an error must still fail the INSERT, so
 * output_fail() ends the stream in a way ClickHouse cannot parse:
 *   - before anything was written, in RowBinaryWithNamesAndTypes, a header
 *     whose first type is the error text: ClickHouse refuses to parse it as
 *     a type and quotes it in the query's error, so the cause is visible
 *     with default settings;
 *   - otherwise, the start of a row that is cut short: ClickHouse fails with
 *     "Cannot read all data" at the row after the last good one.
 * When every column is one byte wide (UInt8, Int8, Bool) no prefix of a row
 * is incomplete; the bridge then holds stdout open without writing until
 * ClickHouse gives up on its read timeout.
 * In Native (output_native), the buffered rows are transposed into blocks
 * when written (native.h), and a failure ends the stream with a block
 * whose type name is the error text, before or after other blocks:
 * ClickHouse reads each block's types anew, so the cause is always in the
 * query's error.
 * With --trust-exit-code the stream is left valid and only the exit status
 * reports the failure, which lets ClickHouse show the stderr line
 * (check_exit_code = 1, stderr_reaction = 'log_last').
 */
#ifndef KB_OUTPUT_H
#define KB_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "native.h"
#include "rowplan.h"

/* Rows per Native block at most; ClickHouse's own blocks are about this. */
#define OUTPUT_NATIVE_BLOCK_ROWS 65536
/* RowBinary bytes buffered per Native block at most.  The output then holds
 * about three times this (the rows, their column streams, the blocks being
 * written) beside librdkafka's budget.  Larger blocks cost ClickHouse less
 * on wide rows but the bridge more memory: README, "Native output" (the
 * benchmark builds other values with -D to compare them). */
#ifndef OUTPUT_NATIVE_BLOCK_BYTES
#define OUTPUT_NATIVE_BLOCK_BYTES ((size_t)1 << 20)
#endif

typedef struct output {
    int fd;
    buf rows;              /* whole rows not yet written (and the header) */
    size_t flush_bytes;    /* write once this much is buffered */
    int with_header;       /* RowBinaryWithNamesAndTypes */
    int header_written;    /* the header has reached the fd */
    int closed;            /* the reader went away (EPIPE) */
    int native;            /* Native blocks instead of RowBinary */
    native *nat;           /* the transposer, once the columns are known */
    buf block;             /* Native blocks being written */
} output;

enum { OUTPUT_OK = 0, OUTPUT_CLOSED = 1, OUTPUT_ERROR = -1 };

void output_init(output *o, int fd, size_t flush_bytes, int with_header, const rowplan *plan);
void output_free(output *o);

/* Switches to Native output: call with plan NULL as soon as the format is
 * known (so that early failures are reported in Native), and again with
 * the plan before any row is buffered.  Blocks hold at most
 * OUTPUT_NATIVE_BLOCK_ROWS rows and come from at most
 * OUTPUT_NATIVE_BLOCK_BYTES of RowBinary, which is also how much is
 * buffered before a write. */
void output_native(output *o, const rowplan *plan);

/* Writes everything buffered.  Returns OUTPUT_CLOSED when ClickHouse has
 * closed the pipe (LIMIT reached, query cancelled): the caller stops
 * quietly.  OUTPUT_ERROR fills err. */
int output_flush(output *o, char *err, size_t errlen);

static inline int output_wants_flush(const output *o) { return o->rows.len >= o->flush_bytes; }

/* Ends the stream so that the query fails, after writing the rows already
 * buffered (they are valid; the next run resumes after them).  `message`
 * is the one-line cause.  `plan` may be NULL when the failure came before
 * the columns were known. */
void output_fail(output *o, const rowplan *plan, const char *message, int trust_exit_code);

#endif
