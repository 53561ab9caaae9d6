/*
 * decode-bench - the bridge's decoder alone: JSON lines from a file into
 * RowBinary, timed.  No Kafka and no output I/O, so the figure is the cost
 * of decoding itself.
 *
 *     decode-bench FILE COLUMNS [ROUNDS] [OUT]
 *
 * Each line of FILE is one message.  Prints rows/s, MB/s of input and ns per
 * row, measured in CPU time of this process, and apart from it the CPU time
 * of reading the file and splitting it into lines.  Then the same messages
 * as -O Native decodes them, through the message decoder (decoder.h) into
 * the columns of Native blocks closed at the output's limits (output.h):
 * "native_cpu_seconds", best of ROUNDS (each closed block's pieces left to
 * writev, as the bridge leaves them, not copied).  With OUT, writes the
 * RowBinary of one round there (to check it against ClickHouse), and the
 * Native blocks of one round to OUT.native.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chtype.h"
#include "decoder.h"
#include "jsonrow.h"
#include "native.h"
#include "closeblock.h"
#include "output.h"
#include "rowplan.h"

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: decode-bench FILE COLUMNS [ROUNDS] [OUT]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    /* Reading and splitting is timed too, and reported apart: ClickHouse's
     * file() reads its input within the query, so a fair comparison adds
     * this to the decoding. */
    double read0 = cpu_seconds();
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    buf text;
    buf_init(&text, 1 << 20);
    size_t got;
    char chunk[1 << 16];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) buf_put(&text, chunk, got);
    fclose(f);

    /* Split into lines once: the benchmark times decoding, not searching. */
    size_t nlines = 0, cap = 1024;
    kb_msg *msgs = malloc(cap * sizeof *msgs);
    const char *p = (const char *)text.data, *end = p + text.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if (stop > p) {
            if (nlines == cap) msgs = realloc(msgs, (cap *= 2) * sizeof *msgs);
            msgs[nlines++] = (kb_msg){.topic = "bench", .offset = (int64_t)nlines, .value = p,
                                      .value_len = (size_t)(stop - p)};
        }
        p = stop + 1;
    }
    double read_cpu = cpu_seconds() - read0;

    char err[512];
    chcolumns cols;
    rowplan plan;
    if (chcolumns_parse(argv[2], &cols, err, sizeof err) ||
        rowplan_build(&plan, &cols, err, sizeof err)) {
        fprintf(stderr, "decode-bench: %s\n", err);
        return 1;
    }
    jsonrow d;
    jsonrow_init(&d, &plan);
    buf out;
    buf_init(&out, 1 << 22);
    row_error e;
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t0 = cpu_seconds();
        for (size_t i = 0; i < nlines; i++) {
            if (jsonrow_decode(&d, &msgs[i], &out, &e)) {
                fprintf(stderr, "decode-bench: line %zu: %s%s%s\n", i + 1,
                        e.column ? e.column : "", e.column ? ": " : "", e.reason);
                return 1;
            }
            if (out.len > (1 << 21)) out.len = 0; /* as if written */
        }
        double t = cpu_seconds() - t0;
        if (t < best) best = t;
    }
    if (argc > 4) {
        FILE *o = fopen(argv[4], "wb");
        out.len = 0;
        for (size_t i = 0; i < nlines; i++) jsonrow_decode(&d, &msgs[i], &out, &e);
        fwrite(out.data, 1, out.len, o);
        fclose(o);
    }
    /* As -O Native: the rounds timed, then one more whose blocks are kept
     * for OUT.native. */
    kb_rowdecoder rd;
    if (kb_rowdecoder_open(&rd, &plan, "json", NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "decode-bench: %s\n", err);
        return 1;
    }
    native *nat = native_open(&plan, OUTPUT_NATIVE_BLOCK_ROWS, OUTPUT_NATIVE_BLOCK_BYTES);
    buf blocks;
    buf_init(&blocks, 1 << 22);
    double best_native = 1e30;
    for (int r = 0; r < rounds + (argc > 4); r++) {
        int keep = r == rounds;
        blocks.len = 0;
        double t0 = cpu_seconds();
        for (size_t i = 0; i < nlines; i++) {
            int rows = kb_rowdecoder_decode_columns(&rd, &msgs[i], native_columns(nat), &e);
            if (rows < 0) {
                fprintf(stderr, "decode-bench: line %zu (Native): %s%s%s\n", i + 1,
                        e.column ? e.column : "", e.column ? ": " : "", e.reason);
                return 1;
            }
            if (native_added(nat, (size_t)rows) && close_block(nat, keep ? &blocks : NULL, err, sizeof err)) {
                fprintf(stderr, "decode-bench: %s\n", err);
                return 1;
            }
        }
        if (close_block(nat, keep ? &blocks : NULL, err, sizeof err)) {
            fprintf(stderr, "decode-bench: %s\n", err);
            return 1;
        }
        double t = cpu_seconds() - t0;
        if (!keep && t < best_native) best_native = t;
        if (keep) {
            size_t len = strlen(argv[4]);
            char *name = malloc(len + sizeof ".native");
            memcpy(name, argv[4], len);
            memcpy(name + len, ".native", sizeof ".native");
            FILE *o = fopen(name, "wb");
            if (!o || fwrite(blocks.data, 1, blocks.len, o) != blocks.len || fclose(o)) {
                perror(name);
                return 1;
            }
            free(name);
        }
    }
    printf("{\"rows\": %zu, \"bytes\": %zu, \"cpu_seconds\": %.6f, \"read_cpu_seconds\": %.6f, "
           "\"native_cpu_seconds\": %.6f, \"rows_per_s\": %.0f, \"mb_per_s\": %.1f, \"ns_per_row\": %.1f}\n",
           nlines, text.len, best, read_cpu, best_native, nlines / best, text.len / best / 1e6,
           best * 1e9 / nlines);
    native_close(nat);
    kb_rowdecoder_close(&rd);
    buf_free(&blocks);
    jsonrow_free(&d);
    rowplan_free(&plan);
    chcolumns_free(&cols);
    buf_free(&out);
    buf_free(&text);
    free(msgs);
    return 0;
}
