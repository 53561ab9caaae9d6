#include "kafkaconf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kafkaconf_limits_for(uint64_t budget, kafkaconf_limits *out, char *err, size_t errlen) {
    if (budget < KAFKACONF_MIN_BUDGET || budget > KAFKACONF_MAX_BUDGET) {
        snprintf(err, errlen, "memory budget %" PRIu64 " bytes is outside 4M..16G", budget);
        return -1;
    }
    uint64_t fetch = budget / 48;
    if (fetch < KAFKACONF_MIN_FETCH) fetch = KAFKACONF_MIN_FETCH;
    uint64_t queue = budget - 2 * fetch;
    out->fetch_max_bytes = fetch;
    out->partition_fetch_bytes = fetch < KAFKACONF_PARTITION_FETCH ? fetch : KAFKACONF_PARTITION_FETCH;
    out->queue_kbytes = queue / 2 / 1024;
    out->queue_messages = queue / KAFKACONF_MESSAGE_COST;
    return 0;
}

static int get_u64(const rd_kafka_conf_t *conf, const char *name, uint64_t *out, char *err, size_t errlen) {
    char text[32];
    size_t size = sizeof text;
    char *end;
    if (rd_kafka_conf_get(conf, name, text, &size) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "cannot read librdkafka property %s back", name);
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end) {
        snprintf(err, errlen, "librdkafka property %s is '%s', not a number", name, text);
        return -1;
    }
    *out = v;
    return 0;
}

int kafkaconf_queue_limits(const rd_kafka_conf_t *conf, uint64_t *messages, uint64_t *bytes, char *err,
                           size_t errlen) {
    uint64_t kbytes;
    if (get_u64(conf, "queued.min.messages", messages, err, errlen) ||
        get_u64(conf, "queued.max.messages.kbytes", &kbytes, err, errlen))
        return -1;
    *bytes = kbytes * 1024;
    return 0;
}

int kafkaconf_parse_size(const char *text, uint64_t *out, char *err, size_t errlen) {
    const char *p = text;
    if (*p < '0' || *p > '9') goto bad;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno) goto bad;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (shift && *end == 'i') end++;
    if (*end == 'B' && (shift || end[1] == '\0')) end++;
    if (*end) goto bad;
    if (v > (UINT64_MAX >> shift)) goto bad;
    *out = (uint64_t)v << shift;
    return 0;
bad:
    snprintf(err, errlen, "invalid size '%s' (expected a number with an optional K, M or G)", text);
    return -1;
}

int kafkaconf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                  size_t errlen) {
    char why[512];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "librdkafka property %s: %s", name, why);
        return -1;
    }
    return 0;
}

static int set_u64(rd_kafka_conf_t *conf, const char *name, uint64_t v, char *err,
                   size_t errlen) {
    char value[32];
    snprintf(value, sizeof value, "%" PRIu64, v);
    return kafkaconf_set(conf, name, value, err, errlen);
}

static int set_user(rd_kafka_conf_t *conf, const char *kv, char *err, size_t errlen) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(err, errlen, "librdkafka property '%s': expected name=value", kv);
        return -1;
    }
    char name[256];
    size_t n = (size_t)(eq - kv);
    if (n >= sizeof name) {
        snprintf(err, errlen, "librdkafka property name too long: %.40s...", kv);
        return -1;
    }
    memcpy(name, kv, n);
    name[n] = '\0';
    return kafkaconf_set(conf, name, eq + 1, err, errlen);
}

rd_kafka_conf_t *kafkaconf_new(kafkaconf_role role, const char *client_id, const char *brokers,
                               char *const *properties, size_t nproperties, uint64_t budget,
                               char *err, size_t errlen) {
    /* Offsets are never committed by librdkafka: the position of a run
     * comes from its caller.  librdkafka refuses assign() without a group
     * id, although with assign() the group is never joined. */
    static const char *const consumer_defaults[][2] = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "error"},
        {"log.connection.close", "false"},
        {"fetch.wait.max.ms", "100"},
        {"group.id", "kafka-bridge"},
        /* librdkafka's default too, and the Kafka engine's: said here so
         * that the stop offset (the last stable offset, see consumer.h)
         * does not move if that default ever changes. */
        {"isolation.level", "read_committed"},
    };
    static const char *const producer_defaults[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"log.connection.close", "false"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (kafkaconf_set(conf, "client.id", client_id, err, errlen)) goto bad;
    if (role == KAFKACONF_CONSUMER) {
        for (size_t i = 0; i < sizeof consumer_defaults / sizeof consumer_defaults[0]; i++)
            if (kafkaconf_set(conf, consumer_defaults[i][0], consumer_defaults[i][1], err, errlen))
                goto bad;
        kafkaconf_limits l;
        if (kafkaconf_limits_for(budget, &l, err, errlen) ||
            set_u64(conf, "queued.max.messages.kbytes", l.queue_kbytes, err, errlen) ||
            set_u64(conf, "queued.min.messages", l.queue_messages, err, errlen) ||
            set_u64(conf, "fetch.max.bytes", l.fetch_max_bytes, err, errlen) ||
            set_u64(conf, "max.partition.fetch.bytes", l.partition_fetch_bytes, err, errlen))
            goto bad;
    } else {
        for (size_t i = 0; i < sizeof producer_defaults / sizeof producer_defaults[0]; i++)
            if (kafkaconf_set(conf, producer_defaults[i][0], producer_defaults[i][1], err, errlen))
                goto bad;
    }
    if (brokers && kafkaconf_set(conf, "bootstrap.servers", brokers, err, errlen)) goto bad;
    for (size_t i = 0; i < nproperties; i++)
        if (set_user(conf, properties[i], err, errlen)) goto bad;
    if (role == KAFKACONF_PRODUCER) {
        /* A dead letter must be written once and acknowledged by every
         * replica whatever -X said: the source offset moves on only then. */
        if (kafkaconf_set(conf, "enable.idempotence", "true", err, errlen) ||
            kafkaconf_set(conf, "acks", "all", err, errlen))
            goto bad;
    }
    return conf;
bad:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

void kafkaconf_broker_reason(const char *reason, char *out, size_t outlen) {
    const char *p = reason;
    if (!strncmp(p, "[thrd:", 6)) {
        const char *end = strstr(p, "]: ");
        if (end) p = end + 3;
    }
    /* A broker name has no space and holds a '/' (host:port/id, after a
     * protocol:// for anything but PLAINTEXT). */
    const char *colon = strstr(p, ": ");
    size_t n = colon ? (size_t)(colon - p) : 0;
    if (n && memchr(p, '/', n) && !memchr(p, ' ', n)) {
        snprintf(out, outlen, "%s [%.*s]", colon + 2, (int)n, p);
        return;
    }
    snprintf(out, outlen, "%s", p);
}

int kafkaconf_fatal_broker_error(int code) {
    return code == RD_KAFKA_RESP_ERR__AUTHENTICATION || code == RD_KAFKA_RESP_ERR__SSL;
}

void kafkaconf_trouble_error(kafkaconf_trouble *t, int code, const char *reason) {
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && t->last[0]) return;
    kafkaconf_broker_reason(reason, t->last, sizeof t->last);
    if (kafkaconf_fatal_broker_error(code) && !t->fatal) {
        t->fatal = code;
        snprintf(t->fatal_reason, sizeof t->fatal_reason, "%s", t->last);
    }
}

void kafkaconf_trouble_log(kafkaconf_trouble *t, int level, const char *line) {
    if (level > 4) return; /* LOG_WARNING */
    kafkaconf_broker_reason(line, t->last, sizeof t->last);
}

int kafkaconf_consumer_only(const char *name) {
    static const char *const exact[] = {
        "group.id", "group.instance.id", "auto.offset.reset", "isolation.level", "enable.partition.eof",
        "check.crcs", "partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms",
        "max.poll.interval.ms", "max.partition.fetch.bytes", "auto.commit.interval.ms", "group.protocol.type",
        "coordinator.query.interval.ms",
    };
    static const char *const prefix[] = {"queued.", "fetch.", "enable.auto.", "offset.store.", "consume."};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (!strcmp(name, exact[i])) return 1;
    for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
        if (!strncmp(name, prefix[i], strlen(prefix[i]))) return 1;
    return 0;
}
