/*
 * formats/formats.h - the decoders decoder.c chooses from, one per file
 * here (JSON's is ../jsonrow.c, which predates this folder).
 */
#ifndef KB_FORMATS_H
#define KB_FORMATS_H

#include "decoder.h"

extern const kb_decoder_ops kb_json_decoder;
extern const kb_decoder_ops kb_msgpack_decoder;            /* formats/msgpack.c */
extern const kb_decoder_ops kb_msgpack_positional_decoder; /* formats/msgpack.c */
extern const kb_decoder_ops kb_raw_decoder;                /* formats/raw.c */
extern const kb_decoder_ops kb_lines_decoder;              /* formats/raw.c */
extern const kb_decoder_ops kb_avro_confluent_decoder;     /* formats/avro.c */
extern const kb_decoder_ops kb_avro_decoder;               /* formats/avro.c */

#endif
