/*
 * jsonvalue.h - one JSON value encoded as one RowBinary value of a
 * ClickHouse type.
 *
 * The rules follow ClickHouse's JSONEachRow input with its default
 * settings (named in docs/json-rules.md, which states every rule and
 * every deliberate difference); in short:
 *   - null gives NULL in a Nullable, else the type's default;
 *   - numbers may be quoted; integers may also be true/false; a value out
 *     of its type's range is an error, never a wraparound;
 *   - String takes any value: strings unescaped, anything else as its
 *     JSON text;
 *   - Array takes a JSON array; Map a JSON object, its keys read as the
 *     key type; a named Tuple an object (missing elements get defaults,
 *     unknown keys are skipped); an unnamed Tuple an array of exactly its
 *     size; Nested an array of objects;
 *   - dates and times take the forms of timeparse.h, local times read in
 *     the column's time zone.
 *
 * The encoder keeps scratch buffers between values and messages, sized by
 * the first messages and then reused, so it allocates nothing per
 * message once warm.
 */
#ifndef KB_JSONVALUE_H
#define KB_JSONVALUE_H

#include <stddef.h>

#include "buf.h"
#include "chtype.h"
#include "json.h"
#include "message.h"

typedef struct jsonvalue {
    buf text;        /* unescaped strings */
    buf number;      /* number text, NUL-terminated for strtod */
    buf reorder;     /* a named Tuple's elements while they are put in order */
    size_t *spans;   /* named Tuples being decoded: offset and length per element */
    size_t nspans;   /* in use */
    size_t cap_spans;
    const char *given; /* jsonvalue_put_scalar's text, else NULL */
    size_t given_len;
} jsonvalue;

/* `types` lists the column types, so that the Tuple bookkeeping can be
 * sized once, up front. */
void jsonvalue_init(jsonvalue *v, const chtype *const *types, size_t ntypes);
void jsonvalue_free(jsonvalue *v);

/* Encodes the JSON value at the cursor as type t, appending to dst, and
 * leaves the cursor after the value.  On failure returns -1 with e->reason
 * set (and c->why, when the JSON itself is malformed); dst may then hold a
 * partial value, which the caller discards. */
int jsonvalue_put(jsonvalue *v, const chtype *t, kb_json_cursor *c, buf *dst, row_error *e);

/* A scalar another format holds, read by JSON's rules as if the message
 * had it as a JSON value of `kind`: KB_JSON_STRING with the string's
 * contents (already unescaped), KB_JSON_NUMBER with a number's text,
 * KB_JSON_TRUE/FALSE with "true"/"false".  t has Nullable and
 * LowCardinality removed.  This is how the MessagePack decoder gives its
 * map shape exactly JSON's meaning without a second copy of the rules for
 * text. */
int jsonvalue_put_scalar(jsonvalue *v, const chtype *t, kb_json_kind kind, const char *s, size_t n,
                         buf *dst, row_error *e);

#endif
