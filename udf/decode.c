/*
 * kafka-decode - the executable_pool UDF behind kafkaDecode(format,
 * payload) (clickhouse-config/kafka_decode_function.xml): a raw Kafka
 * payload as JSON text, for ClickHouse's JSON functions.
 *
 * Blocks come as in kafka-produce (a row count line, then per row format
 * String and payload Nullable(String) in RowBinary); the answer is one
 * Nullable(String) per row: NULL for a NULL payload (a tombstone).
 * Formats: msgpack (mpjson.h).  A payload that does not decode fails the
 * query with one stderr line naming block, row and reason; with --or-null
 * (kafkaDecodeOrNull) it gives NULL instead.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mpjson.h"
#include "rbread.h"

typedef struct row {
    rbspan format, payload;
} row;

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
    char err[600], msg[800];
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
            if (r->format.len != 7 || memcmp(fmt, "msgpack", 7)) {
                snprintf(msg, sizeof msg, "block %" PRIu64 " row %" PRIu64 ": unknown format '%.*s' (supported: msgpack)",
                         in.block, i + 1, (int)(r->format.len > 40 ? 40 : r->format.len), fmt);
                status = fatal(msg);
                break;
            }
            if (r->payload.len == RB_NULL) {
                buf_u8(&out, 1);
                continue;
            }
            json.len = 0;
            if (mpjson_transcode(bytes.data + r->payload.off, r->payload.len, &json, err, sizeof err)) {
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
    free(rows);
    buf_free(&bytes);
    buf_free(&out);
    buf_free(&json);
    return status;
}
