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
 *
 * Copies are produced asynchronously in Kafka transactions (acks=all,
 * idempotent, transactional.id from the run's source, see
 * dead_letter_open): dead_letter_send() only queues.  dead_letter_commit()
 * waits for every copy queued since the last commit and commits them, and
 * fails unless the broker acknowledged each one.  The run commits before it
 * writes any row standing for a copy (each output flush), so a row that
 * ClickHouse may store never stands for a copy that was not made, even when
 * ClickHouse keeps the rows of a run killed with kill -9.  Copies not yet
 * committed when a run dies stay in an open transaction, which the next run
 * with the same transactional.id aborts: consumers that read committed
 * messages only (librdkafka's default) never see them.
 *
 * The other way round, a copy committed whose row ClickHouse never stored
 * (the run killed between the commit and the write, or the INSERT failing
 * afterwards), would be copied again by the next run, which reads the
 * message again.  So each transaction also commits marks: for each source
 * partition, the offset after its last copy, as the committed offset of a
 * consumer group named like the transactional.id (no consumer joins it).
 * Marks and copies are committed together or not at all, and a run reads
 * the marks when it opens the producer: a message below its partition's
 * mark was copied by an earlier run and is not copied again.  Each bad
 * message is therefore in the topic once, however its runs end.
 */
#ifndef KB_DEADLETTER_H
#define KB_DEADLETTER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dead_letter dead_letter;

/* `properties` are "name=value" librdkafka properties (security settings
 * apply to the producer too).  `txn_id` names the run's source (one id per
 * source the runs of which never overlap): a new run fences and aborts the
 * transaction an earlier one left open.  It is also the group of the marks,
 * read here for `source_topic`. */
int dead_letter_open(dead_letter **out, const char *brokers, char *const *properties,
                     size_t nproperties, const char *topic, const char *source_topic,
                     const char *txn_id, int timeout_ms, char *err, size_t errlen);
/* Aborts what was not committed. */
void dead_letter_close(dead_letter *d);

/* Queues a copy of m; returns 0.  Returns 1 without copying when an
 * earlier run's committed copies reach past m (it is in the topic
 * already), and -1 with err filled when an earlier copy was refused by the
 * broker, or this one cannot be queued. */
int dead_letter_send(dead_letter *d, const rd_kafka_message_t *m, const char *source_topic,
                     const char *reason, char *err, size_t errlen);

/* Serves delivery reports without waiting; call it now and then during a
 * long run.  -1 with err filled once a copy was refused. */
int dead_letter_poll(dead_letter *d, char *err, size_t errlen);

/* Waits for every copy queued since the last commit to be acknowledged
 * and commits them; a no-op when there are none.  -1 with err filled
 * (naming the first copy that failed, or the first one of the transaction
 * when the commit failed) otherwise. */
int dead_letter_commit(dead_letter *d, char *err, size_t errlen);

/* How many messages dead_letter_send() found copied by an earlier run. */
uint64_t dead_letter_copied_before(const dead_letter *d);

#endif
