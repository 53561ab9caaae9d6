/*
 * The consumer against librdkafka's mock cluster: a prefetch queue far
 * smaller than the topic fills and drains many times, and every message
 * must still come out once, in order, with the fetches restarted by the
 * consumer rather than by librdkafka's one-second retry.  The mock cluster
 * stands in for a broker only here; end-to-end tests use a real one.
 */
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "suites.h"

#define PARTITIONS 4
#define PER_PARTITION 3000

typedef struct mock_topic {
    rd_kafka_t *host; /* the producer that hosts the mock cluster */
    char brokers[256];
} mock_topic;

/* Creates a mock cluster holding `topic` with PER_PARTITION messages of
 * `size` bytes in each of PARTITIONS partitions. */
static void mock_topic_fill(mock_topic *m, const char *topic, size_t size) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert_int_eq(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err, sizeof err), RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err), RD_KAFKA_CONF_OK);
    /* A fetch returns whole record batches: small ones keep the
     * responses small. */
    ck_assert_int_eq(rd_kafka_conf_set(conf, "batch.num.messages", "50", err, sizeof err), RD_KAFKA_CONF_OK);
    m->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ck_assert_msg(m->host != NULL, "%s", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(m->host);
    ck_assert_ptr_nonnull(mc);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mc, topic, PARTITIONS, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    snprintf(m->brokers, sizeof m->brokers, "%s", rd_kafka_mock_cluster_bootstraps(mc));

    char *payload = malloc(size);
    ck_assert_ptr_nonnull(payload);
    for (int32_t p = 0; p < PARTITIONS; p++)
        for (int i = 0; i < PER_PARTITION; i++) {
            memset(payload, 'a' + (i % 26), size);
            int n = snprintf(payload, size, "%" PRId32 ":%d;", p, i);
            ck_assert_int_lt(n, (int)size);
            rd_kafka_resp_err_t e;
            while ((e = rd_kafka_producev(m->host, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                                          RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                          RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(m->host, 10);
            ck_assert_int_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR);
        }
    free(payload);
    ck_assert_int_eq(rd_kafka_flush(m->host, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Reads the whole topic through a consumer with the given -X properties
 * and checks that each message comes once, in order; returns how many
 * times the consumer restarted the fetches. */
static uint64_t read_all(const mock_topic *m, const char *topic, char *const *props, size_t nprops) {
    consumer_config cfg = {
        .brokers = m->brokers,
        .topic = topic,
        .default_start = {OFFSET_BEGINNING, 0},
        .properties = props,
        .nproperties = nprops,
        .timeout_ms = 30000,
    };
    consumer *c;
    char err[1024];
    ck_assert_msg(consumer_open(&c, &cfg, err, sizeof err) == 0, "%s", err);
    int64_t next[PARTITIONS] = {0};
    rd_kafka_message_t *msgs[256];
    uint64_t total = 0;
    /* A bound on polls, not on time: a stalled consumer fails the test
     * instead of hanging it, however slow the machine. */
    for (int polls = 0; !consumer_done(c) && polls < 100000; polls++) {
        size_t n;
        ck_assert_msg(consumer_poll(c, msgs, 256, 100, &n, err, sizeof err) == 0, "%s", err);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_message_t *msg = msgs[i];
            ck_assert_int_ge(msg->partition, 0);
            ck_assert_int_lt(msg->partition, PARTITIONS);
            ck_assert_int_eq(msg->offset, next[msg->partition]);
            char want[32];
            int len = snprintf(want, sizeof want, "%" PRId32 ":%" PRId64 ";", msg->partition, msg->offset);
            ck_assert_uint_ge(msg->len, (size_t)len);
            ck_assert_int_eq(memcmp(msg->payload, want, (size_t)len), 0);
            next[msg->partition]++;
            total++;
            rd_kafka_message_destroy(msg);
        }
    }
    ck_assert_msg(consumer_done(c), "the consumer stalled after %" PRIu64 " messages", total);
    for (int p = 0; p < PARTITIONS; p++) ck_assert_int_eq(next[p], PER_PARTITION);
    uint64_t refills = consumer_refills(c);
    consumer_close(c);
    return refills;
}

START_TEST(queue_full_by_count_many_times) {
    mock_topic m;
    mock_topic_fill(&m, "by-count", 40);
    /* Small responses, so that the topic does not arrive in one round. */
    char *props[] = {"queued.min.messages=600", "max.partition.fetch.bytes=2048", "log_level=0"};
    uint64_t refills = read_all(&m, "by-count", props, 3);
    /* 12,000 messages through a 600-message queue: it must have filled
     * and been restarted, over and over. */
    ck_assert_uint_ge(refills, 5);
    rd_kafka_destroy(m.host);
}
END_TEST

START_TEST(queue_full_by_bytes_many_times) {
    mock_topic m;
    mock_topic_fill(&m, "by-bytes", 1000);
    /* The count limit out of reach: only the estimated bytes can tell.
     * The queue holds about 500 messages, more than the batch of 256 the
     * test asks for: a queue smaller than a batch makes each poll wait
     * out its timeout (consumer.h). */
    char *props[] = {"queued.min.messages=10000000", "queued.max.messages.kbytes=512",
                     "max.partition.fetch.bytes=16384", "log_level=0"};
    uint64_t refills = read_all(&m, "by-bytes", props, 4);
    ck_assert_uint_ge(refills, 5);
    rd_kafka_destroy(m.host);
}
END_TEST

Suite *consumer_suite(void) {
    Suite *s = suite_create("consumer");
    TCase *tc = tcase_create("refill");
    tcase_add_test(tc, queue_full_by_count_many_times);
    tcase_add_test(tc, queue_full_by_bytes_many_times);
    suite_add_tcase(s, tc);
    return s;
}
