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
#include <stdint.h>

#include "buf.h"

typedef struct kb_json_cursor {
    const char *start; /* first byte of the message, for byte offsets */
    const char *p;
    const char *end;
    const char *why;   /* set on failure */
} kb_json_cursor;

typedef enum kb_json_kind {
    KB_JSON_OBJECT,
    KB_JSON_ARRAY,
    KB_JSON_STRING,
    KB_JSON_NUMBER,
    KB_JSON_TRUE,
    KB_JSON_FALSE,
    KB_JSON_NULL,
    KB_JSON_INVALID
} kb_json_kind;

/* JSON's whitespace is ' ', '\t', '\n' and '\r'.  Messages written by
 * programs seldom have any between tokens, so the usual case is settled by
 * one comparison: no byte above ' ' is whitespace. */
#define KB_JSON_WS_BITS ((1ull << ' ') | (1ull << '\t') | (1ull << '\n') | (1ull << '\r'))

static inline void kb_json_skip_ws(kb_json_cursor *c) {
    if (c->p < c->end && (unsigned char)*c->p > ' ') return; /* nothing to skip, nothing stored */
    const char *p = c->p;
    while (p < c->end && (unsigned char)*p <= ' ' && (KB_JSON_WS_BITS >> (unsigned char)*p & 1)) p++;
    c->p = p;
}

/* Reading a container's elements, after its opening '[' or '{' was
 * consumed: kb_json_first() says whether any element follows (consuming the
 * closer of an empty one); kb_json_next(), after each element, consumes ','
 * and returns 1, or consumes the closer and returns 0, or returns -1 with
 * cur->why set. */
static inline int kb_json_first(kb_json_cursor *c, char closer) {
    kb_json_skip_ws(c);
    if (c->p < c->end && *c->p == closer) {
        c->p++;
        return 0;
    }
    return 1;
}

static inline int kb_json_next(kb_json_cursor *c, char closer) {
    kb_json_skip_ws(c);
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
kb_json_kind kb_json_peek(kb_json_cursor *c);

/* Consumes a string.  When it has no escapes, the returned slice (s, n)
 * points into the message; otherwise the string is unescaped into
 * `scratch` (cleared first) and the slice points there.  \u escapes,
 * surrogate pairs included, become UTF-8 (a lone low surrogate its
 * three-byte form; a lone high one is an error, as in ClickHouse); other
 * bytes, invalid UTF-8 and control characters included, are passed
 * through unchanged. */
int kb_json_string(kb_json_cursor *c, buf *scratch, const char **s, size_t *n);

/* The first '"' or '\\' in [p, end), or end.  It reads no byte outside
 * [p, end). */
const char *kb_json_scan_string(const char *p, const char *end);

/* The same, eight bytes at a time in plain C: what kb_json_scan_string
 * does where there is no SSE2, named apart so that the tests reach it on
 * every machine. */
const char *kb_json_scan_string_portable(const char *p, const char *end);

/* Consumes a number token as JSON defines it and returns its text. */
int kb_json_number(kb_json_cursor *c, const char **s, size_t *n);

/* A number token read in one pass: its text, and its value while the
 * digits fit in 64 bits.  The value is (negative ? -1 : 1) * mantissa *
 * 10^exp10, where mantissa holds the significant digits (leading zeros,
 * those of "0.00" included, are not significant; trailing ones are). */
typedef struct kb_json_num {
    const char *s;
    size_t n;
    uint64_t mantissa;
    int exp10;
    unsigned char negative;
    /* mantissa and exp10 hold the value: at most 19 significant digits
     * and no exponent part. */
    unsigned char exact;
    /* exact, and no fraction part: an integer of magnitude mantissa. */
    unsigned char integer;
} kb_json_num;

/* Consumes a number token, as kb_json_number() does (the same errors at
 * the same bytes), filling *num. */
int kb_json_number_read(kb_json_cursor *c, kb_json_num *num);

/* Consumes one literal: true, false or null. */
int kb_json_literal(kb_json_cursor *c, kb_json_kind kind);

/* Consumes any value, nested ones included, without recursion.  Nesting
 * deeper than KB_JSON_MAX_DEPTH is refused. */
#define KB_JSON_MAX_DEPTH 1024
int kb_json_skip(kb_json_cursor *c);

/* Consumes `ch` after optional whitespace. */
int kb_json_expect(kb_json_cursor *c, char ch, const char *why);

#endif
