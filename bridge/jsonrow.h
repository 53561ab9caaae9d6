/*
 * jsonrow.h - one JSON object per message, decoded straight into a
 * RowBinary row.
 *
 * Fields may come in any order, but RowBinary needs column order.  A field
 * that is the next column due is encoded straight into the output; any
 * other goes to a scratch area, one slot per column, and when the object
 * ends the rest of the row is appended in column order from the slots,
 * with defaults for columns the message did not have.  A failed row is cut
 * back off the output.  All buffers are kept between messages, so a
 * decoder that has warmed up allocates nothing.
 *
 * Which value goes to which column:
 *   - a column takes the top-level field of its name; unknown fields are
 *     skipped; a field given twice is an error;
 *   - a column with a path (see chtype.h) takes the value found along it:
 *     the decoder descends into the objects and arrays on the way, and a
 *     value missing there, or null on the way, gives the column's
 *     default; anything else on the way (a string where the path needs an
 *     object) is an error;
 *   - how each value becomes the column's type is jsonvalue.h's business.
 */
#ifndef KB_JSONROW_H
#define KB_JSONROW_H

#include "buf.h"
#include "jsonvalue.h"
#include "message.h"
#include "rowplan.h"

typedef struct jsonrow_slot {
    size_t off;
    size_t len;
} jsonrow_slot;

/* A step of some column's path.  The steps of all columns form a tree
 * whose root (node 0) is the message object; children are linked through
 * `next_sibling`, and 0 ends a list (the root is nobody's child). */
typedef struct jsonrow_path_node {
    const fieldpath_step *step; /* how the node is reached from its parent */
    int column;                /* first column whose value is here, or -1 */
    int any_column;            /* some column at or below, for messages */
    uint32_t first_child;
    uint32_t next_sibling;
} jsonrow_path_node;

typedef struct jsonrow {
    const rowplan *plan;
    jsonvalue values;
    buf fields;          /* encoded values of the current message */
    jsonrow_slot *slots; /* per column: where its value is in `fields` */
    uint32_t *seen;      /* per column: generation that filled the slot */
    uint32_t generation;
    buf key_text;        /* unescaped keys */
    jsonrow_path_node *paths; /* NULL when no column has a path */
    size_t npaths;
    int *same_path;      /* per column: the next column with the same path, or -1 */
} jsonrow;

void jsonrow_init(jsonrow *d, const rowplan *plan);
void jsonrow_free(jsonrow *d);

/* Appends one row for message m to out and returns 0, or returns -1 with
 * out unchanged and e filled. */
int jsonrow_decode(jsonrow *d, const kb_msg *m, buf *out, row_error *e);

#endif
