#include "sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkaconf.h"
#include "options.h"

struct sink {
    char *pipeline;
    char *topic;
    rd_kafka_t *rk;
    int wait_ms;            /* message.timeout.ms plus a margin */
    size_t pending;         /* queued, report not yet seen */
    kafkaconf_trouble trouble; /* what librdkafka said went wrong */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    sink *s = opaque;
    sink_result *r = m->_private;
    r->err = m->err;
    r->partition = m->err ? -1 : m->partition;
    r->offset = m->err ? -1 : m->offset;
    r->done = 1;
    s->pending--;
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
    sink *s = opaque;
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        /* The idempotent producer gave up (a sequence gap it cannot
         * repair): this handle delivers nothing more. */
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof why);
        if (!s->trouble.fatal) {
            s->trouble.fatal = code;
            snprintf(s->trouble.fatal_reason, sizeof s->trouble.fatal_reason, "%s", why);
        }
        return;
    }
    kafkaconf_trouble_error(&s->trouble, code, reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
    /* Nothing goes to stderr while all is well: some ClickHouse settings
     * (stderr_reaction = 'throw') fail the query on any stderr output. */
    (void)facility;
    sink *s = rd_kafka_opaque(rk);
    kafkaconf_trouble_log(&s->trouble, level, line);
}

/* Defaults a pipeline file may change: they come before its properties. */
static const char *const producer_defaults[] = {
    "linger.ms=5",
    "message.timeout.ms=30000",
};

int sink_open(sink **out, const char *argv0, const char *pipeline, char *err, size_t errlen) {
    bridge_options o;
    char why[512];
    if (options_load_pipeline(&o, argv0, pipeline, why, sizeof why)) {
        snprintf(err, errlen, "pipeline '%s': %s", pipeline, why);
        options_free(&o);
        return -1;
    }
    if (!o.allow_produce) {
        snprintf(err, errlen, "pipeline '%s' does not allow producing (the admin sets allow-produce = true in it)",
                 pipeline);
        options_free(&o);
        return -1;
    }
    if (!o.topic) {
        snprintf(err, errlen, "pipeline '%s' names no topic", pipeline);
        options_free(&o);
        return -1;
    }
    const size_t ndefaults = sizeof producer_defaults / sizeof *producer_defaults;
    char **props = calloc(ndefaults + o.nproperties + 1, sizeof *props);
    sink *s = calloc(1, sizeof *s);
    if (!s || !props) abort();
    size_t nprops = 0;
    for (size_t i = 0; i < ndefaults; i++) props[nprops++] = (char *)producer_defaults[i];
    for (size_t i = 0; i < o.nproperties; i++) {
        /* options.c stores only name=value entries. */
        const char *kv = o.properties[i], *eq = strchr(kv, '=');
        char name[256];
        size_t n = eq ? (size_t)(eq - kv) : 0;
        if (n && n < sizeof name) {
            memcpy(name, kv, n);
            name[n] = '\0';
            if (kafkaconf_consumer_only(name)) continue;
        }
        props[nprops++] = o.properties[i];
    }
    s->pipeline = strdup(pipeline);
    s->topic = strdup(o.topic);
    /* enable.idempotence and acks=all are set by kafkaconf_new() after the
     * file's properties, so a file cannot weaken them. */
    rd_kafka_conf_t *conf =
        kafkaconf_new(KAFKACONF_PRODUCER, "kafka-produce", o.brokers, props, nprops, 0, why, sizeof why);
    free(props);
    if (!conf) {
        snprintf(err, errlen, "pipeline '%s': %s", pipeline, why);
        goto bad;
    }
    char timeout[32];
    size_t tlen = sizeof timeout;
    if (rd_kafka_conf_get(conf, "message.timeout.ms", timeout, &tlen) != RD_KAFKA_CONF_OK) abort();
    s->wait_ms = atoi(timeout) + 5000;
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!s->rk) {
        snprintf(err, errlen, "pipeline '%s': cannot create a producer: %s", pipeline, why);
        goto bad;
    }
    options_free(&o);
    *out = s;
    return 0;
bad:
    if (conf) rd_kafka_conf_destroy(conf);
    options_free(&o);
    free(s->pipeline);
    free(s->topic);
    free(s);
    return -1;
}

void sink_close(sink *s) {
    if (!s) return;
    /* Everything queued was awaited by sink_wait(); nothing is left. */
    rd_kafka_destroy(s->rk);
    free(s->pipeline);
    free(s->topic);
    free(s);
}

const char *sink_pipeline(const sink *s) { return s->pipeline; }
const char *sink_topic(const sink *s) { return s->topic; }

rd_kafka_resp_err_t sink_send(sink *s, const void *key, size_t keylen, const void *value, size_t valuelen,
                              rd_kafka_headers_t *headers, sink_result *slot) {
    *slot = (sink_result){-1, -1, RD_KAFKA_RESP_ERR_NO_ERROR, 0};
    for (;;) {
        rd_kafka_resp_err_t e;
        if (headers)
            e = rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(s->topic), RD_KAFKA_V_KEY(key, keylen),
                                  RD_KAFKA_V_VALUE((void *)value, valuelen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
                                  RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
        else
            e = rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(s->topic), RD_KAFKA_V_KEY(key, keylen),
                                  RD_KAFKA_V_VALUE((void *)value, valuelen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(slot),
                                  RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !s->trouble.fatal) {
            /* The local queue is full: serve delivery reports to make room,
             * which is the only back-pressure a block needs. */
            rd_kafka_poll(s->rk, 100);
            continue;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) e = (rd_kafka_resp_err_t)s->trouble.fatal;
        if (e) {
            slot->err = e;
            slot->done = 1;
            return e;
        }
        s->pending++;
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int sink_wait(sink *s, char *err, size_t errlen) {
    const double deadline = now_ms() + s->wait_ms;
    /* Short slices: the error callback, served by each flush, may say the
     * broker refused our credentials or certificate, which no retry
     * heals; librdkafka would otherwise keep the messages until
     * message.timeout.ms. */
    while (s->pending && !s->trouble.fatal && now_ms() < deadline) rd_kafka_flush(s->rk, 100);
    if (!s->pending) {
        /* Every report is in, so whatever refused us has healed (another
         * broker, a rotated secret): later blocks start clean. */
        s->trouble.fatal = 0;
        return 0;
    }
    /* The cause first: ClickHouse shows only the start of a long error. */
    if (s->trouble.fatal)
        snprintf(err, errlen, "%s; pipeline '%s' topic '%s': %zu message(s) not delivered", s->trouble.fatal_reason,
                 s->pipeline, s->topic, s->pending);
    else /* librdkafka times every message out by message.timeout.ms: not expected */
        snprintf(err, errlen, "pipeline '%s' topic '%s': %zu message(s) without a delivery report after %d ms",
                 s->pipeline, s->topic, s->pending, s->wait_ms);
    return -1;
}

void sink_describe(const sink *s, rd_kafka_resp_err_t e, const char *context, char *out, size_t outlen) {
    const char *sep = context ? ": " : "";
    context = context ? context : "";
    /* A message that timed out waited for a broker: its last problem
     * (connection refused, unknown host) is the cause, so it comes first. */
    if ((e == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || e == RD_KAFKA_RESP_ERR__TIMED_OUT) && s->trouble.last[0])
        snprintf(out, outlen, "%s; %s%stopic '%s': %s", s->trouble.last, context, sep, s->topic,
                 rd_kafka_err2str(e));
    else if (s->trouble.fatal && e == (rd_kafka_resp_err_t)s->trouble.fatal)
        snprintf(out, outlen, "%s; %s%stopic '%s'", s->trouble.fatal_reason, context, sep, s->topic);
    else
        snprintf(out, outlen, "%s%stopic '%s': %s", context, sep, s->topic, rd_kafka_err2str(e));
}
