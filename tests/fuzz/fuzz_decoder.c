/*
 * fuzz_decoder - a libFuzzer target per message format: built once per
 * format with -DFUZZ_FORMAT="name" (tests/fuzz/meson.build, scripts/fuzz).
 *
 * The input's first byte splits it into a key (the next n bytes) and a
 * value (the rest); both are decoded into one row of a plan that has a
 * column of every kind, paths into the value and a column from the key,
 * so that every decoder meets every type.  Any input must give a row or
 * a clean refusal, never a crash, a leak or a sanitizer report.  Beyond
 * that, each input checks three promises:
 *   - a refused message leaves the output as it was, and says why;
 *   - the rows of an accepted one are well-formed RowBinary of the
 *     columns, exactly the bytes written (rbcheck.h reads them back);
 *   - the long-lived decoder, warm from every earlier input, writes what
 *     a decoder opened for this input alone writes: no state leaks from
 *     one message into the next;
 *   - decoded into Native columns (-O Native) after a row already in the
 *     block, it gives the block that its RowBinary rows split into
 *     columns give, and a refusal leaves every column as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chtype.h"
#include "rbcheck.h"
#include "decoder.h"
#include "native.h"
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
           "ne Nested(k String, v Float64), _topic String, _partition UInt32, k String PATH '$key.id'%s";
}

/* Paths into the value, except where the format has no names. */
static const char *value_paths(const char *format) {
    return strcmp(format, "msgpack-positional") ? ", deep UInt8 PATH '$.a.b[2].c'" : "";
}

static rowplan plan;
static chcolumns cols;
static kb_rowdecoder dec;
static buf out, fresh_out, first, block, split_block;
static native *direct, *split;
static size_t *lens;

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
    buf_init(&fresh_out, 1 << 16);
    buf_init(&first, 1 << 10);
    buf_init(&block, 1 << 16);
    buf_init(&split_block, 1 << 16);
    direct = native_open(&plan, 1000, 1 << 20);
    split = native_open(&plan, 1000, 1 << 20);
    lens = calloc(plan.ncols, sizeof *lens);
}

static void fail_check(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_decoder (%s): %s%s%s\n", FUZZ_FORMAT, what, detail ? ": " : "", detail ? detail : "");
    abort();
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
    if (rows < 0) {
        if (out.len != 1 || out.data[0] != 0xAB) fail_check("a refused message changed the output", NULL);
        if (e.reason[0] == '\0') fail_check("a refusal without a reason", NULL);
    } else {
        size_t pos = 1;
        char why[256];
        for (int i = 0; i < rows; i++)
            if (rbcheck_row(&cols, out.data, out.len, &pos, why, sizeof why))
                fail_check("malformed RowBinary", why);
        if (pos != out.len) fail_check("bytes written past the rows", NULL);
    }

    kb_rowdecoder fresh;
    char err[512];
    if (kb_rowdecoder_open(&fresh, &plan, FUZZ_FORMAT, !strcmp(FUZZ_FORMAT, "lines") ? "raw" : FUZZ_FORMAT,
                           NULL, err, sizeof err))
        fail_check("cannot open a second decoder", err);
    fresh_out.len = 0;
    buf_u8(&fresh_out, 0xAB);
    row_error fresh_e;
    int fresh_rows = kb_rowdecoder_decode(&fresh, &m, &fresh_out, &fresh_e);
    kb_rowdecoder_close(&fresh);
    if (fresh_rows != rows || fresh_out.len != out.len || memcmp(fresh_out.data, out.data, out.len))
        fail_check("a reused decoder wrote other bytes than a fresh one", NULL);
    if (rows < 0 && strcmp(fresh_e.reason, e.reason))
        fail_check("a reused decoder gave another reason than a fresh one", fresh_e.reason);

    row_error col_e;
    first.len = 0;
    if (rowplan_put_error_row(&plan, &m, &first, &col_e) || native_append(direct, first.data, first.len, err, sizeof err) ||
        native_append(split, first.data, first.len, err, sizeof err))
        fail_check("cannot add a row of defaults", col_e.reason);
    buf *c = native_columns(direct);
    for (size_t i = 0; i < plan.ncols; i++) lens[i] = c[i].len;
    int col_rows = kb_rowdecoder_decode_columns(&dec, &m, c, &col_e);
    if (col_rows != rows) fail_check("decoded into columns, another number of rows", NULL);
    if (rows < 0) {
        for (size_t i = 0; i < plan.ncols; i++)
            if (c[i].len != lens[i]) fail_check("a refused message changed a column", plan.cols[i].name);
        if (strcmp(col_e.reason, e.reason)) fail_check("in columns, another reason", col_e.reason);
    } else {
        native_added(direct, (size_t)rows);
        if (native_append(split, out.data + 1, out.len - 1, err, sizeof err)) fail_check("split", err);
    }
    block.len = split_block.len = 0;
    if (native_flush_block(direct, &block, err, sizeof err) || native_flush_block(split, &split_block, err, sizeof err))
        fail_check("a column does not parse", err);
    if (block.len != split_block.len || memcmp(block.data, split_block.data, block.len))
        fail_check("Native written in columns differs from the RowBinary rows split", NULL);
    return 0;
}
