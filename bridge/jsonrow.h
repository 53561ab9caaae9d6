/*
 * jsonrow.h - one JSON object per message, decoded straight into a
 * RowBinary row.
 *
 * Fields may come in any order, but RowBinary needs column order.  A field
 * that is the next column due is encoded straight into the output; any
 * other goes to a scratch area, one slot per column, and when the object
 * ends the rest of the row is appended in column order from the slots,
 * with defaults for columns the message did not have.  A failed row is cut
 * back off the output.  All buffers are
 * kept between messages, so a decoder that has warmed up allocates nothing.
 *
 * How JSON values become column values:
 *   - integers: JSON integers, or the same digits in a string, or
 *     true/false as 1/0; a fraction, an exponent or a value out of the
 *     column's range is an error, never a wraparound;
 *   - floats: any JSON number, or a number in a string (also nan, inf);
 *   - Bool: true/false, 0/1, "true"/"false";
 *   - String: a string unescaped; a number, true/false as their text; an
 *     object or array as its JSON text, unchanged;
 *   - Date, DateTime, DateTime64: text in the forms of timeparse.h, or a
 *     number: days for Date, Unix seconds (with a fraction for DateTime64)
 *     for the others;
 *   - null, or a missing field: NULL for Nullable, else the type's zero.
 * Unknown fields are skipped; a field given twice is an error.
 */
#ifndef KB_JSONROW_H
#define KB_JSONROW_H

#include "buf.h"
#include "message.h"
#include "rowplan.h"

typedef struct jsonrow_slot {
    size_t off;
    size_t len;
} jsonrow_slot;

typedef struct jsonrow {
    const rowplan *plan;
    buf fields;          /* encoded values of the current message */
    jsonrow_slot *slots; /* per column: where its value is in `fields` */
    uint32_t *seen;      /* per column: generation that filled the slot */
    uint32_t generation;
    buf key_text;        /* unescaped keys */
    buf value_text;      /* unescaped string values */
    buf number_text;     /* numbers copied for strtod, NUL-terminated */
} jsonrow;

void jsonrow_init(jsonrow *d, const rowplan *plan);
void jsonrow_free(jsonrow *d);

/* Appends one row for message m to out and returns 0, or returns -1 with
 * out unchanged and e filled. */
int jsonrow_decode(jsonrow *d, const kb_msg *m, buf *out, row_error *e);

#endif
