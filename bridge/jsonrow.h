/*
 * jsonrow.h - one JSON object per message, decoded straight into a
 * RowBinary row.
 *
 * Fields may come in any order, but RowBinary needs column order.  A field
 * that is the next column due is encoded straight into the output; any
 * other goes to the assembler's slots, and when the object ends the rest
 * of the row is appended in column order, with defaults for columns the
 * message did not have.  A failed row is cut back off the output.  All
 * buffers are kept between messages, so a decoder that has warmed up
 * allocates nothing.
 *
 * As the key's decoder (--key-format json) it fills only the columns whose
 * path starts at $key; the key may then be any JSON value.
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
#include "decoder.h"
#include "message.h"
#include "rowbuild.h"
#include "rowplan.h"

/* The JSON format's operations (decoder.h), for the value or the key. */
extern const kb_decoder_ops kb_json_decoder;

/* JSON values alone, without the decoder table: for the unit tests, the
 * decode benchmark and the fuzz target. */
typedef struct jsonrow {
    rowbuild rb;
    struct jsondec *dec;
} jsonrow;

void jsonrow_init(jsonrow *d, const rowplan *plan);
void jsonrow_free(jsonrow *d);

/* Appends one row for message m to out and returns 0, or returns -1 with
 * out unchanged and e filled. */
int jsonrow_decode(jsonrow *d, const kb_msg *m, buf *out, row_error *e);

#endif
