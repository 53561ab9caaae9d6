/*
 * avroenc.h - one JSON value as an Avro binary datum of a given schema.
 *
 * For kafkaProduce with an Avro pipeline: the SQL side hands over a row
 * as JSON text (formatRowNoNewline('JSONEachRow', ...)), the topic wants
 * a datum of the subject's schema.  The JSON is read with the bridge's
 * token scanner (json.h), which keeps number text as written, so decimals
 * and 64-bit integers are exact; nothing is allocated per value once the
 * context's buffers have grown.
 *
 * What each Avro type takes (everything else is refused, naming the field
 * by its path, e.g. "field 'address.city'"):
 *   null                 null
 *   boolean              true, false
 *   int, long            an integer, as a number or a quoted number (how
 *                        ClickHouse writes 64-bit integers); range checked
 *   int date             also "YYYY-MM-DD"
 *   long timestamp-*,    also a date-time text (timeparse.h forms); one
 *   local-timestamp-*    without a zone counts as UTC; digits finer than
 *                        the unit are refused, not rounded
 *   float, double        a number, or a quoted number, "nan", "inf", "-inf"
 *   string, bytes        a string (its bytes after unescaping)
 *   decimal(P, S)        a number or quoted number with at most S fraction
 *   (bytes or fixed)     digits (trailing zeros aside) and P digits in all;
 *                        bytes as wide as ClickHouse's Decimal of that
 *                        precision (4, 8, 16 or 32), as its output writes
 *   fixed(N)             a string of exactly N bytes
 *   fixed(16) uuid       a UUID text
 *   enum                 one of its symbols, as a string
 *   array, map           a JSON array, a JSON object
 *   record               an object; every key must be a field, and a field
 *                        left out is null if its type is a union with null,
 *                        else an error (the schema's defaults are not used)
 *   union                null for its null branch, else the first branch,
 *                        in schema order, that takes the value
 */
#ifndef KB_AVROENC_H
#define KB_AVROENC_H

#include <stddef.h>

#include "avroschema.h"
#include "buf.h"

typedef struct kb_avroenc {
    buf scratch;  /* unescaped strings */
    buf path;     /* the field path, for messages */
    const char **slots; /* value positions of record fields, a stack */
    size_t nslots, cap_slots;
} kb_avroenc;

void kb_avroenc_init(kb_avroenc *e);
void kb_avroenc_free(kb_avroenc *e);

/* Appends the datum for the JSON text [json, json + n) to out.  Returns 0,
 * or -1 with out as it was and err naming the field and the reason. */
int kb_avroenc_datum(kb_avroenc *e, const av_node *schema, const char *json, size_t n, buf *out, char *err,
                     size_t errlen);

#endif
