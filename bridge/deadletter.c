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

/* How far the copies of one source partition go: `done` is the offset
 * after the last copy committed (by this run or an earlier one, read back
 * from the marks group at open), `pending` the offset after the last copy
 * of the open transaction, or -1. */
typedef struct copy_mark {
    int32_t partition;
    int64_t done, pending;
} copy_mark;

/* A transaction begun right after a commit finds the coordinator still
 * writing the markers of the one before (CONCURRENT_TRANSACTIONS), more so
 * with the marks, whose markers go to the group's partition too; each
 * answer like that waits out retry.backoff.ms.  librdkafka's 100 ms made a
 * run flushing every 20 ms 2.5-5 times slower than one without marks
 * (README, "Bad messages"); Kafka's Java producer retries that case after
 * 20 ms.  It goes first among the properties, so that a -X retry.backoff.ms
 * given after it wins, as later properties always do. */
#define TXN_RETRY_BACKOFF "retry.backoff.ms=20"

struct dead_letter {
    rd_kafka_t *rk;
    char *topic;
    char *marks_group;      /* the consumer group that holds the marks */
    rd_kafka_consumer_group_metadata_t *marks_meta;
    copy_mark *marks;       /* sorted by partition */
    size_t nmarks, marks_cap;
    int timeout_ms;
    int in_txn;             /* begun and neither committed nor aborted */
    const char *source;     /* the source topic, for error text */
    uint64_t sent, acked;
    uint64_t copied_before; /* bad messages an earlier run already copied */
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

/* The mark of `partition`, made (done = pending = -1) when there is none
 * yet; NULL when out of memory.  Partitions are few and arrive in
 * clusters, so a sorted array is searched and grown in place. */
static copy_mark *mark_of(dead_letter *d, int32_t partition) {
    size_t lo = 0, hi = d->nmarks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->marks[mid].partition < partition) lo = mid + 1;
        else hi = mid;
    }
    if (lo < d->nmarks && d->marks[lo].partition == partition) return &d->marks[lo];
    if (d->nmarks == d->marks_cap) {
        size_t cap = d->marks_cap ? 2 * d->marks_cap : 16;
        copy_mark *grown = realloc(d->marks, cap * sizeof *grown);
        if (!grown) return NULL;
        d->marks = grown;
        d->marks_cap = cap;
    }
    memmove(&d->marks[lo + 1], &d->marks[lo], (d->nmarks - lo) * sizeof *d->marks);
    d->nmarks++;
    d->marks[lo] = (copy_mark){partition, -1, -1};
    return &d->marks[lo];
}

/* Reads the marks an earlier run committed with its copies.  Called after
 * init_transactions, which has aborted what a killed run left open, so the
 * committed marks are exactly the copies that are in the topic.  A mark
 * still being resolved (UNSTABLE_OFFSET_COMMIT), or a group coordinator
 * that is loading or moving, is asked again within the timeout. */
static int read_marks(dead_letter *d, const char *source_topic, char *err, size_t errlen) {
    rd_kafka_queue_t *q = rd_kafka_queue_new(d->rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(d->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    char why[256];
    int rc = -1;
    double give_up = now_ms() + d->timeout_ms;
    if (!q || !opts ||
        rd_kafka_AdminOptions_set_request_timeout(opts, d->timeout_ms, why, sizeof why)) {
        snprintf(err, errlen, "dead-letter topic '%s': cannot ask for the marks of group '%s': %s",
                 d->topic, d->marks_group, q && opts ? why : "out of memory");
        goto out;
    }
    rd_kafka_error_t *se = rd_kafka_AdminOptions_set_require_stable_offsets(opts, 1);
    if (se) rd_kafka_error_destroy(se);
    for (;;) {
        rd_kafka_ListConsumerGroupOffsets_t *ask =
            rd_kafka_ListConsumerGroupOffsets_new(d->marks_group, NULL);
        rd_kafka_ListConsumerGroupOffsets(d->rk, &ask, 1, opts, q);
        rd_kafka_ListConsumerGroupOffsets_destroy(ask);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, d->timeout_ms + 1000);
        const rd_kafka_ListConsumerGroupOffsets_result_t *res =
            ev ? rd_kafka_event_ListConsumerGroupOffsets_result(ev) : NULL;
        size_t ngroups = 0;
        const rd_kafka_group_result_t **groups =
            res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &ngroups) : NULL;
        const char *failed = NULL;
        rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (!ev) failed = "no answer within the timeout";
        else if (rd_kafka_event_error(ev)) failed = rd_kafka_event_error_string(ev);
        else if (ngroups != 1) failed = "no result for the group";
        else if (rd_kafka_group_result_error(groups[0])) {
            code = rd_kafka_error_code(rd_kafka_group_result_error(groups[0]));
            failed = rd_kafka_error_string(rd_kafka_group_result_error(groups[0]));
        } else {
            const rd_kafka_topic_partition_list_t *parts = rd_kafka_group_result_partitions(groups[0]);
            for (int i = 0; parts && i < parts->cnt && !failed; i++) {
                const rd_kafka_topic_partition_t *tp = &parts->elems[i];
                if (strcmp(tp->topic, source_topic)) continue;
                if (tp->err) {
                    code = tp->err;
                    failed = rd_kafka_err2str(tp->err);
                } else if (tp->offset >= 0) {
                    copy_mark *mk = mark_of(d, tp->partition);
                    if (!mk) failed = "out of memory";
                    else mk->done = tp->offset;
                }
            }
        }
        int again = (code == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT ||
                     code == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                     code == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                     code == RD_KAFKA_RESP_ERR_NOT_COORDINATOR) &&
                    now_ms() < give_up;
        if (!failed) rc = 0;
        else if (!again)
            snprintf(err, errlen,
                     "dead-letter topic '%s': cannot read which messages earlier runs copied "
                     "(consumer group '%s'): %s",
                     d->topic, d->marks_group, failed);
        if (ev) rd_kafka_event_destroy(ev);
        if (!again) break;
        d->nmarks = 0;
        rd_kafka_poll(d->rk, 200);
    }
out:
    if (opts) rd_kafka_AdminOptions_destroy(opts);
    if (q) rd_kafka_queue_destroy(q);
    return rc;
}

/* Puts the marks of the open transaction into it, so that they are
 * committed with its copies or not at all. */
static int send_marks(dead_letter *d, char *err, size_t errlen) {
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new((int)d->nmarks);
    if (!offsets) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < d->nmarks; i++)
        if (d->marks[i].pending >= 0)
            rd_kafka_topic_partition_list_add(offsets, d->source, d->marks[i].partition)->offset =
                d->marks[i].pending;
    rd_kafka_error_t *e = NULL;
    if (offsets->cnt) {
        double give_up = now_ms() + d->timeout_ms;
        while ((e = rd_kafka_send_offsets_to_transaction(d->rk, offsets, d->marks_meta,
                                                         d->timeout_ms)) &&
               rd_kafka_error_is_retriable(e) && now_ms() < give_up)
            rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    if (!e) return 0;
    char what[300];
    snprintf(what, sizeof what, "cannot record the copies in consumer group '%s'", d->marks_group);
    return txn_failed(e, d, what, err, errlen);
}

int dead_letter_open(dead_letter **out, const char *brokers, char *const *properties,
                     size_t nproperties, const char *topic, const char *source_topic,
                     const char *txn_id, int timeout_ms, char *err, size_t errlen) {
    char why[512];
    dead_letter *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->timeout_ms = timeout_ms;
    d->source = source_topic;
    d->topic = strdup(topic);
    /* The consumer's -X properties are passed on: librdkafka ignores the
     * consumer-only ones in a producer (with a log line, dropped below). */
    char why_conf[512] = "out of memory";
    char **props = calloc(nproperties + 1, sizeof *props);
    rd_kafka_conf_t *conf = NULL;
    if (props) {
        props[0] = (char *)TXN_RETRY_BACKOFF; /* read only */
        for (size_t i = 0; i < nproperties; i++) props[i + 1] = properties[i];
        conf = kafkaconf_new(KAFKACONF_PRODUCER, "kafka-bridge", brokers, props, nproperties + 1, 0,
                             why_conf, sizeof why_conf);
        free(props);
    }
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
        dead_letter_close(d);
        return -1;
    }
    d->marks_group = strdup(txn_id);
    d->marks_meta = rd_kafka_consumer_group_metadata_new(txn_id);
    if (!d->marks_group || !d->marks_meta) {
        snprintf(err, errlen, "out of memory");
        dead_letter_close(d);
        return -1;
    }
    if (read_marks(d, source_topic, err, errlen)) {
        dead_letter_close(d);
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
    if (d->marks_meta) rd_kafka_consumer_group_metadata_destroy(d->marks_meta);
    free(d->marks_group);
    free(d->marks);
    free(d->topic);
    free(d);
}

uint64_t dead_letter_copied_before(const dead_letter *d) {
    return d ? d->copied_before : 0;
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
    copy_mark *mk = mark_of(d, m->partition);
    if (!mk) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (m->offset < mk->done) {
        d->copied_before++;
        return 1;
    }
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
    mk->pending = m->offset + 1;
    return 0;
}

int dead_letter_commit(dead_letter *d, char *err, size_t errlen) {
    if (!d->in_txn) return 0;
    if (send_marks(d, err, errlen)) return -1;
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
    for (size_t i = 0; i < d->nmarks; i++)
        if (d->marks[i].pending >= 0) {
            d->marks[i].done = d->marks[i].pending;
            d->marks[i].pending = -1;
        }
    return 0;
}
