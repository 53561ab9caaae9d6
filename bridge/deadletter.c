#include "deadletter.h"

#include "kafkaconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dead_letter {
    rd_kafka_t *rk;
    char *topic;
    int timeout_ms;
    rd_kafka_resp_err_t delivery; /* set by the delivery report */
    int delivered;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    dead_letter *d = opaque;
    d->delivery = m->err;
    d->delivered = 1;
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
    /* Consumer settings passed on with -X draw warnings from a producer;
     * stderr is not the place for them. */
    (void)rk, (void)level, (void)facility, (void)line;
}

int dead_letter_open(dead_letter **out, const char *brokers, char *const *properties,
                     size_t nproperties, const char *topic, int timeout_ms, char *err,
                     size_t errlen) {
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
        goto bad;
    }
    *out = d;
    return 0;
bad:
    rd_kafka_conf_destroy(conf);
    free(d->topic);
    free(d);
    return -1;
}

void dead_letter_close(dead_letter *d) {
    if (!d) return;
    if (d->rk) {
        rd_kafka_flush(d->rk, d->timeout_ms);
        rd_kafka_destroy(d->rk);
    }
    free(d->topic);
    free(d);
}

int dead_letter_send(dead_letter *d, const rd_kafka_message_t *m, const char *source_topic,
                     const char *reason, char *err, size_t errlen) {
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

    d->delivered = 0;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        d->rk, RD_KAFKA_V_TOPIC(d->topic), RD_KAFKA_V_KEY(m->key, m->key_len),
        RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (e) {
        rd_kafka_headers_destroy(hdrs); /* not taken on failure */
    } else {
        rd_kafka_flush(d->rk, d->timeout_ms);
        e = d->delivered ? d->delivery : RD_KAFKA_RESP_ERR__TIMED_OUT;
    }
    if (e) {
        snprintf(err, errlen,
                 "topic '%s' partition %" PRId32 " offset %" PRId64
                 ": cannot copy the message to dead-letter topic '%s': %s (reason it was sent: %s)",
                 source_topic, m->partition, m->offset, d->topic, rd_kafka_err2str(e), reason);
        return -1;
    }
    return 0;
}
