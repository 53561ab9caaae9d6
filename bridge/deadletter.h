/*
 * deadletter.h - messages that cannot become rows, copied to another topic.
 *
 * The copy keeps the original key, value and headers, and adds headers
 * saying what went wrong and where it came from:
 *     kafka-bridge.error      the reason, naming the column
 *     kafka-bridge.topic      source topic
 *     kafka-bridge.partition  source partition (decimal)
 *     kafka-bridge.offset     source offset (decimal)
 *     kafka-bridge.time       when it was dead-lettered, ms since the epoch
 * dead_letter_send() returns only once the broker has acknowledged the copy
 * (acks=all, idempotent producer), so a run never moves past a message that
 * is not safely stored somewhere.
 */
#ifndef KB_DEADLETTER_H
#define KB_DEADLETTER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

typedef struct dead_letter dead_letter;

/* `properties` are "name=value" librdkafka properties (security settings
 * apply to the producer too). */
int dead_letter_open(dead_letter **out, const char *brokers, char *const *properties,
                     size_t nproperties, const char *topic, int timeout_ms, char *err,
                     size_t errlen);
void dead_letter_close(dead_letter *d);

int dead_letter_send(dead_letter *d, const rd_kafka_message_t *m, const char *source_topic,
                     const char *reason, char *err, size_t errlen);

#endif
