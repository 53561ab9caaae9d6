/*
 * format-bench - any decoder (decoder.h) alone: framed messages from a
 * file into RowBinary, timed; decode-bench's counterpart for binary
 * formats, whose messages cannot be split at newlines.
 *
 *     format-bench FORMAT FILE COLUMNS [ROUNDS] [OUT]
 *
 * FILE holds messages, each as a 4-byte little-endian length and then the
 * bytes.  Prints rows/s, MB/s of input and ns per row in CPU time of this
 * process; with OUT, writes the RowBinary of one round there.  A message
 * the decoder refuses stops the run with its error (so the tests use it to
 * read the bridge's verdict on single messages, too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chtype.h"
#include "decoder.h"
#include "rowplan.h"

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: format-bench FORMAT FILE COLUMNS [ROUNDS] [OUT]\n");
        return 2;
    }
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    buf text;
    buf_init(&text, 1 << 20);
    size_t got;
    char chunk[1 << 16];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) buf_put(&text, chunk, got);
    fclose(f);

    size_t n = 0, cap = 1024, pos = 0;
    kb_msg *msgs = malloc(cap * sizeof *msgs);
    while (pos + 4 <= text.len) {
        const unsigned char *p = text.data + pos;
        size_t len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        if (len > text.len - pos - 4) {
            fprintf(stderr, "format-bench: frame %zu runs past the end of the file\n", n + 1);
            return 1;
        }
        if (n == cap) msgs = realloc(msgs, (cap *= 2) * sizeof *msgs);
        msgs[n] = (kb_msg){.topic = "bench", .offset = (int64_t)n, .value = p + 4, .value_len = len};
        n++;
        pos += 4 + len;
    }

    char err[512];
    chcolumns cols;
    rowplan plan;
    kb_rowdecoder d;
    if (chcolumns_parse(argv[3], &cols, err, sizeof err) || rowplan_build(&plan, &cols, err, sizeof err) ||
        kb_rowdecoder_open(&d, &plan, argv[1], NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "format-bench: %s\n", err);
        return 1;
    }
    buf out;
    buf_init(&out, 1 << 22);
    row_error e;
    double best = 1e30;
    size_t rows = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = cpu_seconds();
        rows = 0;
        for (size_t i = 0; i < n; i++) {
            int k = kb_rowdecoder_decode(&d, &msgs[i], &out, &e);
            if (k < 0) {
                fprintf(stderr, "format-bench: message %zu: %s%s%s (at byte %ld)\n", i + 1,
                        e.column ? e.column : "", e.column ? ": " : "", e.reason, e.byte);
                return 1;
            }
            rows += (size_t)k;
            if (out.len > (1 << 21)) out.len = 0; /* as if written */
        }
        double t = cpu_seconds() - t0;
        if (t < best) best = t;
    }
    if (argc > 5) {
        FILE *o = fopen(argv[5], "wb");
        out.len = 0;
        for (size_t i = 0; i < n; i++) kb_rowdecoder_decode(&d, &msgs[i], &out, &e);
        fwrite(out.data, 1, out.len, o);
        fclose(o);
    }
    printf("{\"rows\": %zu, \"bytes\": %zu, \"cpu_seconds\": %.6f, \"rows_per_s\": %.0f, "
           "\"mb_per_s\": %.1f, \"ns_per_row\": %.1f}\n",
           rows, text.len, best, rows / best, text.len / best / 1e6, rows ? best * 1e9 / rows : 0.0);
    kb_rowdecoder_close(&d);
    rowplan_free(&plan);
    chcolumns_free(&cols);
    buf_free(&out);
    buf_free(&text);
    free(msgs);
    return 0;
}
