/*
 * fieldpath.h - where in a message a column's value is, when it is not a
 * top-level field of the column's name.  The same paths serve every
 * format with nested values (JSON objects and arrays, MessagePack maps and
 * arrays, Avro records, maps and arrays).
 *
 * A flat table fed by nested messages names, per column, a path from the
 * root of the message's value, or of its key:
 *
 *     $.user.id          field "id" of the object in field "user"
 *     $.tags[0]          the first element of the array in field "tags"
 *     $["odd.key"][2]    a key spelled in brackets: any characters, quoted
 *                        with ' or " and escaped with a backslash
 *     $key.id            field "id" of the message key (--key-format)
 *     $key               the whole key (a String column, say)
 *
 * Only these steps exist: keys (object, map or record fields) and array
 * indexes from 0.  A path is written in the column list after the type
 * (see chtype.h).
 */
#ifndef KB_FIELDPATH_H
#define KB_FIELDPATH_H

#include <stddef.h>

#include "buf.h"

/* Which part of a Kafka message a column is read from. */
typedef enum field_source { FIELD_VALUE, FIELD_KEY } field_source;

typedef struct fieldpath_step {
    char *key;      /* NULL for an array index */
    size_t key_len;
    size_t index;
} fieldpath_step;

typedef struct fieldpath {
    field_source source;
    fieldpath_step *steps;
    size_t nsteps;  /* at least 1 for the value; 0 for the whole key */
} fieldpath;

/* Parses the n bytes at text as a whole path.  On failure returns -1 and
 * writes why into err. */
int fieldpath_parse(const char *text, size_t n, fieldpath **out, char *err, size_t errlen);
void fieldpath_free(fieldpath *p);

/* Appends the path written the way fieldpath_parse reads it back. */
void fieldpath_format(const fieldpath *p, buf *out);

#endif
