/*
 * rowbuild.h - the row assembler: one RowBinary row per message, whatever
 * the message format.
 *
 * RowBinary wants the columns in order; messages give values in their own
 * order (JSON and MessagePack maps by name, Avro in schema order, the key
 * before or after the value).  A decoder asks for a column's destination
 * with rowbuild_open(), writes the value there with rbwriter.h, and says
 * rowbuild_close().  A column that is the next one due is written straight
 * into the output; any other goes to a scratch slot and is copied into
 * place by rowbuild_commit(), which also writes the metadata columns
 * (rowplan.h) and the defaults of columns no decoder filled.  On any
 * failure rowbuild_cancel() cuts the output back to where the row began:
 * a message becomes a whole row or nothing.
 *
 * One message at a time:
 *
 *     rowbuild_begin(rb, m, out, e)
 *     ... decoders: dst = rowbuild_open(rb, col, e); rbw_...(dst, ...);
 *                   rowbuild_close(rb, col, e) ...
 *     rowbuild_commit(rb, e)      (or rowbuild_cancel(rb) on failure)
 *
 * Metadata columns standing before the next column due are written as soon
 * as they are reached, so a producer that sends fields in column order
 * never touches the slots.  All buffers are kept between messages: once
 * warm, nothing is allocated.
 *
 * For Native output (native.h) the row is assembled in columns instead:
 * rowbuild_begin_columns gives one buffer per column, each column's value
 * is written straight into its own buffer whatever the order, and the
 * cancel cuts each column the row wrote back to where it was.  The
 * decoders see no difference: they write through rowbuild_open either way.
 */
#ifndef KB_ROWBUILD_H
#define KB_ROWBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "message.h"
#include "rowplan.h"

#define ROWBUILD_NONE SIZE_MAX

typedef struct rowbuild_slot {
    size_t off;
    size_t len;
} rowbuild_slot;

typedef struct rowbuild {
    const rowplan *plan;
    const kb_msg *m;     /* the message being assembled */
    buf *out;            /* where rows go (RowBinary), or NULL */
    size_t row_start;    /* out->len when the row began */
    buf *cols;           /* per column: where its values go (Native), or NULL */
    size_t *marks;       /* per column written in this row: cols[i].len before
                            its first write (rowbuild_column), for the cut-back */
    size_t emitted;      /* columns [0, emitted) are already in out; in
                            columns, ROWBUILD_NONE: no column is due */
    buf fields;          /* values of columns not yet due */
    rowbuild_slot *slots; /* per column: where its value is in fields */
    uint32_t *seen;      /* per column: the generation that filled it */
    uint32_t generation; /* one per message */
    size_t given;        /* columns claimed in this message */
} rowbuild;

void rowbuild_init(rowbuild *rb, const rowplan *plan);
void rowbuild_free(rowbuild *rb);

/* Starts the row for message m at the end of out, writing the metadata
 * columns that lead the row.  Clears e.  On failure (a metadata value that
 * does not fit its column) returns -1 with out unchanged. */
int rowbuild_begin(rowbuild *rb, const kb_msg *m, buf *out, row_error *e);

/* As rowbuild_begin, for a row written in columns: column i's value is
 * appended to cols[i] (plan->ncols buffers, native_columns).  On failure
 * returns -1 with every buffer unchanged. */
int rowbuild_begin_columns(rowbuild *rb, const kb_msg *m, buf *cols, row_error *e);

/* Metadata columns from column `emitted` on, up to the next value column. */
int rowbuild_emit_metadata(rowbuild *rb, row_error *e);

/* Whether column col has a value in this row already. */
static inline int rowbuild_has(const rowbuild *rb, size_t col) {
    return rb->seen[col] == rb->generation;
}

/* The refusal of rowbuild_open, out of line: fills e, returns NULL. */
buf *rowbuild_given_twice(const rowbuild *rb, size_t col, row_error *e);

/* Marks column col (a value column) as given in this row, without saying
 * where its value goes: rowbuild_open's first half, for a decoder that
 * knows already (out when col is rb->emitted, the next column due, in
 * rows; cols[col] in columns).  Returns 0, or -1 with e set when the
 * column was given already ("field given twice"). */
static inline int rowbuild_claim(rowbuild *rb, size_t col, row_error *e) {
    if (rb->seen[col] == rb->generation) {
        rowbuild_given_twice(rb, col, e);
        return -1;
    }
    rb->seen[col] = rb->generation;
    rb->given++;
    return 0;
}

/* rowbuild_claim without its check, for a decoder that knows nothing else
 * in the message can give column col (its schema opens the column once);
 * it counts the columns so marked with rowbuild_given_n. */
static inline void rowbuild_seen(rowbuild *rb, size_t col) { rb->seen[col] = rb->generation; }
static inline void rowbuild_given_n(rowbuild *rb, size_t n) { rb->given += n; }

/* In columns, after rowbuild_claim: column col's buffer, its length noted
 * for a cut-back.  A row marks only the columns it writes: the usual row
 * writes each once, and a loop over every column at its start cost more
 * than the marks. */
static inline buf *rowbuild_column(rowbuild *rb, size_t col) {
    rb->marks[col] = rb->cols[col].len;
    return &rb->cols[col];
}

/* Where the value of column col (a value column, not metadata) is to be
 * written.  Returns NULL with e->column and e->reason set when the column
 * was given already in this message ("field given twice"). */
static inline buf *rowbuild_open(rowbuild *rb, size_t col, row_error *e) {
    if (rowbuild_claim(rb, col, e)) return NULL;
    if (col == rb->emitted) return rb->out; /* never true in columns */
    if (rb->cols) return rowbuild_column(rb, col);
    rb->slots[col].off = rb->fields.len;
    return &rb->fields;
}

/* After the values of n columns from the next one due on (rowbuild_claim
 * each) were written straight into out, in order: what rowbuild_close
 * would have said after each.  Row mode only. */
static inline int rowbuild_emitted_n(rowbuild *rb, size_t n, row_error *e) {
    rb->emitted += n;
    const rowplan *p = rb->plan;
    return rb->emitted < p->ncols && p->cols[rb->emitted].meta != META_NONE ? rowbuild_emit_metadata(rb, e) : 0;
}

/* After column col's value was written where rowbuild_open said. */
static inline int rowbuild_close(rowbuild *rb, size_t col, row_error *e) {
    if (col == rb->emitted) return rowbuild_emitted_n(rb, 1, e);
    if (rb->cols) return 0;
    rb->slots[col].len = rb->fields.len - rb->slots[col].off;
    return 0;
}

/* Completes the row: slotted values in column order, metadata, defaults
 * for the columns no decoder filled.  On failure returns -1 with the row
 * cut back. */
int rowbuild_commit(rowbuild *rb, row_error *e);

/* Drops the row being built: out (or every column) is as it was before
 * rowbuild_begin. */
static inline void rowbuild_cancel(rowbuild *rb) {
    if (rb->cols) {
        for (size_t i = 0; i < rb->plan->ncols; i++)
            if (rb->seen[i] == rb->generation) rb->cols[i].len = rb->marks[i];
    } else
        rb->out->len = rb->row_start;
}

#endif
