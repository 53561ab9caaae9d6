/*
 * jsonpath.h - where in a message a column's value is, when it is not a
 * top-level field of the column's name.
 *
 * A flat table fed by nested messages names, per column, a path from the
 * message's root:
 *
 *     $.user.id          field "id" of the object in field "user"
 *     $.tags[0]          the first element of the array in field "tags"
 *     $["odd.key"][2]    a key spelled in brackets: any characters, quoted
 *                        with ' or " and escaped with a backslash
 *
 * Only these steps exist: object keys and array indexes from 0.  A path
 * is written in the column list after the type (see chtype.h).
 */
#ifndef KB_JSONPATH_H
#define KB_JSONPATH_H

#include <stddef.h>

#include "buf.h"

typedef struct jsonpath_step {
    char *key;      /* NULL for an array index */
    size_t key_len;
    size_t index;
} jsonpath_step;

typedef struct jsonpath {
    jsonpath_step *steps;
    size_t nsteps;  /* at least 1 */
} jsonpath;

/* Parses the n bytes at text as a whole path.  On failure returns -1 and
 * writes why into err. */
int jsonpath_parse(const char *text, size_t n, jsonpath **out, char *err, size_t errlen);
void jsonpath_free(jsonpath *p);

/* Appends the path written the way jsonpath_parse reads it back. */
void jsonpath_format(const jsonpath *p, buf *out);

#endif
