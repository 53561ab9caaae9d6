/*
 * rbread.h - reading the RowBinary blocks ClickHouse writes to an
 * executable UDF.
 *
 * With send_chunk_header = 1 each block starts with its row count in
 * decimal and a newline; then come the rows, each argument encoded as
 * RowBinary (see output.h for the types).  A pool process reads block after
 * block until end of input, so "clean end before a block" and "input cut
 * short inside one" must be told apart: the first ends the process quietly,
 * the second is an error.
 *
 * Bytes are appended to the caller's buffer and named by offset, because
 * the buffer may move while it grows; the caller resolves offsets once the
 * block is read whole.
 */
#ifndef KB_RBREAD_H
#define KB_RBREAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

typedef struct rbread {
    FILE *in;
    uint64_t block;       /* blocks started, for error messages */
    char err[256];
} rbread;

/* A byte span inside the caller's buffer; len SIZE_MAX means NULL. */
typedef struct rbspan {
    size_t off, len;
} rbspan;

#define RB_NULL SIZE_MAX

enum { RB_OK = 0, RB_EOF = 1, RB_ERROR = -1 };

void rbread_init(rbread *r, FILE *in);

/* The chunk header: RB_EOF at a clean end of input. */
int rbread_block(rbread *r, uint64_t *rows);

/* A String (into `into`), a Nullable(String), a LEB128 count. */
int rbread_string(rbread *r, buf *into, rbspan *out);
int rbread_nullable_string(rbread *r, buf *into, rbspan *out);
int rbread_count(rbread *r, uint64_t *out);

#endif
