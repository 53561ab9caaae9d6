/*
 * jsontext - the JSON text kafkaDecode writes, one rule whatever format the
 * value came from, so that MessagePack and Avro payloads print the same
 * string or float the same way.
 */
#ifndef KB_JSONTEXT_H
#define KB_JSONTEXT_H

#include <stddef.h>

#include "buf.h"

/* Appends the n bytes at p as a JSON string.  Bytes are copied as they are
 * (the payload's own encoding); only '"', '\' and control characters are
 * escaped. */
void kb_jsontext_string(buf *b, const void *p, size_t n);

/* Appends the shortest text that reads back as d at its own width (single:
 * a float32, whose 1.1 prints as 1.1, not 1.100000023841858), always with a
 * point or an exponent so that it reads back as a float.  Returns -1, with
 * nothing appended, when d is NaN or infinite: JSON has no form for them. */
int kb_jsontext_double(buf *b, double d, int single);

#endif
