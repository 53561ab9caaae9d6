/*
 * sink.h - one pipeline's topic, written by an idempotent producer.
 *
 * The destination (brokers, topic, credentials and any librdkafka
 * property) comes from the admin's pipeline file, and only from a file
 * that says `allow-produce = true`: the query names the pipeline and
 * nothing else, so a SQL user can write only where the admin allowed.
 *
 * Messages are queued with sink_send() and confirmed by sink_wait(): every
 * queued message then has its delivery report in its result slot.  The
 * producer always has enable.idempotence = true and acks = all (set after
 * the file's properties, so a file cannot weaken them): librdkafka retries
 * without duplicating or reordering within a partition, and a reported
 * offset is one every in-sync replica has.
 */
#ifndef KB_SINK_H
#define KB_SINK_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sink sink;

typedef struct sink_result {
    int32_t partition;        /* -1 until delivered */
    int64_t offset;           /* -1 until delivered */
    rd_kafka_resp_err_t err;
    int done;                 /* the delivery report arrived */
} sink_result;

int sink_open(sink **out, const char *argv0, const char *pipeline, char *err, size_t errlen);
void sink_close(sink *s);

const char *sink_pipeline(const sink *s);
const char *sink_topic(const sink *s);

/* Queues one message; key or value NULL for none (a NULL value is a
 * tombstone).  Key and value are copied, so a caller can produce each
 * row as it reads it.  `headers` is taken over on success only.
 * The result lands in *slot by sink_wait().  Returns the error of a
 * message refused at once, else 0. */
rd_kafka_resp_err_t sink_send(sink *s, const void *key, size_t keylen, const void *value, size_t valuelen,
                              rd_kafka_headers_t *headers, sink_result *slot);

/* Waits for the delivery report of every message queued so far.  Fails
 * at once when the broker refused the credentials or certificate (or the
 * idempotent producer failed for good), with the broker's reason first;
 * else if some are still missing after message.timeout.ms plus a margin.
 * The producer may then still write into their slots, so the caller must
 * not go on (it exits). */
int sink_wait(sink *s, char *err, size_t errlen);

/* The error text for a result, with `context` (NULL for none, else e.g.
 * "pipeline 'p' block 2 row 7") before the topic: librdkafka's reason, and
 * for a message that timed out the last broker-level problem first, since
 * ClickHouse shows only the start of a long message. */
void sink_describe(const sink *s, rd_kafka_resp_err_t e, const char *context, char *out, size_t outlen);

#endif
