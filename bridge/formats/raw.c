/*
 * formats/raw.c - the message value (or key) as it is: `raw` puts the
 * whole of it into one String column, as ClickHouse's RawBLOB reads a
 * file; `lines` makes one row of each line, as LineAsString does
 * (decoder.c splits, this file fills the row).  For users who parse in SQL.
 *
 * The column: the only value column of the plan (metadata columns may
 * stand beside it), of type String, FixedString(N) or Nullable of one;
 * for the key, the column with the path $key.  A message without a value
 * (a tombstone) gives NULL in a Nullable column and is refused otherwise.
 */
#include <stdio.h>
#include <stdlib.h>

#include "formats.h"
#include "rbwriter.h"

typedef struct rawdec {
    int column;
    field_source source;
} rawdec;

static int raw_open(void **state, const kb_decoder_config *cfg, char *err, size_t errlen) {
    const rowplan *plan = cfg->plan;
    int column = -1;
    for (size_t i = 0; i < plan->ncols; i++) {
        const plan_column *c = &plan->cols[i];
        if (c->meta != META_NONE || c->source != cfg->source) continue;
        if (cfg->source == FIELD_KEY && c->path->nsteps) {
            snprintf(err, errlen, "column '%s': --key-format %s fills one column from the whole key "
                                  "(PATH '$key'), not a field of it", c->name, cfg->format);
            return -1;
        }
        if (cfg->source == FIELD_VALUE && c->path) {
            snprintf(err, errlen, "column '%s': --format %s has no fields to take a path into",
                     c->name, cfg->format);
            return -1;
        }
        if (column >= 0) {
            snprintf(err, errlen, "--%sformat %s fills one String column; '%s' and '%s' are two",
                     cfg->source == FIELD_KEY ? "key-" : "", cfg->format, plan->cols[column].name,
                     c->name);
            return -1;
        }
        chtype_kind k = chtype_base(c->type)->kind;
        if (k != CT_STRING && k != CT_FIXEDSTRING) {
            snprintf(err, errlen, "column '%s': --%sformat %s fills a String or FixedString column",
                     c->name, cfg->source == FIELD_KEY ? "key-" : "", cfg->format);
            return -1;
        }
        column = (int)i;
    }
    if (column < 0) {
        snprintf(err, errlen, "--%sformat %s needs one String column besides metadata columns",
                 cfg->source == FIELD_KEY ? "key-" : "", cfg->format);
        return -1;
    }
    rawdec *d = calloc(1, sizeof *d);
    if (!d) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    d->column = column;
    d->source = cfg->source;
    *state = d;
    return 0;
}

static int raw_decode(void *state, rowbuild *rb, const void *data, size_t n, row_error *e) {
    const rawdec *d = state;
    const plan_column *c = &rb->plan->cols[d->column];
    buf *dst = rowbuild_open(rb, (size_t)d->column, e);
    if (!dst) return -1;
    const chtype *t = c->type;
    if (t->kind == CT_LOWCARDINALITY) t = t->inner;
    if (!data) {
        if (t->kind != CT_NULLABLE) {
            e->column = c->name;
            snprintf(e->reason, sizeof e->reason, "message has no %s%s; the column is not Nullable",
                     d->source == FIELD_KEY ? "key" : "value",
                     d->source == FIELD_KEY ? "" : " (a tombstone)");
            return -1;
        }
        rbw_default(dst, t);
        return rowbuild_close(rb, (size_t)d->column, e);
    }
    t = rbw_present(dst, t);
    if (t->kind == CT_FIXEDSTRING) {
        if (rbw_fixedstring(dst, t, data, n, e)) {
            e->column = c->name;
            return -1;
        }
    } else {
        rbw_string(dst, data, n);
    }
    return rowbuild_close(rb, (size_t)d->column, e);
}

static void raw_close(void *state) { free(state); }

const kb_decoder_ops kb_raw_decoder = {
    .name = "raw",
    .describe = "the whole message in one String column (RawBLOB)",
    .open = raw_open,
    .decode = raw_decode,
    .close = raw_close,
};

const kb_decoder_ops kb_lines_decoder = {
    .name = "lines",
    .describe = "one row per line of the message, in one String column (LineAsString)",
    .open = raw_open,
    .decode = raw_decode,
    .close = raw_close,
    .per_line = 1,
};
