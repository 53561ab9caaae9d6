/*
 * json.h - the small JSON scanner under the row decoder.
 *
 * It is not a parser that builds a tree: the row decoder asks for one token
 * at a time and encodes values as it meets them, so no memory is allocated
 * per message.  Strings without escapes are returned as slices of the
 * message; only strings with escapes are unescaped, into a buffer the
 * caller reuses.
 *
 * Every function takes a cursor; on failure it returns -1 and leaves
 * cur->p at the byte that was wrong and cur->why describing it.
 */
#ifndef KB_JSON_H
#define KB_JSON_H

#include <stddef.h>

#include "buf.h"

typedef struct json_cursor {
    const char *start; /* first byte of the message, for byte offsets */
    const char *p;
    const char *end;
    const char *why;   /* set on failure */
} json_cursor;

typedef enum json_kind {
    JSON_OBJECT,
    JSON_ARRAY,
    JSON_STRING,
    JSON_NUMBER,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL,
    JSON_INVALID
} json_kind;

static inline void json_skip_ws(json_cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* Reading a container's elements, after its opening '[' or '{' was
 * consumed: json_first() says whether any element follows (consuming the
 * closer of an empty one); json_next(), after each element, consumes ','
 * and returns 1, or consumes the closer and returns 0, or returns -1 with
 * cur->why set. */
static inline int json_first(json_cursor *c, char closer) {
    json_skip_ws(c);
    if (c->p < c->end && *c->p == closer) {
        c->p++;
        return 0;
    }
    return 1;
}

static inline int json_next(json_cursor *c, char closer) {
    json_skip_ws(c);
    if (c->p < c->end && *c->p == ',') {
        c->p++;
        return 1;
    }
    if (c->p < c->end && *c->p == closer) {
        c->p++;
        return 0;
    }
    c->why = closer == ']' ? "expected ',' or ']' in an array" : "expected ',' or '}' in an object";
    return -1;
}

/* Kind of the value at the cursor (after whitespace); does not consume. */
json_kind json_peek(json_cursor *c);

/* Consumes a string.  When it has no escapes, the returned slice (s, n)
 * points into the message; otherwise the string is unescaped into
 * `scratch` (cleared first) and the slice points there.  \u escapes,
 * surrogate pairs included, become UTF-8 (a lone low surrogate its
 * three-byte form; a lone high one is an error, as in ClickHouse); other
 * bytes, invalid UTF-8 and control characters included, are passed
 * through unchanged. */
int json_string(json_cursor *c, buf *scratch, const char **s, size_t *n);

/* The first '"' or '\\' in [p, end), or end. */
const char *json_scan_string(const char *p, const char *end);

/* Consumes a number token as JSON defines it and returns its text. */
int json_number(json_cursor *c, const char **s, size_t *n);

/* Consumes one literal: true, false or null. */
int json_literal(json_cursor *c, json_kind kind);

/* Consumes any value, nested ones included, without recursion.  Nesting
 * deeper than JSON_MAX_DEPTH is refused. */
#define JSON_MAX_DEPTH 1024
int json_skip(json_cursor *c);

/* Consumes `ch` after optional whitespace. */
int json_expect(json_cursor *c, char ch, const char *why);

#endif
