/*
 * avrocodec.h - a pipeline's Avro settings at work in the UDF programs:
 * encoding kafkaProduce's JSON rows, decoding payloads for kafkaDecode.
 *
 * Everything comes from the admin's pipeline file (options.h): format,
 * key-format, schema-registry and its credentials and CA, avro-schema,
 * avro-subject, avro-key-subject.  A query only names the pipeline.
 *
 * Writing (kafkaProduce):
 *   format = avro-confluent   the latest version of the subject
 *                             (avro-subject, default <topic>-value), looked
 *                             up once when the process first uses the
 *                             pipeline and kept for its life; each value is
 *                             framed as Confluent's serializers and
 *                             ClickHouse's AvroConfluent output do: byte 0,
 *                             the schema id in 4 bytes big-endian, the datum
 *   format = avro             plain datums of avro-schema, no framing
 *   key-format = avro-confluent  the key the same way, subject
 *                             avro-key-subject (default <topic>-key)
 * Schemas are never registered from here: the subject's schema is the
 * contract that consumers read by, and who may change it is the
 * registry's business, not a SQL query's.
 *
 * Reading (kafkaDecode): avro-confluent payloads name their schema id,
 * fetched once per id per process; avro payloads use avro-schema.  Both
 * skip avro-skip-bytes first, as the bridge does.
 */
#ifndef KB_AVROCODEC_H
#define KB_AVROCODEC_H

#include <stddef.h>

#include "buf.h"
#include "options.h"

typedef struct kb_avwriter kb_avwriter;

/* The writer for the value (key = 0) or the key (key = 1) of pipeline o;
 * *out is NULL when that side is not Avro (sent as given).  Fails, with
 * err set, when the registry cannot give the subject's schema or the
 * settings do not make sense: the query's fault, not a row's. */
int kb_avwriter_open(kb_avwriter **out, const bridge_options *o, int key, char *err, size_t errlen);
void kb_avwriter_close(kb_avwriter *w);

/* Appends the message for one JSON text to out.  Returns 0, or -1 with
 * out unchanged and err naming the field (the row's fault). */
int kb_avwriter_encode(kb_avwriter *w, const char *json, size_t n, buf *out, char *err, size_t errlen);

/* The schema id a Confluent writer frames with, or -1 for plain datums. */
long kb_avwriter_schema_id(const kb_avwriter *w);

typedef struct kb_avreader kb_avreader;

enum { KB_AV_PAYLOAD_FAULT = -1, KB_AV_RUN_FAULT = -2 };

/* The reader for a pipeline whose format is avro or avro-confluent. */
int kb_avreader_open(kb_avreader **out, const bridge_options *o, char *err, size_t errlen);
void kb_avreader_close(kb_avreader *r);

/* Appends the JSON text of one payload to out.  Returns 0;
 * KB_AV_PAYLOAD_FAULT for a payload that does not decode (bad magic byte,
 * truncated or corrupt datum); KB_AV_RUN_FAULT when the registry cannot
 * give the schema (down, credentials refused, an id it does not know).
 * out is unchanged on failure and err says why. */
int kb_avreader_json(kb_avreader *r, const void *p, size_t n, buf *out, char *err, size_t errlen);

#endif
