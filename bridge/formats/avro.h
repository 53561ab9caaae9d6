/*
 * formats/avro.h - what formats/avro.c offers besides its decoders: the
 * parts unit tests, the fuzzer and --describe reach directly.
 */
#ifndef KB_FORMATS_AVRO_H
#define KB_FORMATS_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include "avroschema.h"
#include "buf.h"
#include "decoder.h"

struct bridge_options;

/* A decoder for plain datums of one writer schema, without the options
 * of a run: for unit tests, benchmarks and the fuzzer.  Returns 0, or -1
 * with err set (the schema cannot be read, or does not fit the plan). */
int kb_avro_open_schema(void **state, const rowplan *plan, field_source source,
                        const char *schema_json, size_t skip_bytes, char *err, size_t errlen);

/* The text of an avro-schema setting: inline JSON (starting with '{',
 * '[' or '"') or the file it names.  *text is malloc'd, NUL-terminated. */
int kb_avro_read_schema_option(const char *v, char **text, char *err, size_t errlen);

/* The ClickHouse column list for the writer schema (a record): one column
 * per field, typed the way the decoder maps it best.  Returns 0, or -1
 * with err set. */
int kb_avro_columns(const av_schema *s, buf *out, char *err, size_t errlen);

/* --describe: the column list for the latest schema of the topic's
 * subject, `<topic>-value`, from the run's registry (with format avro, for
 * the pipeline's avro-schema); when the key format is avro-confluent (or
 * avro), first the key's columns from `<topic>-key` (or avro-schema), each
 * with the PATH into the key the pipeline's column list needs, and named
 * apart from every value column (key_<field>, else key_<field>_N). */
int kb_avro_describe(const struct bridge_options *o, buf *out, char *err, size_t errlen);

#endif
