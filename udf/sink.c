#include "sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "options.h"

struct sink {
    char *pipeline;
    char *topic;
    rd_kafka_t *rk;
    int wait_ms;            /* message.timeout.ms plus a margin */
    size_t pending;         /* queued, report not yet seen */
    char last_error[256];   /* the last broker-level problem librdkafka told us */
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
    (void)rk, (void)code;
    sink *s = opaque;
    snprintf(s->last_error, sizeof s->last_error, "%s", reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
    /* Nothing goes to stderr while all is well: some ClickHouse settings
     * (stderr_reaction = 'throw') fail the query on any stderr output. */
    (void)facility;
    if (level > 4) return;
    sink *s = rd_kafka_opaque(rk);
    snprintf(s->last_error, sizeof s->last_error, "%s", line);
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *pipeline, char *err,
               size_t errlen) {
    char why[512];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        /* The value is left out: it may be a secret. */
        snprintf(err, errlen, "pipeline '%s': librdkafka property %s: %s", pipeline, name, why);
        return -1;
    }
    return 0;
}

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
    sink *s = calloc(1, sizeof *s);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!s) abort();
    s->pipeline = strdup(pipeline);
    s->topic = strdup(o.topic);
    /* Defaults a file may change, then the file, then what it may not. */
    static const char *const defaults[][2] = {
        {"client.id", "kafka-produce"},
        {"linger.ms", "5"},
        {"message.timeout.ms", "30000"},
        {"log.connection.close", "false"},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (set(conf, defaults[i][0], defaults[i][1], pipeline, err, errlen)) goto bad;
    if (o.brokers && set(conf, "bootstrap.servers", o.brokers, pipeline, err, errlen)) goto bad;
    for (size_t i = 0; i < o.nproperties; i++) {
        char name[256];
        const char *kv = o.properties[i], *eq = strchr(kv, '=');
        size_t n = (size_t)(eq - kv);
        if (n >= sizeof name) {
            snprintf(err, errlen, "pipeline '%s': librdkafka property name too long", pipeline);
            goto bad;
        }
        memcpy(name, kv, n);
        name[n] = '\0';
        /* Consumer settings in a shared pipeline file do not concern a
         * producer; librdkafka would warn about them on stderr. */
        if (!strcmp(name, "group.id") || !strncmp(name, "queued.", 7) || !strncmp(name, "fetch.", 6) ||
            !strncmp(name, "enable.auto", 11) || !strcmp(name, "auto.offset.reset") ||
            !strcmp(name, "isolation.level") || !strcmp(name, "enable.partition.eof"))
            continue;
        if (set(conf, name, eq + 1, pipeline, err, errlen)) goto bad;
    }
    if (set(conf, "enable.idempotence", "true", pipeline, err, errlen) ||
        set(conf, "acks", "all", pipeline, err, errlen))
        goto bad;
    char timeout[32];
    size_t tlen = sizeof timeout;
    if (rd_kafka_conf_get(conf, "message.timeout.ms", timeout, &tlen) != RD_KAFKA_CONF_OK) goto bad;
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
    rd_kafka_conf_destroy(conf);
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
                                  RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_HEADERS(headers),
                                  RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
        else
            e = rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(s->topic), RD_KAFKA_V_KEY(key, keylen),
                                  RD_KAFKA_V_VALUE((void *)value, valuelen),
                                  RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_OPAQUE(slot),
                                  RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* The local queue is full: serve delivery reports to make room,
             * which is the only back-pressure a block needs. */
            rd_kafka_poll(s->rk, 100);
            continue;
        }
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
    while (s->pending && now_ms() < deadline) rd_kafka_flush(s->rk, 200);
    if (!s->pending) return 0;
    /* librdkafka times every message out by message.timeout.ms, so this is
     * reached only if it breaks that promise. */
    snprintf(err, errlen, "pipeline '%s' topic '%s': %zu message(s) without a delivery report after %d ms",
             s->pipeline, s->topic, s->pending, s->wait_ms);
    return -1;
}

void sink_describe(const sink *s, rd_kafka_resp_err_t e, char *out, size_t outlen) {
    if ((e == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || e == RD_KAFKA_RESP_ERR__TIMED_OUT) && s->last_error[0])
        snprintf(out, outlen, "topic '%s': %s (last broker error: %s)", s->topic, rd_kafka_err2str(e),
                 s->last_error);
    else
        snprintf(out, outlen, "topic '%s': %s", s->topic, rd_kafka_err2str(e));
}
