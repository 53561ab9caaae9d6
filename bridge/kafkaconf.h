/*
 * kafkaconf.h - the one place where librdkafka configurations are made.
 *
 * The bridge's consumer, its dead-letter producer and the benchmark's floor
 * program (scripts/bench-floor.c) all build their rd_kafka_conf_t here, so
 * the floor measures the same consumer and every property set is checked.
 *
 * The memory budget.  librdkafka 2.0 (Debian 12) stops fetching a partition
 * once the queue its messages go to holds queued.max.messages.kbytes, and
 * by itself looks again only about a second later (the consumer restarts
 * it sooner: bridge/consumer.c, restart_fetches()).  With assign() and one
 * consumer queue every partition's fetch queue is forwarded to that queue, and
 * the limit is checked against the forwarded queue: it is a limit on the
 * total, not per partition.  A budget is therefore applied whole, never
 * divided by the partition count.
 *
 * What librdkafka counts is not what it holds: queued.max.messages.kbytes
 * counts payload bytes only, while each queued message also costs its op
 * and message structures (measured: 1M 117-byte messages, RSS grows by
 * about 440 bytes per queued message, so some 320 beyond the payload).
 * The limit is checked before a fetch, so the queue overshoots it by one
 * fetch response, decompressed.  fetch.max.bytes and
 * max.partition.fetch.bytes count compressed bytes on the wire: a 1 MiB
 * response of well-compressing JSON (lz4, 25:1 measured on the benchmark's
 * 10 KB messages) is 25 MB in the queue, which alone passed a 48M budget's
 * limit, so every fetch of a one-partition topic waited out the second.
 * Responses are therefore kept small, and a budget B is split as
 *     fetch.max.bytes            = max(B / 48, 1000000)
 *     max.partition.fetch.bytes  = min(256 KiB, fetch.max.bytes)
 *     Q                          = B - 2 * fetch.max.bytes
 *     queued.max.messages.kbytes = Q / 2 / 1024     (payload: half of Q)
 *     queued.min.messages        = Q / 512          (bookkeeping: the rest)
 * and whichever queue limit binds first keeps the queue within Q, plus one
 * response times its compression ratio.  The floor of fetch.max.bytes is
 * librdkafka's: it refuses one below message.max.bytes (1000000).
 * Messages a caller has taken from the queue are no longer counted, so
 * the bridge takes them in small batches (bridge/main.c).
 * A property given with -X wins over the value the budget gives it.
 */
#ifndef KB_KAFKACONF_H
#define KB_KAFKACONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* 48 MiB: the bridge's peak RSS then stays under 64 MiB on the benchmark
 * shapes (see README, "Memory"). */
#define KAFKACONF_DEFAULT_BUDGET ((uint64_t)48 << 20)
#define KAFKACONF_MESSAGE_COST 512 /* bytes of the queue per message; see above */
#define KAFKACONF_MIN_BUDGET ((uint64_t)4 << 20)
#define KAFKACONF_MIN_FETCH 1000000                    /* message.max.bytes' default */
#define KAFKACONF_PARTITION_FETCH ((uint64_t)256 << 10) /* see above */
#define KAFKACONF_MAX_BUDGET ((uint64_t)16 << 30)

typedef enum kafkaconf_role { KAFKACONF_CONSUMER, KAFKACONF_PRODUCER } kafkaconf_role;

typedef struct kafkaconf_limits {
    uint64_t queue_kbytes;          /* queued.max.messages.kbytes */
    uint64_t queue_messages;        /* queued.min.messages */
    uint64_t fetch_max_bytes;       /* fetch.max.bytes */
    uint64_t partition_fetch_bytes; /* max.partition.fetch.bytes */
} kafkaconf_limits;

/* The limits a budget in bytes becomes; -1 with err filled when the budget
 * is outside [KAFKACONF_MIN_BUDGET, KAFKACONF_MAX_BUDGET]. */
int kafkaconf_limits_for(uint64_t budget, kafkaconf_limits *out, char *err, size_t errlen);

/* Parses a size: a whole number with an optional K, M or G suffix (powers
 * of 1024; "KiB", "MB" and the like are accepted too). */
int kafkaconf_parse_size(const char *text, uint64_t *out, char *err, size_t errlen);

/* The consumer queue's limits as a finished configuration holds them
 * (the budget's, or what a property set): queued.min.messages into
 * *messages, queued.max.messages.kbytes in bytes into *bytes. */
int kafkaconf_queue_limits(const rd_kafka_conf_t *conf, uint64_t *messages, uint64_t *bytes, char *err,
                           size_t errlen);

/* rd_kafka_conf_set(), with librdkafka's reason in err on failure. */
int kafkaconf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                  size_t errlen);

/* A new configuration for `role`: the project's defaults, then
 * bootstrap.servers (when brokers is not NULL), then for a consumer the
 * limits of `budget`, then the "name=value" properties in order.  Returns
 * NULL with err filled when any of them is refused. */
rd_kafka_conf_t *kafkaconf_new(kafkaconf_role role, const char *client_id, const char *brokers,
                               char *const *properties, size_t nproperties, uint64_t budget,
                               char *err, size_t errlen);

/* librdkafka words a broker's failure as "[thrd:NAME]: NAME: what (after
 * 3ms in state X)".  ClickHouse shows only the first 160 or so characters of
 * an error, which the thread and broker names would fill: this writes
 * "what (after ...) [NAME]" instead, the cause first.  Text of any other
 * shape is copied as it is. */
void kafkaconf_broker_reason(const char *reason, char *out, size_t outlen);

/* Whether a broker error `code` (an rd_kafka_resp_err_t from the error
 * callback) will not heal by retrying: credentials the broker refused, a
 * certificate that does not verify.  A wait for metadata ends at once on
 * one instead of retrying until its timeout. */
int kafkaconf_fatal_broker_error(int code);

/* What librdkafka's error and log callbacks said, kept for the one error
 * line a failure ends with (stderr belongs to ClickHouse's pipe).  Fed
 * from those callbacks by every client: the consumer, the produce UDF,
 * --inspect. */
typedef struct kafkaconf_trouble {
    char last[256];         /* the last problem, cause first */
    int fatal;              /* the first code kafkaconf_fatal_broker_error() names, or 0 */
    char fatal_reason[256]; /* its text, kept when later problems follow */
} kafkaconf_trouble;

/* An error callback's code and reason.  "N/N brokers are down" does not
 * replace a broker's own failure, which says why. */
void kafkaconf_trouble_error(kafkaconf_trouble *t, int code, const char *reason);

/* A log callback's line; lines above warning level are ignored. */
void kafkaconf_trouble_log(kafkaconf_trouble *t, int level, const char *line);

/* Whether `name` is a property only a consumer reads.  A pipeline file
 * serves both directions; a producer given these would log that it
 * ignores them, and that line would pass for a broker's problem. */
int kafkaconf_consumer_only(const char *name);

#endif
