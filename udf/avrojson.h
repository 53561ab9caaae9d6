/*
 * avrojson.h - one Avro binary datum as JSON text, walking its writer
 * schema.
 *
 * For kafkaDecode on an Avro pipeline.  The text is what ClickHouse's own
 * JSON output would show for the columns the bridge maps the types to, so
 * ClickHouse's JSON functions and JSONEachRow read it back:
 *   null, boolean, int, long     null, true/false, integers
 *   float, double                shortest round-trip text (NaN and the
 *                                infinities have no JSON form: refused)
 *   string, bytes, fixed         strings ('"', '\\' and control characters
 *                                escaped, other bytes as they are)
 *   decimal(P, S)                a number with S fraction digits, exact
 *   uuid                         "xxxxxxxx-xxxx-..." (fixed(16) formatted)
 *   int date                     "YYYY-MM-DD"
 *   long timestamp-*, local-*    "YYYY-MM-DD hh:mm:ss.fff" (3, 6 or 9
 *                                digits by unit; UTC for timestamp-*)
 *   time-millis, time-micros     the number
 *   enum                         its symbol
 *   array, map, record           arrays and objects (fields in schema order)
 *   union                        the branch's value, unwrapped
 * A datum that ends early, a corrupt varint, an index outside a union or
 * enum and bytes left over are errors naming the byte offset and field.
 */
#ifndef KB_AVROJSON_H
#define KB_AVROJSON_H

#include <stddef.h>

#include "avroschema.h"
#include "buf.h"

/* Appends the JSON text of the datum [p, p + n) of `schema` to out.
 * Returns 0, or -1 with out as it was and err filled. */
int kb_avrojson_datum(const av_node *schema, const void *p, size_t n, buf *out, char *err, size_t errlen);

#endif
