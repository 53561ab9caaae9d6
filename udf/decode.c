/*
 * kafka-decode - the executable_pool UDF behind kafkaDecode(format,
 * payload) (clickhouse-config/kafka_decode_function.xml): a raw Kafka
 * payload as JSON text, for ClickHouse's JSON functions.
 *
 * Blocks come as in kafka-produce (a row count line, then per row format
 * String and payload Nullable(String) in RowBinary); the answer is one
 * Nullable(String) per row: NULL for a NULL payload (a tombstone).
 * The first argument is a format, msgpack (mpjson.h), or the name of a
 * pipeline file whose format is avro-confluent, avro or msgpack: Avro
 * payloads become JSON by their writer schema (avrojson.h), fetched from
 * the pipeline's registry once per schema id (avrocodec.h).  A payload
 * that does not decode (bad magic byte, truncated datum...) fails the
 * query with one stderr line naming block, row and reason; with --or-null
 * (kafkaDecodeOrNull) it gives NULL instead.  A registry that cannot give
 * a schema, and an unknown pipeline, fail the query either way: they are
 * not the payload's fault.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avrocodec.h"
#include "buf.h"
#include "mpjson.h"
#include "options.h"
#include "rbread.h"

#define MAX_PIPELINES 64

typedef struct row {
    rbspan format, payload;
} row;

/* A pipeline named as the first argument, opened on first use. */
typedef struct source {
    char *name;
    kb_avreader *avro; /* NULL: MessagePack */
} source;

typedef struct sources {
    const char *argv0;
    source s[MAX_PIPELINES];
    size_t n;
} sources;

static const source *source_for(sources *all, const char *name, size_t len, char *err, size_t errlen) {
    for (size_t i = 0; i < all->n; i++)
        if (strlen(all->s[i].name) == len && !memcmp(all->s[i].name, name, len)) return &all->s[i];
    char pipeline[256];
    if (len >= sizeof pipeline || memchr(name, 0, len)) {
        snprintf(err, errlen, "unknown format '%.*s' (supported: msgpack, or a pipeline name)",
                 (int)(len > 40 ? 40 : len), name);
        return NULL;
    }
    memcpy(pipeline, name, len);
    pipeline[len] = '\0';
    if (all->n == MAX_PIPELINES) {
        snprintf(err, errlen, "more than %d pipelines used by one process", MAX_PIPELINES);
        return NULL;
    }
    bridge_options o;
    char why[700];
    source *src = &all->s[all->n];
    memset(src, 0, sizeof *src);
    if (options_load_pipeline(&o, all->argv0, pipeline, why, sizeof why)) {
        snprintf(err, errlen, "unknown format '%s' (supported: msgpack), and no such pipeline: %s", pipeline, why);
        options_free(&o);
        return NULL;
    }
    int rc = 0;
    if (o.format && !strcmp(o.format, "msgpack")) {
        /* MessagePack needs no settings: the transcoder below. */
    } else if (o.format && (!strcmp(o.format, "avro-confluent") || !strcmp(o.format, "avro"))) {
        rc = kb_avreader_open(&src->avro, &o, why, sizeof why);
    } else {
        snprintf(why, sizeof why, "its format '%s' is not one kafkaDecode reads (avro-confluent, avro, msgpack)",
                 o.format ? o.format : "json");
        rc = -1;
    }
    options_free(&o);
    if (rc) {
        snprintf(err, errlen, "pipeline '%s': %s", pipeline, why);
        return NULL;
    }
    src->name = strdup(pipeline);
    all->n++;
    return src;
}

static int fatal(const char *msg) {
    fprintf(stderr, "kafka-decode: %s\n", msg);
    fflush(stderr);
    return 1;
}

static int write_all(const buf *b) {
    size_t done = 0;
    while (done < b->len) {
        ssize_t w = write(STDOUT_FILENO, b->data + done, b->len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        done += (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    int or_null = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--or-null")) or_null = 1;
        else {
            fprintf(stderr, "kafka-decode: unknown argument '%s' (usage: kafka-decode [--or-null])\n", argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    rbread in;
    rbread_init(&in, stdin);
    buf bytes, out, json;
    buf_init(&bytes, 1 << 16);
    buf_init(&out, 1 << 16);
    buf_init(&json, 4096);
    row *rows = NULL;
    size_t cap = 0;
    int status = 0;
    char err[900], msg[1100];
    sources all;
    memset(&all, 0, sizeof all);
    all.argv0 = argv[0];
    for (;;) {
        uint64_t n;
        int rc = rbread_block(&in, &n);
        if (rc == RB_EOF) break;
        if (rc) {
            status = fatal(in.err);
            break;
        }
        if (n > cap) {
            row *grown = realloc(rows, n * sizeof *rows);
            if (!grown) abort();
            rows = grown;
            cap = n;
        }
        bytes.len = 0;
        for (uint64_t i = 0; i < n && !status; i++)
            if (rbread_string(&in, &bytes, &rows[i].format) || rbread_nullable_string(&in, &bytes, &rows[i].payload))
                status = fatal(in.err);
        if (status) break;
        out.len = 0;
        for (uint64_t i = 0; i < n && !status; i++) {
            const row *r = &rows[i];
            const char *fmt = (const char *)bytes.data + r->format.off;
            const source *src = NULL;
            if (r->format.len != 7 || memcmp(fmt, "msgpack", 7)) {
                if (!(src = source_for(&all, fmt, r->format.len, err, sizeof err))) {
                    snprintf(msg, sizeof msg, "block %" PRIu64 " row %" PRIu64 ": %s", in.block, i + 1, err);
                    status = fatal(msg);
                    break;
                }
            }
            if (r->payload.len == RB_NULL) {
                buf_u8(&out, 1);
                continue;
            }
            json.len = 0;
            int rc = src && src->avro
                         ? kb_avreader_json(src->avro, bytes.data + r->payload.off, r->payload.len, &json, err, sizeof err)
                         : mpjson_transcode(bytes.data + r->payload.off, r->payload.len, &json, err, sizeof err);
            if (rc == KB_AV_RUN_FAULT) {
                snprintf(msg, sizeof msg, "block %" PRIu64 " row %" PRIu64 ": pipeline '%s': %s", in.block, i + 1,
                         src->name, err);
                status = fatal(msg);
                break;
            }
            if (rc) {
                if (or_null) {
                    buf_u8(&out, 1);
                    continue;
                }
                snprintf(msg, sizeof msg, "block %" PRIu64 " row %" PRIu64 ": %s", in.block, i + 1, err);
                status = fatal(msg);
                break;
            }
            buf_u8(&out, 0);
            buf_rb_string(&out, json.data, json.len);
        }
        if (status) break;
        if (write_all(&out)) {
            if (errno != EPIPE) status = fatal(strerror(errno));
            break;
        }
    }
    for (size_t i = 0; i < all.n; i++) {
        kb_avreader_close(all.s[i].avro);
        free(all.s[i].name);
    }
    free(rows);
    buf_free(&bytes);
    buf_free(&out);
    buf_free(&json);
    return status;
}
