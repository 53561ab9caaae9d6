/*
 * fuzz_decoder - a libFuzzer target per message format: built once per
 * format with -DFUZZ_FORMAT="name" (tests/fuzz/meson.build, scripts/fuzz).
 *
 * The input's first byte splits it into a key (the next n bytes) and a
 * value (the rest); both are decoded into one row of a plan that has a
 * column of every kind, paths into the value and a column from the key,
 * so that every decoder meets every type.  Any input must give a row or
 * a clean refusal, never a crash, a leak or a sanitizer report; a refused
 * message must leave the output as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chtype.h"
#include "decoder.h"
#include "rowplan.h"

#ifndef FUZZ_FORMAT
#error "build with -DFUZZ_FORMAT=\"json\" (or another format)"
#endif

/* raw and lines take one String column; the others take everything. */
static const char *columns_for(const char *format) {
    if (!strcmp(format, "raw") || !strcmp(format, "lines"))
        return "_offset UInt64, v Nullable(String), k String PATH '$key'%.0s";
    return "i8 Int8, u64 UInt64, i128 Int128, u256 UInt256, f32 Float32, f64 Float64, bf BFloat16, "
           "b Bool, d Decimal(9, 2), dw Decimal(40, 5), s String, fs FixedString(3), u UUID, ip4 IPv4, "
           "ip6 IPv6, e Enum8('a' = -1, 'b' = 5), e16 Enum16('x' = 1000), dt Date, d32 Date32, "
           "t DateTime('Europe/Berlin'), t64 DateTime64(9, 'UTC'), n Nullable(Int32), "
           "lc LowCardinality(Nullable(String)), a Array(Nullable(UInt8)), m Map(String, Array(Int16)), "
           "tu Tuple(x UInt8, y Tuple(p String, q Date)), tp Tuple(UInt8, String), "
           "ne Nested(k String, v Float64), _topic String, _partition UInt8, k String PATH '$key.id'%s";
}

/* Paths into the value, except where the format has no names. */
static const char *value_paths(const char *format) {
    return strcmp(format, "msgpack-positional") ? ", deep UInt8 PATH '$.a.b[2].c'" : "";
}

static rowplan plan;
static chcolumns cols;
static kb_rowdecoder dec;
static buf out;

static void setup(void) {
    char err[512];
    const char *key_format = !strcmp(FUZZ_FORMAT, "lines") ? "raw" : FUZZ_FORMAT;
    char list[2048];
    snprintf(list, sizeof list, columns_for(FUZZ_FORMAT), value_paths(FUZZ_FORMAT));
    if (chcolumns_parse(list, &cols, err, sizeof err) ||
        rowplan_build(&plan, &cols, err, sizeof err) ||
        kb_rowdecoder_open(&dec, &plan, FUZZ_FORMAT, key_format, NULL, err, sizeof err)) {
        fprintf(stderr, "fuzz_decoder: %s\n", err);
        abort();
    }
    buf_init(&out, 1 << 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!out.data) setup();
    if (size == 0) return 0;
    size_t klen = data[0] % 32;
    if (klen > size - 1) klen = size - 1;
    kb_msg m = {.topic = "fuzz", .partition = 1, .offset = 7,
                .key = klen ? data + 1 : NULL, .key_len = klen,
                .value = data + 1 + klen, .value_len = size - 1 - klen};
    row_error e;
    out.len = 0;
    buf_u8(&out, 0xAB); /* a previous row, which a refusal must leave alone */
    int rows = kb_rowdecoder_decode(&dec, &m, &out, &e);
    if (rows < 0 && (out.len != 1 || out.data[0] != 0xAB)) abort();
    if (rows < 0 && e.reason[0] == '\0') abort(); /* a refusal always says why */
    return 0;
}
