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
 * In Native (output_native), rows are decoded straight into the columns of
 * the block being filled (output_columns, native.h), and each flush
 * writes that block straight from its columns (writev: they are not copied
 * into an output buffer first).  A full block asks for the flush
 * (output_wants_flush), which the caller does before the next message.  A
 * failure ends the stream with a block
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
/* Column bytes per Native block at most (what the columns hold in
 * RowBinary).  The output then holds about this much (the columns, which
 * are written from where they are; composite columns' streams too while
 * a block closes) beside librdkafka's budget.  Larger blocks cost ClickHouse less
 * on wide rows but the bridge more memory: README, "Native output" (the
 * benchmark builds other values with -D to compare them). */
#ifndef OUTPUT_NATIVE_BLOCK_BYTES
#define OUTPUT_NATIVE_BLOCK_BYTES ((size_t)1 << 20)
#endif

typedef struct output {
    int fd;
    buf rows;              /* whole rows not yet written (and the header); in
                              Native, RowBinary rows bound for the columns */
    size_t flush_bytes;    /* write once this much is buffered */
    int with_header;       /* RowBinaryWithNamesAndTypes */
    int header_written;    /* the header has reached the fd */
    int closed;            /* the reader went away (EPIPE) */
    int native;            /* Native blocks instead of RowBinary */
    native *nat;           /* the block being filled, once the columns are known */
    int block_full;        /* the Native block being filled is full: flush */
} output;

enum { OUTPUT_OK = 0, OUTPUT_CLOSED = 1, OUTPUT_ERROR = -1 };

void output_init(output *o, int fd, size_t flush_bytes, int with_header, const rowplan *plan);
void output_free(output *o);

/* Switches to Native output: call with plan NULL as soon as the format is
 * known (so that early failures are reported in Native), and again with
 * the plan before any row is buffered.  Blocks hold at most
 * OUTPUT_NATIVE_BLOCK_ROWS rows and OUTPUT_NATIVE_BLOCK_BYTES of column
 * bytes, checked after each message (a message's rows are never split
 * between blocks); output_wants_flush says so once one is full. */
void output_native(output *o, const rowplan *plan);

/* In Native, where a message's rows go: column i's values into buffer i
 * (kb_rowdecoder_decode_columns).  Only after output_native with a plan. */
static inline buf *output_columns(output *o) { return native_columns(o->nat); }

/* After a message's rows were added: `rows` decoded into output_columns,
 * and any whole RowBinary rows written to o->rows meanwhile (error rows,
 * moved into the columns here, in order).  A block that is now full asks
 * for the flush (output_wants_flush), which must come before any more
 * rows.  In RowBinary there is nothing to do.  Returns OUTPUT_OK, or
 * OUTPUT_ERROR with err filled (a programming error upstream: rows that
 * do not parse, or rows added to a full block). */
int output_added(output *o, size_t rows, char *err, size_t errlen);

/* Writes everything buffered.  Returns OUTPUT_CLOSED when ClickHouse has
 * closed the pipe (LIMIT reached, query cancelled): the caller stops
 * quietly.  OUTPUT_ERROR fills err. */
int output_flush(output *o, char *err, size_t errlen);

static inline int output_wants_flush(const output *o) {
    return o->native ? o->block_full : o->rows.len >= o->flush_bytes;
}

/* Whether any row waits to be written. */
static inline int output_pending(const output *o) {
    return o->rows.len || (o->native && o->nat && native_rows(o->nat));
}

/* Ends the stream so that the query fails, after writing the rows already
 * buffered (they are valid; the next run resumes after them).  `message`
 * is the one-line cause.  `plan` may be NULL when the failure came before
 * the columns were known. */
void output_fail(output *o, const rowplan *plan, const char *message, int trust_exit_code);

#endif
