/*
 * mpjson.h - one MessagePack value as JSON text.
 *
 * For kafkaDecode('msgpack', payload): a payload kept raw (the Kafka
 * engine's raw columns, the bridge's _raw) becomes text that ClickHouse's
 * JSON functions read.  Mapping: nil null, bool, integers exactly (the
 * full uint64 and int64 ranges), floats in shortest round-trip form, str
 * and bin as JSON strings (bytes kept, control characters, '"' and '\\'
 * escaped, invalid UTF-8 passed through as the bridge's JSON reader takes
 * it), arrays, maps with string keys (other keys become their JSON text as
 * a string; one such key inside another is refused, see
 * docs/msgpack-rules.md), the timestamp extension (-1) as an RFC 3339 UTC string.
 * Refused, with the byte offset: other extensions, NaN and infinities
 * (JSON has no spelling for them), nesting deeper than 32 (msgpack-c's limit), truncated input
 * and bytes after the value.
 *
 * This is a transcoder, not a row decoder: it needs no columns, so it
 * stands beside the bridge's message formats rather than on them.
 */
#ifndef KB_MPJSON_H
#define KB_MPJSON_H

#include <stddef.h>

#include "buf.h"

/* Appends the JSON text of the MessagePack value in [p, p + n) to out.
 * Returns 0, or -1 with out unchanged and err filled. */
int mpjson_transcode(const void *p, size_t n, buf *out, char *err, size_t errlen);

#endif
