/*
 * bench-floor - the cost floor for scripts/bench: librdkafka fetching every
 * message of a topic and throwing it away.
 *
 * It consumes the way kafka-bridge does (bridge/consumer.c): the same
 * configuration, made by the same code (bridge/kafkaconf.c, compiled in), every partition assigned directly (no group join) at
 * its low watermark, rd_kafka_consume_batch_queue() on the consumer queue in
 * batches of 256 with a 100 ms wait, and a stop at the high watermarks read
 * when the run starts.  Nothing is decoded: a message is only counted.
 *
 *   bench-floor BROKERS TOPIC [--memory-budget SIZE] [-X name=value]...
 *   bench-floor --version
 *
 * Prints one line of JSON on stdout:
 *   {"messages": N, "bytes": B, "seconds": S, "librdkafka": "x.y.z"}
 * where seconds runs from rd_kafka_new() to the last message.  Exits 1 with
 * one line on stderr on an error, or when nothing arrives for 30 seconds
 * while some messages are still due.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kafkaconf.h"

#define BATCH 256
#define POLL_MS 100
#define META_TIMEOUT_MS 10000
#define IDLE_LIMIT_S 30.0

typedef struct {
    int32_t id;
    int64_t low, high;
    int done;
} part;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("bench-floor: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("%s\n", rd_kafka_version_str());
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: bench-floor BROKERS TOPIC [--memory-budget SIZE] [-X name=value]...\n"
                        "       bench-floor --version\n");
        return 2;
    }
    const char *brokers = argv[1], *topic = argv[2];
    const double started = now_s();

    /* The bridge's own configuration (bridge/kafkaconf.c), so that this
     * is the floor of the same consumer. */
    uint64_t budget = KAFKACONF_DEFAULT_BUDGET;
    char *props[64];
    size_t nprops = 0;
    char cerr[512];
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--memory-budget") && i + 1 < argc) {
            if (kafkaconf_parse_size(argv[++i], &budget, cerr, sizeof cerr)) die("%s", cerr);
        } else if (!strcmp(argv[i], "-X") && i + 1 < argc && nprops < 64) {
            props[nprops++] = argv[++i];
        } else {
            die("unexpected argument '%s'", argv[i]);
        }
    }
    rd_kafka_conf_t *conf = kafkaconf_new(KAFKACONF_CONSUMER, "kafka-bridge-floor", brokers, props,
                                          nprops, budget, cerr, sizeof cerr);
    if (!conf) die("%s", cerr);

    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) die("cannot create the consumer: %s", why);

    /* Partitions from the metadata, then each one's watermarks. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, META_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (err) die("metadata of '%s': %s", topic, rd_kafka_err2str(err));
    if (md->topic_cnt != 1 || md->topics[0].err)
        die("topic '%s': %s", topic,
            rd_kafka_err2str(md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
    int nparts = md->topics[0].partition_cnt;
    part *parts = calloc((size_t)nparts, sizeof *parts);
    int32_t max_id = 0;
    for (int i = 0; i < nparts; i++) {
        parts[i].id = md->topics[0].partitions[i].id;
        if (parts[i].id > max_id) max_id = parts[i].id;
    }
    rd_kafka_metadata_destroy(md);
    part **by_id = calloc((size_t)max_id + 1, sizeof *by_id);
    if (!parts || !by_id) die("out of memory");

    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(nparts);
    int pending = 0;
    int64_t due = 0;
    for (int i = 0; i < nparts; i++) {
        part *p = &parts[i];
        by_id[p->id] = p;
        err = rd_kafka_query_watermark_offsets(rk, topic, p->id, &p->low, &p->high, META_TIMEOUT_MS);
        if (err) die("watermarks of '%s' partition %" PRId32 ": %s", topic, p->id, rd_kafka_err2str(err));
        if (p->high <= p->low) {
            p->done = 1;
            continue;
        }
        pending++;
        due += p->high - p->low;
        rd_kafka_topic_partition_list_add(assignment, topic, p->id)->offset = p->low;
    }
    err = rd_kafka_assign(rk, assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    if (err) die("assign: %s", rd_kafka_err2str(err));
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);

    rd_kafka_message_t *msgs[BATCH];
    int64_t messages = 0, bytes = 0;
    double last_progress = now_s();
    while (pending > 0) {
        ssize_t got = rd_kafka_consume_batch_queue(queue, POLL_MS, msgs, BATCH);
        if (got < 0) die("consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = msgs[i];
            part *p = m->partition >= 0 && m->partition <= max_id ? by_id[m->partition] : NULL;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (p && !p->done && m->offset >= p->high) {
                    p->done = 1;
                    pending--;
                }
            } else if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT && m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                    die("partition %" PRId32 " offset %" PRId64 ": %s", m->partition, m->offset,
                        rd_kafka_message_errstr(m));
            } else if (p && !p->done && m->offset < p->high) {
                messages++;
                bytes += (int64_t)m->len;
                if (m->offset + 1 >= p->high) {
                    p->done = 1;
                    pending--;
                }
            }
            rd_kafka_message_destroy(m);
        }
        double now = now_s();
        if (got > 0) last_progress = now;
        else if (now - last_progress > IDLE_LIMIT_S)
            die("no message for %.0f s with %" PRId64 " of %" PRId64 " read", IDLE_LIMIT_S, messages, due);
    }
    double seconds = now_s() - started;

    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    free(parts);
    free(by_id);
    printf("{\"messages\": %" PRId64 ", \"bytes\": %" PRId64 ", \"seconds\": %.6f, \"librdkafka\": \"%s\"}\n",
           messages, bytes, seconds, rd_kafka_version_str());
    return 0;
}
