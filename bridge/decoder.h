/*
 * decoder.h - message formats as peers: each is a small table of
 * operations, chosen by name (--format, --key-format).
 *
 * A decoder reads the bytes of one part of a message (its value, or its
 * key) and fills the columns that part feeds into the row being assembled
 * (rowbuild.h), writing each value with rbwriter.h.  It never writes
 * metadata columns, never commits or cuts back a row, and never writes to
 * the output itself: that is what lets a key in one format and a value in
 * another fill one row.
 *
 * Which columns a decoder fills: those whose source (plan_column.source,
 * from the column's path, see fieldpath.h) is the part it reads.  The
 * decoder of the value also takes the columns without a path, by name.
 *
 * Adding a format: one file under bridge/formats/ defining a
 * `const kb_decoder_ops kb_NAME_decoder`, one line in decoder.c's table,
 * one libFuzzer target, one rules file in docs/.
 */
#ifndef KB_DECODER_H
#define KB_DECODER_H

#include <stddef.h>

#include "buf.h"
#include "fieldpath.h"
#include "message.h"
#include "rowbuild.h"
#include "rowplan.h"

struct bridge_options;

typedef struct kb_decoder_config {
    const rowplan *plan;
    field_source source;                  /* the part of the message read */
    const char *format;                   /* the name it was chosen by */
    /* The run's options, for formats with settings of their own (a
     * schema registry, say); NULL in unit tests and benchmarks. */
    const struct bridge_options *options;
} kb_decoder_config;

typedef struct kb_decoder_ops {
    const char *name;        /* as given to --format */
    const char *describe;    /* one line for --help */
    /* Checks that the plan suits the format (raw needs one String column,
     * say) and builds the decoder's state: every buffer it will need,
     * sized for the plan, so that decoding allocates nothing once warm.
     * Returns 0, or -1 with a one-line reason in err. */
    int (*open)(void **state, const kb_decoder_config *cfg, char *err, size_t errlen);
    /* Fills the columns of cfg->source from the n bytes at data (NULL
     * when the message has no such part: a tombstone's value, a message
     * without a key).  Returns 0, or -1 with e filled: e->column the
     * column at fault or NULL, e->byte the offset in data or -1, e->reason
     * the sentence.  The caller cancels the row. */
    int (*decode)(void *state, rowbuild *rb, const void *data, size_t n, row_error *e);
    void (*close)(void *state);
    /* Set for a format that makes one row of each line of a message
     * (lines): decode is then called per line, without the '\n', each
     * time on a row of its own; the message is still all rows or none. */
    int per_line;
} kb_decoder_ops;

/* The decoder named `name`, or NULL. */
const kb_decoder_ops *kb_decoder_find(const char *name);
/* "json, msgpack, ..." for messages. */
const char *kb_decoder_names(void);

/* A message to a row: the value's decoder, optionally the key's, and the
 * row assembler they share. */
typedef struct kb_rowdecoder {
    rowbuild rb;
    const kb_decoder_ops *value_ops;
    void *value;
    const kb_decoder_ops *key_ops; /* NULL: no column comes from the key */
    void *key;
    size_t *marks; /* per column: where a message's rows began (columns, per line) */
} kb_rowdecoder;

/* key_format may be NULL when no column reads the key; a column that
 * reads the key without a key format is refused.  Returns 0, or -1 with
 * err set (and nothing to free). */
int kb_rowdecoder_open(kb_rowdecoder *d, const rowplan *plan, const char *format,
                       const char *key_format, const struct bridge_options *options, char *err,
                       size_t errlen);
void kb_rowdecoder_close(kb_rowdecoder *d);

/* Appends the rows for message m to out (one, or one per line) and
 * returns how many; or returns -1 with out unchanged and e filled.  A
 * fault in the key says so in e->reason. */
int kb_rowdecoder_decode(kb_rowdecoder *d, const kb_msg *m, buf *out, row_error *e);

/* The same rows written in columns (Native output, native.h): column i's
 * values appended to cols[i] (native_columns).  Returns how many, or -1
 * with every buffer unchanged and e filled. */
int kb_rowdecoder_decode_columns(kb_rowdecoder *d, const kb_msg *m, buf *cols, row_error *e);

#endif
