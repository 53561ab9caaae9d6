#include "deadletter.h"

#include "kafkaconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The broker's default transaction.max.timeout.ms: a run may take that long
 * from its first dead letter to its end.  A transaction left open by a
 * killed run holds back read-committed readers of the dead-letter topic
 * until the next run aborts it, or this long. */
#define TXN_TIMEOUT_MS "900000"

struct dead_letter {
    rd_kafka_t *rk;
    char *topic;
    int timeout_ms;
    int in_txn;             /* begun and neither committed nor aborted */
    const char *source;     /* the source topic, for error text */
    uint64_t sent, acked;
    int32_t first_partition; /* the first copy sent */
    int64_t first_offset;
    char failure[600];      /* the first refused copy, or "" */
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The source position of a copy, read back from its headers. */
static void copy_origin(const rd_kafka_message_t *m, char *partition, char *offset, size_t len) {
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t n;
    snprintf(partition, len, "?");
    snprintf(offset, len, "?");
    if (rd_kafka_message_headers(m, &h)) return;
    if (!rd_kafka_header_get_last(h, "kafka-bridge.partition", &v, &n))
        snprintf(partition, len, "%.*s", (int)n, (const char *)v);
    if (!rd_kafka_header_get_last(h, "kafka-bridge.offset", &v, &n))
        snprintf(offset, len, "%.*s", (int)n, (const char *)v);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    dead_letter *d = opaque;
    if (!m->err) {
        d->acked++;
        return;
    }
    if (d->failure[0]) return;
    char partition[24], offset[24];
    copy_origin(m, partition, offset, sizeof partition);
    snprintf(d->failure, sizeof d->failure,
             "topic '%s' partition %s offset %s: cannot copy the message to dead-letter topic "
             "'%s': %s",
             d->source ? d->source : "?", partition, offset, d->topic, rd_kafka_err2str(m->err));
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
    /* Consumer settings passed on with -X draw warnings from a producer;
     * stderr is not the place for them. */
    (void)rk, (void)level, (void)facility, (void)line;
}

/* Takes e; fills err with what + its text. */
static int txn_failed(rd_kafka_error_t *e, const dead_letter *d, const char *what, char *err,
                      size_t errlen) {
    snprintf(err, errlen, "dead-letter topic '%s': %s: %s", d->topic, what, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return -1;
}

int dead_letter_open(dead_letter **out, const char *brokers, char *const *properties,
                     size_t nproperties, const char *topic, const char *txn_id, int timeout_ms,
                     char *err, size_t errlen) {
    char why[512];
    dead_letter *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->timeout_ms = timeout_ms;
    d->topic = strdup(topic);
    /* The consumer's -X properties are passed on: librdkafka ignores the
     * consumer-only ones in a producer (with a log line, dropped below). */
    char why_conf[512];
    rd_kafka_conf_t *conf = kafkaconf_new(KAFKACONF_PRODUCER, "kafka-bridge", brokers, properties,
                                          nproperties, 0, why_conf, sizeof why_conf);
    if (conf && (kafkaconf_set(conf, "transactional.id", txn_id, why_conf, sizeof why_conf) ||
                 kafkaconf_set(conf, "transaction.timeout.ms", TXN_TIMEOUT_MS, why_conf,
                               sizeof why_conf))) {
        rd_kafka_conf_destroy(conf);
        conf = NULL;
    }
    if (!conf || !d->topic) {
        snprintf(err, errlen, "dead-letter producer: %s", conf ? "out of memory" : why_conf);
        if (conf) rd_kafka_conf_destroy(conf);
        free(d->topic);
        free(d);
        return -1;
    }
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_log);
    d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!d->rk) {
        snprintf(err, errlen, "cannot create the dead-letter producer: %s", why);
        rd_kafka_conf_destroy(conf);
        free(d->topic);
        free(d);
        return -1;
    }
    /* Fences an earlier run with the same id and aborts what it left open.
     * The coordinator may still be loading on a fresh broker: a retriable
     * error is tried again, within three timeouts in all. */
    rd_kafka_error_t *e;
    double give_up = now_ms() + 3.0 * timeout_ms;
    while ((e = rd_kafka_init_transactions(d->rk, timeout_ms)) && rd_kafka_error_is_retriable(e) &&
           now_ms() < give_up)
        rd_kafka_error_destroy(e);
    if (e) {
        txn_failed(e, d, "cannot start the transactions for the copies", err, errlen);
        rd_kafka_destroy(d->rk);
        free(d->topic);
        free(d);
        return -1;
    }
    *out = d;
    return 0;
}

void dead_letter_close(dead_letter *d) {
    if (!d) return;
    if (d->in_txn) {
        /* A failed run: its copies must not be seen, and readers of the
         * topic need not wait for the transaction to time out. */
        rd_kafka_error_t *e = rd_kafka_abort_transaction(d->rk, d->timeout_ms);
        if (e) rd_kafka_error_destroy(e);
        rd_kafka_purge(d->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    }
    rd_kafka_destroy(d->rk);
    free(d->topic);
    free(d);
}

int dead_letter_poll(dead_letter *d, char *err, size_t errlen) {
    rd_kafka_poll(d->rk, 0);
    if (d->failure[0]) {
        snprintf(err, errlen, "%s", d->failure);
        return -1;
    }
    return 0;
}

int dead_letter_send(dead_letter *d, const rd_kafka_message_t *m, const char *source_topic,
                     const char *reason, char *err, size_t errlen) {
    d->source = source_topic;
    if (dead_letter_poll(d, err, errlen)) return -1;
    if (!d->in_txn) {
        rd_kafka_error_t *te = rd_kafka_begin_transaction(d->rk);
        if (te) return txn_failed(te, d, "cannot begin a transaction", err, errlen);
        d->in_txn = 1;
        d->sent = d->acked = 0;
    }
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_headers_t *original = NULL;
    if (rd_kafka_message_headers(m, &original) == RD_KAFKA_RESP_ERR_NO_ERROR)
        hdrs = rd_kafka_headers_copy(original);
    else
        hdrs = rd_kafka_headers_new(6);
    char partition[16], offset[32], now[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(partition, sizeof partition, "%" PRId32, m->partition);
    snprintf(offset, sizeof offset, "%" PRId64, m->offset);
    snprintf(now, sizeof now, "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    rd_kafka_header_add(hdrs, "kafka-bridge.error", -1, reason, -1);
    rd_kafka_header_add(hdrs, "kafka-bridge.topic", -1, source_topic, -1);
    rd_kafka_header_add(hdrs, "kafka-bridge.partition", -1, partition, -1);
    rd_kafka_header_add(hdrs, "kafka-bridge.offset", -1, offset, -1);
    rd_kafka_header_add(hdrs, "kafka-bridge.time", -1, now, -1);

    /* A full queue drains as the broker acknowledges; waiting for that is
     * bounded by the run's timeout. */
    rd_kafka_resp_err_t e;
    double give_up = now_ms() + d->timeout_ms;
    for (;;) {
        e = rd_kafka_producev(d->rk, RD_KAFKA_V_TOPIC(d->topic), RD_KAFKA_V_KEY(m->key, m->key_len),
                              RD_KAFKA_V_VALUE(m->payload, m->len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || now_ms() >= give_up) break;
        rd_kafka_poll(d->rk, 100);
        if (d->failure[0]) break;
    }
    if (e) {
        rd_kafka_headers_destroy(hdrs); /* not taken on failure */
        if (d->failure[0]) {
            snprintf(err, errlen, "%s", d->failure);
            return -1;
        }
        snprintf(err, errlen,
                 "topic '%s' partition %" PRId32 " offset %" PRId64
                 ": cannot copy the message to dead-letter topic '%s': %s (reason it was sent: %s)",
                 source_topic, m->partition, m->offset, d->topic, rd_kafka_err2str(e), reason);
        return -1;
    }
    if (d->sent++ == 0) {
        d->first_partition = m->partition;
        d->first_offset = m->offset;
    }
    return 0;
}

int dead_letter_commit(dead_letter *d, char *err, size_t errlen) {
    if (!d->in_txn) return 0;
    /* commit_transaction flushes first; a copy refused on the way shows in
     * its delivery report and makes the commit fail. */
    rd_kafka_error_t *e = rd_kafka_commit_transaction(d->rk, d->timeout_ms);
    rd_kafka_poll(d->rk, 0);
    if (d->failure[0]) {
        if (e) rd_kafka_error_destroy(e);
        snprintf(err, errlen, "%s", d->failure);
        return -1;
    }
    if (e || d->acked != d->sent) {
        char what[160];
        snprintf(what, sizeof what, "%" PRIu64 " of %" PRIu64 " copies not acknowledged",
                 d->sent - d->acked, d->sent);
        snprintf(err, errlen,
                 "topic '%s' partition %" PRId32 " offset %" PRId64
                 ": cannot copy the message to dead-letter topic '%s' (%s): %s",
                 d->source ? d->source : "?", d->first_partition, d->first_offset, d->topic, what,
                 e ? rd_kafka_error_string(e) : "no delivery report");
        if (e) rd_kafka_error_destroy(e);
        return -1;
    }
    d->in_txn = 0;
    return 0;
}
