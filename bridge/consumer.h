/*
 * consumer.h - a bounded read of one topic with librdkafka.
 *
 * The partitions are assigned directly: no consumer group is joined, so
 * there is no rebalance and the first messages arrive within a fetch round
 * trip.  When the run starts, each partition's end offset is read and
 * becomes the stop position, so a run is a bounded batch even while
 * producers keep writing.  The end offset is the one librdkafka's offset
 * look-up gives for the configured isolation.level: the last stable
 * offset under read_committed (the default), the high watermark under
 * read_uncommitted.  A partition is done when a message at or past its
 * stop arrives, its consumer position reaches the stop (past transaction
 * markers, which take offsets but are never delivered), or its EOF.
 *
 * Errors follow librdkafka's convention: a return code, and the caller's
 * buffer filled with one line that names the topic and partition.
 */
#ifndef KB_CONSUMER_H
#define KB_CONSUMER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef enum offset_kind {
    OFFSET_BEGINNING,  /* the log start */
    OFFSET_END,        /* the end when the run starts: nothing to read */
    OFFSET_ABSOLUTE,   /* value is an offset */
    OFFSET_FROM_END,   /* value messages before the end */
    OFFSET_TIMESTAMP   /* value is a time in ms: first message at or after */
} offset_kind;

typedef struct offset_spec {
    offset_kind kind;
    int64_t value;
} offset_spec;

/* Parses beginning|earliest, end|latest, N, -N, s@MS. */
int offset_spec_parse(const char *text, offset_spec *out, char *err, size_t errlen);

/* What to do with a start offset outside the partition's log: below its
 * start (deleted by retention) or past its end (the topic was recreated). */
typedef enum out_of_range_policy {
    OUT_OF_RANGE_FAIL,
    OUT_OF_RANGE_EARLIEST,
    OUT_OF_RANGE_LATEST
} out_of_range_policy;

typedef struct partition_start {
    int32_t partition;
    offset_spec start;
} partition_start;

typedef struct consumer_config {
    const char *brokers;
    const char *topic;
    const int32_t *partitions;   /* NULL: every partition of the topic */
    size_t npartitions;
    offset_spec default_start;
    const partition_start *starts; /* per-partition overrides, sorted by partition */
    size_t nstarts;
    char *const *properties;     /* "name=value" librdkafka properties */
    size_t nproperties;
    int timeout_ms;              /* for metadata and offset look-ups */
    out_of_range_policy out_of_range;
    int shard_index, shard_count; /* shard_count 0: no sharding */
    const char *commit_group;    /* commit the start positions to this group */
    uint64_t memory_budget;      /* bytes librdkafka may buffer; 0: the default
                                  * (see kafkaconf.h) */
} consumer_config;

typedef struct consumer consumer;

int consumer_open(consumer **out, const consumer_config *cfg, char *err, size_t errlen);
void consumer_close(consumer *c);

/* Fetches up to `max` messages, waiting at most timeout_ms for all of
 * them (a queue limited below `max` messages makes each poll wait its
 * whole timeout).  Messages at or past a partition's stop offset are
 * dropped here.  *n is set to the number
 * returned; the caller destroys each with rd_kafka_message_destroy().
 * Returns -1 with err filled on an error that ends the run. */
int consumer_poll(consumer *c, rd_kafka_message_t **msgs, size_t max, int timeout_ms, size_t *n,
                  char *err, size_t errlen);

/* The assigned partitions as resolved at start: log start and end (the
 * stop offset) and where this run starts. */
size_t consumer_partition_count(const consumer *c);
void consumer_partition_info(const consumer *c, size_t i, int32_t *partition, int64_t *low,
                             int64_t *high, int64_t *start);

/* How many times the fetches were restarted after the prefetch queue had
 * come near its limit (consumer.c, restart_fetches()). */
uint64_t consumer_refills(const consumer *c);

/* True when every partition has reached its stop offset. */
int consumer_done(const consumer *c);

/* Commits each assigned partition's next offset to the commit group (the
 * stop offsets after a completed run).  No-op without a commit group. */
int consumer_commit_positions(consumer *c, char *err, size_t errlen);

/* Lines worth telling the user although the run goes on (an offset that
 * was out of range and moved by policy), or "" when there are none. */
const char *consumer_notes(const consumer *c);

/* Describes the partitions not yet finished, with their positions, and the
 * last error librdkafka reported, for an error message. */
void consumer_describe_pending(const consumer *c, char *out, size_t outlen);

#endif
