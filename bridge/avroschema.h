/*
 * avroschema.h - an Avro schema (its JSON text) as a tree.
 *
 * avro-c (1.11) parses schemas but drops logical types (decimal, date,
 * timestamp-*, uuid...), which decide how a value lands in ClickHouse; so
 * the schema JSON is read here, with jansson, into this small tree that
 * the decoder compiles from.  Named types may be referred to by name
 * after their definition; a reference shares the node, so a recursive
 * schema makes a cycle (the compiler bounds its depth).
 */
#ifndef KB_AVROSCHEMA_H
#define KB_AVROSCHEMA_H

#include <stddef.h>

#include "buf.h"

typedef enum av_type {
    AV_NULL, AV_BOOLEAN, AV_INT, AV_LONG, AV_FLOAT, AV_DOUBLE, AV_BYTES, AV_STRING,
    AV_RECORD, AV_ENUM, AV_ARRAY, AV_MAP, AV_UNION, AV_FIXED
} av_type;

typedef enum av_logical {
    AVL_NONE, AVL_DECIMAL, AVL_DATE, AVL_TIME_MILLIS, AVL_TIME_MICROS,
    AVL_TS_MILLIS, AVL_TS_MICROS, AVL_TS_NANOS,
    AVL_LTS_MILLIS, AVL_LTS_MICROS, AVL_LTS_NANOS, AVL_UUID
} av_logical;

typedef struct av_node {
    av_type type;
    av_logical logical;
    unsigned precision, scale; /* decimal */
    size_t size;               /* fixed */
    char *name;                /* named types: full name */
    size_t n;                  /* record fields, union branches, enum symbols; 1 for array/map */
    struct av_node **kids;     /* field types, branches, the item or value type */
    char **names;              /* record field names, enum symbols */
} av_node;

typedef struct av_schema {
    av_node *root;
    av_node **all;             /* every node, for freeing */
    size_t nall;
} av_schema;

/* Parses the n bytes of JSON at text.  Returns 0, or -1 with err naming
 * what is wrong. */
int av_schema_parse(const char *text, size_t n, av_schema *out, char *err, size_t errlen);
void av_schema_free(av_schema *s);

/* The Avro type's name for messages: "long", "record Address", "union". */
const char *av_type_name(const av_node *n);

#endif
