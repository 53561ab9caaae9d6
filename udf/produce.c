/*
 * kafka-produce - the executable_pool UDF behind kafkaProduce() and its
 * siblings (clickhouse-config/kafka_produce_function.xml).
 *
 * ClickHouse keeps the process and writes it block after block: the row
 * count on its own line (send_chunk_header = 1), then per row the
 * arguments in RowBinary: pipeline String, key Nullable(String), value
 * Nullable(String) and, with --headers, headers Map(String, String).  For
 * each block every row is queued to the pipeline's topic, every delivery
 * report awaited, and then one result per row, in input order, is written:
 * Tuple(partition Int32, offset Int64, error String), error '' when the
 * broker acknowledged the message.
 *
 * A pipeline whose format (or key-format) is Avro takes the value (key)
 * as JSON text and sends it as an Avro datum of the pipeline's schema
 * (avrocodec.h); a row whose JSON does not fit is not sent and gets
 * (-1, -1, reason naming the field).
 *
 * With --fail-on-error a failed delivery fails the query instead: one
 * stderr line and exit status 1, which ClickHouse quotes (check_exit_code
 * and stderr_reaction in the XML).  Misuse always fails the query: an
 * unknown pipeline, one that does not allow producing, malformed input.
 * On success nothing is written to stderr.
 *
 * SIGTERM keeps its default action: the process ends at once.  A block
 * cut short that way has no answer, so its query fails; some of its
 * messages may have reached Kafka.
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
#include "options.h"
#include "rbread.h"
#include "sink.h"

#define MAX_PIPELINES 64

typedef struct row {
    sink *to;
    sink_result result;
    /* A value or key that did not fit its Avro schema: the row was not
     * sent, and its reason is at `why_off` in p->why. */
    int refused;
    size_t why_off, why_len;
} row;

typedef struct produce {
    const char *argv0;
    int with_headers;
    int fail_on_error;
    rbread in;
    buf bytes;          /* the argument bytes of the row being read */
    row *rows;          /* the block's result slots: never moved while it is in flight */
    size_t cap_rows;
    rbspan *headers;    /* name, value, name, value... */
    size_t cap_headers;
    struct {
        char *name;
        sink *s;
        kb_avwriter *value_avro, *key_avro; /* NULL: sent as given */
    } sinks[MAX_PIPELINES];
    size_t nsinks;
    buf encoded;        /* the Avro key and value of the row being sent */
    buf why;            /* reasons of the block's refused rows */
    buf out;
    char err[1024];
} produce;

static int fatal(const char *msg) {
    fprintf(stderr, "kafka-produce: %s\n", msg);
    fflush(stderr);
    return 1;
}

static void *grow(void *p, size_t n, size_t size) {
    void *q = realloc(p, n * size);
    if (!q) {
        fprintf(stderr, "kafka-produce: out of memory\n");
        abort();
    }
    return q;
}

/* The sink of a pipeline, opened on first use and kept for later blocks
 * and queries: a new idempotent producer costs a round trip for its id. */
static sink *sink_for(produce *p, const char *name, size_t *index) {
    for (size_t i = 0; i < p->nsinks; i++)
        if (!strcmp(p->sinks[i].name, name)) {
            *index = i;
            return p->sinks[i].s;
        }
    if (p->nsinks == MAX_PIPELINES) {
        snprintf(p->err, sizeof p->err, "more than %d pipelines used by one process", MAX_PIPELINES);
        return NULL;
    }
    sink *s;
    if (sink_open(&s, p->argv0, name, p->err, sizeof p->err)) return NULL;
    /* The schemas are looked up now, once: a registry that cannot answer
     * fails the query, it is no row's fault. */
    kb_avwriter *va = NULL, *ka = NULL;
    bridge_options o;
    char why[900];
    if (options_load_pipeline(&o, p->argv0, name, why, sizeof why) ||
        kb_avwriter_open(&va, &o, 0, why, sizeof why) || kb_avwriter_open(&ka, &o, 1, why, sizeof why)) {
        snprintf(p->err, sizeof p->err, "pipeline '%s': %s", name, why);
        options_free(&o);
        kb_avwriter_close(va);
        sink_close(s);
        return NULL;
    }
    options_free(&o);
    p->sinks[p->nsinks].name = strdup(name);
    p->sinks[p->nsinks].s = s;
    p->sinks[p->nsinks].value_avro = va;
    p->sinks[p->nsinks].key_avro = ka;
    *index = p->nsinks++;
    return s;
}

static const char *span_ptr(const produce *p, rbspan s) { return s.len == RB_NULL ? NULL : (const char *)p->bytes.data + s.off; }
static size_t span_len(rbspan s) { return s.len == RB_NULL ? 0 : s.len; }

/* A key or value of an Avro pipeline: its JSON text becomes the message,
 * appended to p->encoded.  Returns 0, or -1 with the row refused and its
 * reason kept. */
static int encode_side(produce *p, row *r, kb_avwriter *w, rbspan given, const char *side, size_t *off,
                       size_t *len) {
    char why[600], text[700];
    *off = p->encoded.len;
    if (kb_avwriter_encode(w, span_ptr(p, given), given.len, &p->encoded, why, sizeof why) == 0) {
        *len = p->encoded.len - *off;
        return 0;
    }
    int k = snprintf(text, sizeof text, "%s does not fit the Avro schema: %s", side, why);
    r->refused = 1;
    r->result = (sink_result){-1, -1, RD_KAFKA_RESP_ERR_NO_ERROR, 1};
    r->why_off = p->why.len;
    r->why_len = (size_t)k < sizeof text ? (size_t)k : sizeof text - 1;
    buf_put(&p->why, text, r->why_len);
    return -1;
}

/* Reads and queues one row.  A row is produced as soon as it is read (its
 * bytes are copied by the producer), so that librdkafka batches and sends
 * while ClickHouse is still writing the block.  Returns -1 with p->err
 * filled. */
static int send_row(produce *p, uint64_t i) {
    row *r = &p->rows[i];
    rbspan pipeline, key, value;
    size_t nheaders = 0;
    p->bytes.len = 0;
    memset(r, 0, sizeof *r);
    if (rbread_string(&p->in, &p->bytes, &pipeline) || rbread_nullable_string(&p->in, &p->bytes, &key) ||
        rbread_nullable_string(&p->in, &p->bytes, &value))
        goto bad_input;
    if (p->with_headers) {
        uint64_t count;
        if (rbread_count(&p->in, &count)) goto bad_input;
        if (count > 100000) {
            snprintf(p->in.err, sizeof p->in.err, "row %" PRIu64 ": %" PRIu64 " headers (at most 100000)", i + 1,
                     count);
            goto bad_input;
        }
        nheaders = (size_t)count;
        if (2 * nheaders > p->cap_headers) {
            p->cap_headers = 4 * nheaders;
            p->headers = grow(p->headers, p->cap_headers, sizeof *p->headers);
        }
        for (size_t h = 0; h < 2 * nheaders; h++)
            if (rbread_string(&p->in, &p->bytes, &p->headers[h])) goto bad_input;
    }
    char name[256];
    if (pipeline.len >= sizeof name || memchr(span_ptr(p, pipeline), 0, pipeline.len)) {
        snprintf(p->err, sizeof p->err, "block %" PRIu64 " row %" PRIu64 ": invalid pipeline name", p->in.block,
                 i + 1);
        return -1;
    }
    memcpy(name, span_ptr(p, pipeline), pipeline.len);
    name[pipeline.len] = '\0';
    size_t at;
    if (!(r->to = sink_for(p, name, &at))) return -1;
    /* The producer copies what it is given, so one row's Avro bytes at a
     * time are enough; no key, or a tombstone, stays as it is. */
    const char *keyp = span_ptr(p, key), *valuep = span_ptr(p, value);
    size_t keylen = span_len(key), valuelen = span_len(value);
    p->encoded.len = 0;
    size_t key_off = 0, value_off = 0;
    if (p->sinks[at].key_avro && key.len != RB_NULL &&
        encode_side(p, r, p->sinks[at].key_avro, key, "key", &key_off, &keylen))
        return 0;
    if (p->sinks[at].value_avro && value.len != RB_NULL &&
        encode_side(p, r, p->sinks[at].value_avro, value, "value", &value_off, &valuelen))
        return 0;
    if (p->sinks[at].key_avro && key.len != RB_NULL) keyp = (const char *)p->encoded.data + key_off;
    if (p->sinks[at].value_avro && value.len != RB_NULL) valuep = (const char *)p->encoded.data + value_off;
    rd_kafka_headers_t *hdrs = NULL;
    if (nheaders) {
        hdrs = rd_kafka_headers_new(nheaders);
        for (size_t h = 0; h < nheaders; h++) {
            rbspan k = p->headers[2 * h], v = p->headers[2 * h + 1];
            rd_kafka_header_add(hdrs, span_ptr(p, k), (ssize_t)k.len, span_ptr(p, v), (ssize_t)v.len);
        }
    }
    rd_kafka_resp_err_t e =
        sink_send(r->to, keyp, keylen, valuep, valuelen, hdrs, &r->result);
    if (e && hdrs) rd_kafka_headers_destroy(hdrs);
    return 0;
bad_input:
    snprintf(p->err, sizeof p->err, "%s", p->in.err);
    return -1;
}

/* Queues every row of the block as it is read, then waits for all
 * reports. */
static int send_block(produce *p, uint64_t n) {
    if (n > p->cap_rows) {
        free(p->rows); /* nothing is in flight between blocks */
        p->rows = grow(NULL, n, sizeof *p->rows);
        p->cap_rows = n;
    }
    p->why.len = 0;
    for (uint64_t i = 0; i < n; i++)
        if (send_row(p, i)) return -1;
    for (size_t i = 0; i < p->nsinks; i++)
        if (sink_wait(p->sinks[i].s, p->err, sizeof p->err)) return -1;
    return 0;
}

static int answer_block(produce *p, uint64_t n) {
    char text[600];
    p->out.len = 0;
    for (uint64_t i = 0; i < n; i++) {
        const row *r = &p->rows[i];
        const sink_result *res = &r->result;
        if (r->refused) {
            const char *why = (const char *)p->why.data + r->why_off;
            if (p->fail_on_error) {
                snprintf(p->err, sizeof p->err, "pipeline '%s' block %" PRIu64 " row %" PRIu64 ": %.*s",
                         sink_pipeline(r->to), p->in.block, i + 1, (int)r->why_len, why);
                return -1;
            }
            buf_le(&p->out, (uint32_t)-1, 4);
            buf_le(&p->out, (uint64_t)-1, 8);
            buf_rb_string(&p->out, why, r->why_len);
            continue;
        }
        buf_le(&p->out, (uint32_t)res->partition, 4);
        buf_le(&p->out, (uint64_t)res->offset, 8);
        if (!res->err) {
            buf_leb128(&p->out, 0);
            continue;
        }
        if (p->fail_on_error) {
            char where[400];
            snprintf(where, sizeof where, "pipeline '%s' block %" PRIu64 " row %" PRIu64, sink_pipeline(r->to),
                     p->in.block, i + 1);
            sink_describe(r->to, res->err, where, p->err, sizeof p->err);
            return -1;
        }
        sink_describe(r->to, res->err, NULL, text, sizeof text);
        buf_rb_string(&p->out, text, strlen(text));
    }
    size_t done = 0;
    while (done < p->out.len) {
        ssize_t w = write(STDOUT_FILENO, p->out.data + done, p->out.len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno == EPIPE ? 1 : -1;
        done += (size_t)w;
    }
    return 0;
}

static const char usage[] =
    "Usage: kafka-produce [--headers] [--fail-on-error]\n"
    "The executable_pool UDF behind kafkaProduce(): reads blocks of (pipeline,\n"
    "key, value[, headers]) rows in RowBinary with chunk headers, produces each\n"
    "row to the pipeline's topic and answers one (partition, offset, error) per row.\n"
    "  --headers        a fourth argument, headers Map(String, String)\n"
    "  --fail-on-error  a failed delivery fails the query instead of its row\n";

int main(int argc, char **argv) {
    produce p;
    memset(&p, 0, sizeof p);
    p.argv0 = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--headers")) p.with_headers = 1;
        else if (!strcmp(argv[i], "--fail-on-error")) p.fail_on_error = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "kafka-produce: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN); /* a closed stdout shows as EPIPE */
    rbread_init(&p.in, stdin);
    int status = 0;
    for (;;) {
        uint64_t n;
        int rc = rbread_block(&p.in, &n);
        if (rc == RB_EOF) break;
        if (rc) {
            status = fatal(p.in.err);
            break;
        }
        if (send_block(&p, n)) {
            status = fatal(p.err);
            break;
        }
        rc = answer_block(&p, n);
        if (rc > 0) break; /* ClickHouse went away */
        if (rc < 0) {
            status = fatal(p.err[0] ? p.err : strerror(errno));
            break;
        }
    }
    /* After a failure, messages may still be in flight: their slots are
     * in memory freed below, so end without waiting for them. */
    if (status) _exit(status);
    for (size_t i = 0; i < p.nsinks; i++) {
        sink_close(p.sinks[i].s);
        kb_avwriter_close(p.sinks[i].value_avro);
        kb_avwriter_close(p.sinks[i].key_avro);
        free(p.sinks[i].name);
    }
    free(p.rows);
    free(p.headers);
    buf_free(&p.bytes);
    buf_free(&p.encoded);
    buf_free(&p.why);
    buf_free(&p.out);
    return 0;
}
