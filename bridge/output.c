#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* A pipe holds 64 KiB by default, far less than one flush: write() then
 * returns only once ClickHouse has read all but the last 64 KiB, so the
 * bridge decodes while ClickHouse waits and ClickHouse parses while the
 * bridge waits.  A pipe that holds a whole flush lets the two overlap.
 * The kernel may refuse (fs.pipe-max-size, or the user's pipe pages
 * spent); the stream is as correct, only slower, so that is no error.
 * OUTPUT_PIPE_BYTES caps it; a build for comparing sizes sets it with
 * -Dc_args=-DOUTPUT_PIPE_BYTES=N (README, "The pipe to ClickHouse"). */
#ifndef OUTPUT_PIPE_BYTES
#define OUTPUT_PIPE_BYTES ((size_t)1 << 20)
#endif
static void widen_pipe(int fd, size_t bytes) {
    if (bytes > OUTPUT_PIPE_BYTES) bytes = OUTPUT_PIPE_BYTES;
#ifdef F_SETPIPE_SZ
    struct stat st;
    if (fstat(fd, &st) || !S_ISFIFO(st.st_mode) || bytes > INT32_MAX) return;
    int now = fcntl(fd, F_GETPIPE_SZ);
    if (now >= 0 && (size_t)now < bytes) (void)fcntl(fd, F_SETPIPE_SZ, (int)bytes);
#else
    (void)fd;
    (void)bytes;
#endif
}

void output_init(output *o, int fd, size_t flush_bytes, int with_header, const rowplan *plan) {
    memset(o, 0, sizeof *o);
    o->fd = fd;
    o->flush_bytes = flush_bytes;
    o->with_header = with_header;
    widen_pipe(fd, flush_bytes);
    buf_init(&o->rows, flush_bytes + flush_bytes / 4);
    if (with_header && plan) rowplan_header(plan, &o->rows);
}

void output_free(output *o) {
    buf_free(&o->rows);
    native_close(o->nat);
}

void output_native(output *o, const rowplan *plan) {
    if (!o->native) {
        o->flush_bytes = OUTPUT_NATIVE_BLOCK_BYTES;
        /* Rows reach the columns directly: o->rows only passes error rows on. */
        buf_free(&o->rows);
        buf_init(&o->rows, 4096);
    }
    o->native = 1;
    o->with_header = 0;
    if (plan && !o->nat) o->nat = native_open(plan, OUTPUT_NATIVE_BLOCK_ROWS, o->flush_bytes);
}

/* Writes the pieces v[0..n) in order, advancing them as they go out. */
static int write_pieces(output *o, struct iovec *v, size_t n, char *err, size_t errlen) {
    while (n) {
        ssize_t w = writev(o->fd, v, n < IOV_MAX ? (int)n : IOV_MAX);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EPIPE) {
                o->closed = 1;
                return OUTPUT_CLOSED;
            }
            snprintf(err, errlen, "cannot write to stdout: %s", strerror(errno));
            return OUTPUT_ERROR;
        }
        size_t done = (size_t)w;
        for (; n && done >= v->iov_len; v++, n--) done -= v->iov_len;
        if (n) {
            v->iov_base = (char *)v->iov_base + done;
            v->iov_len -= done;
        }
    }
    return OUTPUT_OK;
}

static int write_all(output *o, const unsigned char *p, size_t n, char *err, size_t errlen) {
    struct iovec v = {(void *)p, n};
    return write_pieces(o, &v, n ? 1 : 0, err, errlen);
}

/* Error rows written to o->rows in RowBinary, into the columns. */
static int take_rows(output *o, char *err, size_t errlen) {
    if (!o->rows.len) return OUTPUT_OK;
    int rc = OUTPUT_OK;
    if (!o->nat) {
        snprintf(err, errlen, "internal error: Native rows before the columns are known");
        rc = OUTPUT_ERROR;
    } else if (native_append(o->nat, o->rows.data, o->rows.len, err, errlen)) {
        rc = OUTPUT_ERROR;
    }
    o->rows.len = 0;
    return rc;
}

int output_added(output *o, size_t rows, char *err, size_t errlen) {
    if (!o->native) return OUTPUT_OK;
    if (o->block_full) {
        snprintf(err, errlen, "internal error: rows added to a full Native block before its flush");
        return OUTPUT_ERROR;
    }
    if (take_rows(o, err, errlen)) return OUTPUT_ERROR;
    if (!o->nat) {
        if (!rows) return OUTPUT_OK;
        snprintf(err, errlen, "internal error: Native rows before the columns are known");
        return OUTPUT_ERROR;
    }
    /* Full: the caller's next flush writes it from its columns. */
    o->block_full = native_added(o->nat, rows);
    return OUTPUT_OK;
}

int output_flush(output *o, char *err, size_t errlen) {
    if (o->closed) return OUTPUT_CLOSED;
    if (o->native) {
        o->header_written = 1;
        o->block_full = 0;
        if (take_rows(o, err, errlen)) return OUTPUT_ERROR;
        if (!o->nat) return OUTPUT_OK;
        struct iovec *pieces;
        size_t npieces;
        if (native_block_pieces(o->nat, &pieces, &npieces, err, errlen)) return OUTPUT_ERROR;
        int rc = write_pieces(o, pieces, npieces, err, errlen);
        native_block_done(o->nat);
        return rc;
    }
    int rc = write_all(o, o->rows.data, o->rows.len, err, errlen);
    o->rows.len = 0;
    o->header_written = 1;
    return rc;
}

/* Bytes that begin a row of `plan` but cannot be completed: for each
 * column, either a truncated encoding, or (for one-byte types) a whole
 * value and on to the next column.  Returns 0 when no such prefix exists. */
static int incomplete_row(const rowplan *plan, buf *out) {
    for (size_t i = 0; i < plan->ncols; i++) {
        const chtype *t = plan->cols[i].type;
        if (t->kind == CT_LOWCARDINALITY) t = t->inner;
        if (t->kind == CT_NULLABLE) {
            buf_u8(out, 0); /* "not NULL": a value must follow */
            return 1;
        }
        if (t->kind == CT_STRING) {
            buf_u8(out, 0x80); /* a length whose LEB128 never ends */
            return 1;
        }
        size_t width = chtype_fixed_size(t);
        buf_u8(out, 0);
        if (width > 1) return 1;
    }
    return 0;
}

/* Waits, silent, until the reader closes the pipe (its read timeout) or a
 * generous bound passes.  Used only when no byte sequence can fail. */
static void hold_until_reader_leaves(int fd) {
    struct pollfd p = {.fd = fd, .events = 0};
    time_t deadline = time(NULL) + 3600;
    while (time(NULL) < deadline) {
        int r = poll(&p, 1, 1000);
        if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return;
        if (r < 0 && errno != EINTR) return;
    }
}

void output_fail(output *o, const rowplan *plan, const char *message, int trust_exit_code) {
    char err[256];
    if (o->closed) return;
    if (o->native) {
        /* Rows buffered are valid: they go out as blocks first. */
        if (output_flush(o, err, sizeof err) == OUTPUT_CLOSED || trust_exit_code) return;
        const char *name = plan && plan->ncols ? plan->cols[0].name : "error";
        buf block;
        buf_init(&block, 256 + strlen(message));
        native_error_block(&block, name, message);
        write_all(o, block.data, block.len, err, sizeof err);
        buf_free(&block);
        return;
    }
    if (!o->header_written && o->with_header) {
        /* Nothing has reached ClickHouse: replace the header with one that
         * carries the message as a type name: @'message'.  The '@' cannot
         * start a type, so ClickHouse's error quotes the text from there;
         * inside a string literal no character of the message can trip its
         * lexer first. */
        o->rows.len = 0;
        const char *name = plan && plan->ncols ? plan->cols[0].name : "error";
        buf type;
        buf_init(&type, strlen(message) + 16);
        buf_put(&type, "@'", 2);
        for (const char *p = message; *p; p++) {
            if (*p == '\'' || *p == '\\') buf_u8(&type, '\\');
            buf_u8(&type, (uint8_t)*p);
        }
        buf_u8(&type, '\'');
        buf_leb128(&o->rows, 1);
        buf_rb_string(&o->rows, name, strlen(name));
        buf_rb_string(&o->rows, type.data, type.len);
        buf_free(&type);
        if (!trust_exit_code) output_flush(o, err, sizeof err);
        return;
    }
    if (output_flush(o, err, sizeof err) != OUTPUT_OK || trust_exit_code) return;
    if (plan && incomplete_row(plan, &o->rows)) {
        output_flush(o, err, sizeof err);
        return;
    }
    o->rows.len = 0;
    hold_until_reader_leaves(o->fd);
}
