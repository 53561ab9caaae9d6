/*
 * avro-bench - Avro datums into RowBinary, two ways, on the same data:
 * the bridge's compiled plan (formats/avro.c) and avro-c's generic value
 * API (a value tree filled per datum, fields fetched from it), each
 * writing the same RowBinary for the standard 6-column messages.
 *
 *     avro-bench FILE SCHEMA_FILE [ROUNDS] [OUT|-] [COLUMNS]
 *
 * FILE holds datums, each after its length as 4 bytes little-endian
 * (scripts/bench-avro and scripts/bench-decode write it).  Prints rows/s
 * and ns per row for both, in CPU time of this process, best of ROUNDS,
 * after checking that both outputs are the same bytes; then a line
 * "json {...}" with the plan's CPU seconds and those of reading and
 * splitting the file (again into the same buffer, best of ROUNDS), for
 * scripts.  With OUT, writes the RowBinary there
 * (to check it against ClickHouse's), and the same rows as Native blocks
 * (native_encode: the RowBinary rows split into blocks of 65536 rows or
 * 1 MiB of column bytes) to OUT.native; that split's CPU time, best of
 * ROUNDS, is "native_cpu_seconds" in the json line (what -O Native cost
 * on top of the plan before the decoders wrote columns).  Always, the
 * plan is also timed writing Native directly, as -O Native does now
 * (rowbuild_begin_columns into native.h's block, blocks closed at the
 * same limits, their pieces left to writev as -O Native does, not
 * copied): "direct_native_cpu_seconds", the whole path to Native blocks;
 * with OUT its blocks (from one more, untimed run) must be the same bytes
 * as OUT.native.  With
 * COLUMNS (a ClickHouse column list matching the schema by name, any
 * shape), times the plan alone on those columns: avro-c's side is written
 * for the standard messages only.
 */
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chtype.h"
#include "formats/avro.h"
#include "formats/formats.h"
#include "native.h"
#include "closeblock.h"
#include "rbwriter.h"
#include "rowbuild.h"
#include "rowplan.h"

static const char COLUMNS[] = "id UInt64, user_id UInt64, page String, amount Float64, "
                              "ts DateTime64(3, 'UTC'), ok Bool";

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One read into a buffer of the file's size: the figure for reading is
 * then the kernel's copy, not buffer growth. */
static buf slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END)) {
        perror(path);
        exit(1);
    }
    long size = ftell(f);
    rewind(f);
    buf b;
    buf_init(&b, (size_t)size + 1);
    if (size < 0 || fread(b.data, 1, (size_t)size, f) != (size_t)size) {
        perror(path);
        exit(1);
    }
    b.len = (size_t)size;
    fclose(f);
    return b;
}

typedef struct datum {
    const char *p;
    size_t n;
} datum;

typedef struct datums {
    datum *d;
    size_t n, cap;
} datums;

/* The file again into b, which holds it already (slurp sized it). */
static void reread(const char *path, buf *b) {
    FILE *f = fopen(path, "rb");
    if (!f || fread(b->data, 1, b->len, f) != b->len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* The datums of b, each after its length as 4 bytes little-endian. */
static void split(const buf *b, datums *ds) {
    ds->n = 0;
    for (size_t at = 0; at + 4 <= b->len;) {
        uint32_t len = (uint32_t)b->data[at] | (uint32_t)b->data[at + 1] << 8 |
                       (uint32_t)b->data[at + 2] << 16 | (uint32_t)b->data[at + 3] << 24;
        if (ds->n == ds->cap) {
            ds->cap = ds->cap ? ds->cap * 2 : 1024;
            ds->d = realloc(ds->d, ds->cap * sizeof *ds->d);
            if (!ds->d) {
                perror("avro-bench");
                exit(1);
            }
        }
        ds->d[ds->n++] = (datum){(const char *)b->data + at + 4, len};
        at += 4 + len;
    }
}

/* The timed loops are functions of their own, so that a profile (callgrind's
 * inclusive counts) shows each path's cost per row by name. */
static __attribute__((noinline)) int plan_rowbinary(void *dec, rowbuild *rb, const datums *ds, buf *out,
                                                    row_error *e) {
    for (size_t i = 0; i < ds->n; i++) {
        const datum *d = &ds->d[i];
        kb_msg m = {.topic = "bench", .value = d->p, .value_len = d->n};
        if (rowbuild_begin(rb, &m, out, e) || kb_avro_decoder.decode(dec, rb, d->p, d->n, e) ||
            rowbuild_commit(rb, e)) {
            fprintf(stderr, "avro-bench: datum %zu: %s\n", i, e->reason);
            return -1;
        }
    }
    return 0;
}

/* The same datums straight into Native columns, blocks closed at the
 * limits -O Native uses; out NULL when timed (close_block). */
static __attribute__((noinline)) int plan_native(void *dec, rowbuild *rb, const datums *ds, native *nat, buf *out,
                                                 row_error *e) {
    char err[512];
    for (size_t i = 0; i < ds->n; i++) {
        const datum *d = &ds->d[i];
        kb_msg m = {.topic = "bench", .value = d->p, .value_len = d->n};
        if (rowbuild_begin_columns(rb, &m, native_columns(nat), e) ||
            kb_avro_decoder.decode(dec, rb, d->p, d->n, e) || rowbuild_commit(rb, e)) {
            fprintf(stderr, "avro-bench: datum %zu (Native): %s\n", i, e->reason);
            return -1;
        }
        if (native_added(nat, 1) && close_block(nat, out, err, sizeof err)) {
            fprintf(stderr, "avro-bench: native: %s\n", err);
            return -1;
        }
    }
    if (close_block(nat, out, err, sizeof err)) {
        fprintf(stderr, "avro-bench: native: %s\n", err);
        return -1;
    }
    return 0;
}

typedef struct avroc {
    avro_value_t val;
    avro_reader_t reader;
    const chtype *amount, *ts;
} avroc;

/* avro-c's generic values: a value tree filled per datum, fields fetched
 * from it and written as the plan writes them. */
static __attribute__((noinline)) int avroc_rowbinary(avroc *a, const datums *ds, buf *out, row_error *e) {
    for (size_t i = 0; i < ds->n; i++) {
        avro_reader_memory_set_source(a->reader, ds->d[i].p, (int64_t)ds->d[i].n);
        avro_value_reset(&a->val);
        if (avro_value_read(a->reader, &a->val)) {
            fprintf(stderr, "avro-bench: avro-c: datum %zu: %s\n", i, avro_strerror());
            return -1;
        }
        avro_value_t f;
        int64_t l;
        double dbl;
        int b;
        const char *s;
        size_t sn;
        avro_value_get_by_index(&a->val, 0, &f, NULL);
        avro_value_get_long(&f, &l);
        buf_le(out, (uint64_t)l, 8);
        avro_value_get_by_index(&a->val, 1, &f, NULL);
        avro_value_get_long(&f, &l);
        buf_le(out, (uint64_t)l, 8);
        avro_value_get_by_index(&a->val, 2, &f, NULL);
        avro_value_get_string(&f, &s, &sn);
        rbw_string(out, s, sn - 1); /* avro-c counts the NUL */
        avro_value_get_by_index(&a->val, 3, &f, NULL);
        avro_value_get_double(&f, &dbl);
        rbw_f64(out, a->amount, dbl);
        avro_value_get_by_index(&a->val, 4, &f, NULL);
        avro_value_get_long(&f, &l);
        int64_t sec = l / 1000, ms = l % 1000;
        if (ms < 0) sec--, ms += 1000;
        if (rbw_time(out, a->ts, sec, (uint32_t)ms * 1000000u, e)) return -1;
        avro_value_get_by_index(&a->val, 5, &f, NULL);
        avro_value_get_boolean(&f, &b);
        rbw_bool(out, b);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: avro-bench FILE SCHEMA_FILE [ROUNDS] [OUT|-] [COLUMNS]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (rounds < 1) rounds = 1;
    buf data = slurp(argv[1]), schema = slurp(argv[2]);
    buf_u8(&schema, 0);
    datums ds = {0};
    /* Reading and splitting the file, warm and best of ROUNDS like the
     * other figures: the first read also pays for faulting in the
     * buffer's pages, which ClickHouse's repeated queries do not. */
    double read_s = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t0 = cpu_seconds();
        reread(argv[1], &data);
        split(&data, &ds);
        double t1 = cpu_seconds();
        if (t1 - t0 < read_s) read_s = t1 - t0;
    }
    size_t n = ds.n;

    char err[512];
    chcolumns cols;
    rowplan plan;
    void *dec;
    const char *columns = argc > 5 ? argv[5] : COLUMNS;
    int only_plan = argc > 5;
    if (chcolumns_parse(columns, &cols, err, sizeof err) || rowplan_build(&plan, &cols, err, sizeof err) ||
        kb_avro_open_schema(&dec, &plan, FIELD_VALUE, (const char *)schema.data, 0, err, sizeof err)) {
        fprintf(stderr, "avro-bench: %s\n", err);
        return 1;
    }
    rowbuild rb;
    rowbuild_init(&rb, &plan);

    avro_schema_t as;
    if (avro_schema_from_json_length((const char *)schema.data, schema.len - 1, &as)) {
        fprintf(stderr, "avro-bench: avro-c: %s\n", avro_strerror());
        return 1;
    }
    avro_value_iface_t *iface = avro_generic_class_from_schema(as);
    avroc ac = {.reader = avro_reader_memory(NULL, 0)};
    avro_generic_value_new(iface, &ac.val);
    if (!only_plan) {
        ac.amount = plan.cols[3].type;
        ac.ts = plan.cols[4].type;
    }

    buf out_plan, out_avroc;
    buf_init(&out_plan, 1 << 22);
    buf_init(&out_avroc, 1 << 22);
    row_error e;
    native *direct = native_open(&plan, 65536, 1u << 20);
    buf out_direct;
    buf_init(&out_direct, 1 << 22);
    double best_plan = 1e30, best_avroc = 1e30, best_direct = 1e30;
    for (int r = 0; r < rounds; r++) {
        /* All three in each round, so that their figures see the same machine. */
        out_plan.len = 0;
        double t0 = cpu_seconds();
        if (plan_rowbinary(dec, &rb, &ds, &out_plan, &e)) return 1;
        double t1 = cpu_seconds();
        if (t1 - t0 < best_plan) best_plan = t1 - t0;

        t0 = cpu_seconds();
        if (plan_native(dec, &rb, &ds, direct, NULL, &e)) return 1;
        t1 = cpu_seconds();
        if (t1 - t0 < best_direct) best_direct = t1 - t0;

        if (only_plan) continue;
        out_avroc.len = 0;
        t0 = cpu_seconds();
        if (avroc_rowbinary(&ac, &ds, &out_avroc, &e)) return 1;
        t1 = cpu_seconds();
        if (t1 - t0 < best_avroc) best_avroc = t1 - t0;
    }
    if (!only_plan && (out_plan.len != out_avroc.len || memcmp(out_plan.data, out_avroc.data, out_plan.len))) {
        fprintf(stderr, "avro-bench: the two outputs differ\n");
        return 1;
    }
    printf("%zu datums, %zu bytes, best of %d rounds (CPU time)\n", n, data.len - 4 * n, rounds);
    printf("reading file  : %6.1f ns/row (warm, split into datums)\n", read_s / n * 1e9);
    printf("compiled plan : %8.0f k rows/s  %6.1f ns/row\n", n / best_plan / 1e3, best_plan / n * 1e9);
    printf("plan to Native: %8.0f k rows/s  %6.1f ns/row (columns written directly)\n", n / best_direct / 1e3,
           best_direct / n * 1e9);
    if (!only_plan) {
        printf("avro-c values : %8.0f k rows/s  %6.1f ns/row\n", n / best_avroc / 1e3, best_avroc / n * 1e9);
        printf("ratio         : %8.2f x\n", best_avroc / best_plan);
    }
    double best_native = 0;
    if (argc > 4 && strcmp(argv[4], "-")) {
        out_direct.len = 0; /* once more, untimed, for the blocks' bytes */
        if (plan_native(dec, &rb, &ds, direct, &out_direct, &e)) return 1;
        FILE *o = fopen(argv[4], "wb");
        if (!o || fwrite(out_plan.data, 1, out_plan.len, o) != out_plan.len || fclose(o)) {
            perror(argv[4]);
            return 1;
        }
        native *nat = native_open(&plan, 65536, 1u << 20);
        buf blocks;
        buf_init(&blocks, out_plan.len + out_plan.len / 2);
        best_native = 1e30;
        for (int r = 0; r < rounds; r++) {
            blocks.len = 0;
            double t0 = cpu_seconds();
            /* All rows at once: native_encode closes a block at 1 MiB of column bytes itself. */
            if (native_encode(nat, out_plan.data, out_plan.len, &blocks, NULL, err, sizeof err)) {
                fprintf(stderr, "avro-bench: native: %s\n", err);
                return 1;
            }
            double t1 = cpu_seconds();
            if (t1 - t0 < best_native) best_native = t1 - t0;
        }
        if (blocks.len != out_direct.len || memcmp(blocks.data, out_direct.data, blocks.len)) {
            fprintf(stderr, "avro-bench: Native written directly differs from the split RowBinary\n");
            return 1;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s.native", argv[4]);
        o = fopen(path, "wb");
        if (!o || fwrite(blocks.data, 1, blocks.len, o) != blocks.len || fclose(o)) {
            perror(path);
            return 1;
        }
        buf_free(&blocks);
        native_close(nat);
        printf("RowBinary to Native: %8.0f k rows/s  %6.1f ns/row (split after the plan)\n", n / best_native / 1e3,
               best_native / n * 1e9);
    }
    printf("json {\"rows\": %zu, \"cpu_seconds\": %.6f, \"read_cpu_seconds\": %.6f, \"native_cpu_seconds\": %.6f, "
           "\"direct_native_cpu_seconds\": %.6f}\n",
           n, best_plan, read_s, best_native, best_direct);
    avro_reader_free(ac.reader);
    avro_value_decref(&ac.val);
    avro_value_iface_decref(iface);
    avro_schema_decref(as);
    rowbuild_free(&rb);
    native_close(direct);
    buf_free(&out_direct);
    buf_free(&out_plan);
    buf_free(&out_avroc);
    buf_free(&data);
    buf_free(&schema);
    free(ds.d);
    kb_avro_decoder.close(dec);
    rowplan_free(&plan);
    chcolumns_free(&cols);
    return 0;
}
