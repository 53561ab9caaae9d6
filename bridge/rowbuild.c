#include "buf.h"
#include "rowbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbwriter.h"

void rowbuild_init(rowbuild *rb, const rowplan *plan) {
    memset(rb, 0, sizeof *rb);
    rb->plan = plan;
    rb->slots = kb_xcalloc(plan->ncols, sizeof *rb->slots);
    rb->seen = kb_xcalloc(plan->ncols, sizeof *rb->seen);
    rb->marks = kb_xcalloc(plan->ncols, sizeof *rb->marks);
    buf_init(&rb->fields, 4096);
}

void rowbuild_free(rowbuild *rb) {
    free(rb->slots);
    free(rb->seen);
    free(rb->marks);
    buf_free(&rb->fields);
    memset(rb, 0, sizeof *rb);
}

int rowbuild_emit_metadata(rowbuild *rb, row_error *e) {
    const rowplan *plan = rb->plan;
    while (rb->emitted < plan->ncols && plan->cols[rb->emitted].meta != META_NONE) {
        if (rowplan_put_meta(&plan->cols[rb->emitted], rb->m, rb->out, e)) return -1;
        rb->emitted++;
    }
    return 0;
}

static void next_generation(rowbuild *rb, const kb_msg *m, row_error *e) {
    e->column = NULL;
    e->byte = -1;
    e->reason[0] = '\0';
    e->fatal = 0;
    if (++rb->generation == 0) { /* wrapped: forget every old mark */
        memset(rb->seen, 0, rb->plan->ncols * sizeof *rb->seen);
        rb->generation = 1;
    }
    rb->m = m;
    rb->given = 0;
}

int rowbuild_begin(rowbuild *rb, const kb_msg *m, buf *out, row_error *e) {
    next_generation(rb, m, e);
    rb->out = out;
    rb->cols = NULL;
    rb->row_start = out->len;
    rb->emitted = 0;
    rb->fields.len = 0;
    if (rowbuild_emit_metadata(rb, e)) {
        rowbuild_cancel(rb);
        return -1;
    }
    return 0;
}

int rowbuild_begin_columns(rowbuild *rb, const kb_msg *m, buf *cols, row_error *e) {
    next_generation(rb, m, e);
    rb->out = NULL;
    rb->cols = cols;
    /* No column is ever "due": each has its own buffer, so the RowBinary
     * fast path of rowbuild_open stays one comparison, and metadata waits
     * for the commit. */
    rb->emitted = ROWBUILD_NONE;
    return 0;
}

/* rowbuild_commit for a row in columns: metadata and defaults each into
 * its own column. */
static int commit_columns(rowbuild *rb, row_error *e) {
    const rowplan *plan = rb->plan;
    /* Decoders never open a metadata column: what was not seen is
     * metadata or a default, and the usual row, every column given,
     * has nothing more to do. */
    if (rb->given == plan->ncols) return 0;
    for (size_t i = 0; i < plan->ncols; i++) {
        if (rb->seen[i] == rb->generation) continue;
        const plan_column *pc = &plan->cols[i];
        /* Seen from here on, so that a cut-back takes it back too. */
        rowbuild_seen(rb, i);
        buf *dst = rowbuild_column(rb, i);
        if (pc->meta == META_NONE) {
            rbw_default(dst, pc->type);
        } else if (rowplan_put_meta(pc, rb->m, dst, e)) {
            rowbuild_cancel(rb);
            return -1;
        }
    }
    return 0;
}

int rowbuild_commit(rowbuild *rb, row_error *e) {
    if (rb->cols) return commit_columns(rb, e);
    const rowplan *plan = rb->plan;
    buf *out = rb->out;
    for (size_t i = rb->emitted; i < plan->ncols; i++) {
        const plan_column *pc = &plan->cols[i];
        if (pc->meta != META_NONE) {
            if (rowplan_put_meta(pc, rb->m, out, e)) {
                rowbuild_cancel(rb);
                return -1;
            }
        } else if (rb->seen[i] == rb->generation) {
            buf_put(out, rb->fields.data + rb->slots[i].off, rb->slots[i].len);
        } else {
            rbw_default(out, pc->type);
        }
    }
    rb->emitted = plan->ncols;
    return 0;
}

buf *rowbuild_given_twice(const rowbuild *rb, size_t col, row_error *e) {
    e->column = rb->plan->cols[col].name;
    snprintf(e->reason, sizeof e->reason, "field given twice");
    return NULL;
}
