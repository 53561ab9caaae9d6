#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafkaconf.h"
#include "options.h"
#include "suites.h"

static void expect_prop(rd_kafka_conf_t *conf, const char *name, const char *want) {
    char v[128];
    size_t n = sizeof v;
    ck_assert_int_eq(rd_kafka_conf_get(conf, name, v, &n), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, want);
}

START_TEST(budget_is_a_total_split_by_cost) {
    kafkaconf_limits l;
    char err[256];
    ck_assert_int_eq(kafkaconf_limits_for((uint64_t)48 << 20, &l, err, sizeof err), 0);
    ck_assert_uint_eq(l.fetch_max_bytes, (uint64_t)1 << 20);
    ck_assert_uint_eq(l.partition_fetch_bytes, (uint64_t)256 << 10);
    ck_assert_uint_eq(l.queue_kbytes, (uint64_t)46 << 20 >> 11);
    ck_assert_uint_eq(l.queue_messages, ((uint64_t)46 << 20) / KAFKACONF_MESSAGE_COST);
    /* librdkafka refuses a fetch.max.bytes below message.max.bytes. */
    ck_assert_int_eq(kafkaconf_limits_for(KAFKACONF_MIN_BUDGET, &l, err, sizeof err), 0);
    ck_assert_uint_ge(l.fetch_max_bytes, 1000000);
    /* What the queue may hold, payload plus bookkeeping, never exceeds
     * what is left of the budget after the fetch buffers. */
    for (uint64_t b = KAFKACONF_MIN_BUDGET; b <= KAFKACONF_MAX_BUDGET; b *= 3) {
        ck_assert_int_eq(kafkaconf_limits_for(b, &l, err, sizeof err), 0);
        ck_assert_uint_le(l.queue_kbytes * 1024 * 2 + 2 * l.fetch_max_bytes, b);
        ck_assert_uint_le(l.partition_fetch_bytes, l.fetch_max_bytes);
        ck_assert_uint_gt(l.queue_messages, 0);
    }
    ck_assert_int_eq(kafkaconf_limits_for(1000, &l, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "1000 bytes"));
}
END_TEST

START_TEST(sizes) {
    uint64_t v;
    char err[256];
    ck_assert_int_eq(kafkaconf_parse_size("48M", &v, err, sizeof err), 0);
    ck_assert_uint_eq(v, (uint64_t)48 << 20);
    ck_assert_int_eq(kafkaconf_parse_size("2GiB", &v, err, sizeof err), 0);
    ck_assert_uint_eq(v, (uint64_t)2 << 30);
    ck_assert_int_eq(kafkaconf_parse_size("512kB", &v, err, sizeof err), 0);
    ck_assert_uint_eq(v, 512 * 1024);
    ck_assert_int_eq(kafkaconf_parse_size("1048576", &v, err, sizeof err), 0);
    ck_assert_uint_eq(v, 1048576);
    const char *bad[] = {"", "M", "-1M", "12X", "1M2", "99999999999999999999", "17179869184G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(kafkaconf_parse_size(bad[i], &v, err, sizeof err), -1);
        ck_assert_ptr_nonnull(strstr(err, "invalid size"));
    }
}
END_TEST

START_TEST(consumer_conf_budget_then_properties) {
    char err[256];
    char *props[] = {"queued.max.messages.kbytes=2048", "client.id=mine"};
    rd_kafka_conf_t *conf = kafkaconf_new(KAFKACONF_CONSUMER, "kafka-bridge", "127.0.0.1:1", props,
                                          2, (uint64_t)64 << 20, err, sizeof err);
    ck_assert_ptr_nonnull(conf);
    expect_prop(conf, "queued.max.messages.kbytes", "2048"); /* -X wins */
    expect_prop(conf, "fetch.max.bytes", "1398101");           /* the budget's */
    expect_prop(conf, "queued.min.messages", "125610");
    expect_prop(conf, "client.id", "mine");
    expect_prop(conf, "enable.auto.commit", "false");
    expect_prop(conf, "bootstrap.servers", "127.0.0.1:1");
    rd_kafka_conf_destroy(conf);
    /* Small budgets once gave a fetch.max.bytes librdkafka refused. */
    for (uint64_t b = KAFKACONF_MIN_BUDGET; b <= (uint64_t)64 << 20; b *= 2) {
        conf = kafkaconf_new(KAFKACONF_CONSUMER, "kb", NULL, NULL, 0, b, err, sizeof err);
        ck_assert_msg(conf != NULL, "budget %llu: %s", (unsigned long long)b, err);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
        ck_assert_msg(rk != NULL, "budget %llu: %s", (unsigned long long)b, err);
        rd_kafka_destroy(rk);
    }
}
END_TEST

START_TEST(queue_limits_read_back) {
    char err[512];
    kafkaconf_limits l;
    ck_assert_int_eq(kafkaconf_limits_for((uint64_t)48 << 20, &l, err, sizeof err), 0);
    rd_kafka_conf_t *conf = kafkaconf_new(KAFKACONF_CONSUMER, "kb", NULL, NULL, 0, (uint64_t)48 << 20, err, sizeof err);
    ck_assert_ptr_nonnull(conf);
    uint64_t messages, bytes;
    ck_assert_int_eq(kafkaconf_queue_limits(conf, &messages, &bytes, err, sizeof err), 0);
    ck_assert_uint_eq(messages, l.queue_messages);
    ck_assert_uint_eq(bytes, l.queue_kbytes * 1024);
    rd_kafka_conf_destroy(conf);
    /* A property given wins over the budget, and is what is read back. */
    char *props[] = {"queued.min.messages=123", "queued.max.messages.kbytes=77"};
    conf = kafkaconf_new(KAFKACONF_CONSUMER, "kb", NULL, props, 2, (uint64_t)48 << 20, err, sizeof err);
    ck_assert_ptr_nonnull(conf);
    ck_assert_int_eq(kafkaconf_queue_limits(conf, &messages, &bytes, err, sizeof err), 0);
    ck_assert_uint_eq(messages, 123);
    ck_assert_uint_eq(bytes, 77 * 1024);
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(every_property_is_checked) {
    char err[256];
    char *unknown[] = {"no.such.property=1"};
    ck_assert_ptr_null(kafkaconf_new(KAFKACONF_CONSUMER, "kb", NULL, unknown, 1,
                                     KAFKACONF_DEFAULT_BUDGET, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "no.such.property"));
    char *badval[] = {"fetch.wait.max.ms=soon"};
    ck_assert_ptr_null(kafkaconf_new(KAFKACONF_PRODUCER, "kb", NULL, badval, 1, 0, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "fetch.wait.max.ms"));
    char *noeq[] = {"acks"};
    ck_assert_ptr_null(kafkaconf_new(KAFKACONF_PRODUCER, "kb", NULL, noeq, 1, 0, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "expected name=value"));
    ck_assert_ptr_null(kafkaconf_new(KAFKACONF_CONSUMER, "kb", NULL, NULL, 0, 10, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "memory budget"));
}
END_TEST

START_TEST(producer_keeps_its_guarantees) {
    char err[256];
    char *props[] = {"acks=0", "enable.idempotence=false", "group.id=g"};
    rd_kafka_conf_t *conf = kafkaconf_new(KAFKACONF_PRODUCER, "kafka-bridge", NULL, props, 3, 0, err,
                                          sizeof err);
    ck_assert_ptr_nonnull(conf);
    expect_prop(conf, "acks", "-1");
    expect_prop(conf, "enable.idempotence", "true");
    rd_kafka_conf_destroy(conf);
}
END_TEST

START_TEST(memory_budget_option) {
    /* The budget is the admin's: a pipeline key, refused from the query. */
    bridge_options o;
    char err[256], dir[] = "/tmp/kb-budget-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("KAFKA_BRIDGE_PIPELINES", dir, 1);
    static const struct { const char *name, *text; } files[] = {
        {"ok", "brokers = h:1\ntopic = t\ncolumns = a UInt8\nmemory-budget = 256M\n"},
        {"bad", "brokers = h:1\ntopic = t\ncolumns = a UInt8\nmemory-budget = 100\n"},
    };
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.conf", dir, files[i].name);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(files[i].text, f);
        fclose(f);
    }
    char *ok[] = {"kafka-bridge", "--pipeline", "ok"};
    ck_assert_int_eq(options_parse(&o, 3, ok, err, sizeof err), OPTIONS_RUN);
    ck_assert_uint_eq(o.memory_budget, (uint64_t)256 << 20);
    options_free(&o);
    char *bad[] = {"kafka-bridge", "--pipeline", "bad"};
    ck_assert_int_eq(options_parse(&o, 3, bad, err, sizeof err), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "memory-budget"));
    options_free(&o);
    char *from_query[] = {"kafka-bridge", "--pipeline", "ok", "--memory-budget", "1G"};
    ck_assert_int_eq(options_parse(&o, 5, from_query, err, sizeof err), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "--memory-budget"));
    options_free(&o);
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.conf", dir, files[i].name);
        unlink(path);
    }
    rmdir(dir);
    unsetenv("KAFKA_BRIDGE_PIPELINES");
}
END_TEST

START_TEST(broker_reason_puts_the_cause_first) {
    char out[300];
    kafkaconf_broker_reason("[thrd:sasl_plaintext://127.0.0.1:24047/bootstrap]: sasl_plaintext://127.0.0.1:24047/bootstrap: "
                            "SASL authentication error: Authentication failed: Invalid username or password "
                            "(after 304ms in state AUTH_REQ)",
                            out, sizeof out);
    ck_assert_str_eq(out, "SASL authentication error: Authentication failed: Invalid username or password "
                          "(after 304ms in state AUTH_REQ) [sasl_plaintext://127.0.0.1:24047/bootstrap]");
    kafkaconf_broker_reason("127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection refused", out,
                            sizeof out);
    ck_assert_str_eq(out, "Connect to ipv4#127.0.0.1:9 failed: Connection refused [127.0.0.1:9/bootstrap]");
    kafkaconf_broker_reason("1/1 brokers are down", out, sizeof out);
    ck_assert_str_eq(out, "1/1 brokers are down");
    kafkaconf_broker_reason("Local: something: else", out, sizeof out);
    ck_assert_str_eq(out, "Local: something: else");
    kafkaconf_broker_reason("", out, sizeof out);
    ck_assert_str_eq(out, "");
    ck_assert(kafkaconf_fatal_broker_error(RD_KAFKA_RESP_ERR__AUTHENTICATION));
    ck_assert(kafkaconf_fatal_broker_error(RD_KAFKA_RESP_ERR__SSL));
    ck_assert(!kafkaconf_fatal_broker_error(RD_KAFKA_RESP_ERR__TRANSPORT));
}
END_TEST

START_TEST(trouble_keeps_the_cause_and_the_first_refusal) {
    kafkaconf_trouble t;
    memset(&t, 0, sizeof t);
    kafkaconf_trouble_error(&t, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down");
    ck_assert_str_eq(t.last, "1/1 brokers are down"); /* nothing better known yet */
    kafkaconf_trouble_error(&t, RD_KAFKA_RESP_ERR__TRANSPORT,
                            "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection refused");
    kafkaconf_trouble_error(&t, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down");
    ck_assert_str_eq(t.last, "Connect to ipv4#127.0.0.1:9 failed: Connection refused [127.0.0.1:9/bootstrap]");
    ck_assert_int_eq(t.fatal, 0);
    kafkaconf_trouble_error(&t, RD_KAFKA_RESP_ERR__AUTHENTICATION, "b:1/0: SASL authentication error: no");
    kafkaconf_trouble_error(&t, RD_KAFKA_RESP_ERR__SSL, "b:1/0: SSL handshake failed");
    ck_assert_int_eq(t.fatal, RD_KAFKA_RESP_ERR__AUTHENTICATION);
    ck_assert_str_eq(t.fatal_reason, "SASL authentication error: no [b:1/0]");
    ck_assert_str_eq(t.last, "SSL handshake failed [b:1/0]");
    kafkaconf_trouble_log(&t, 6, "b:1/0: chatter");
    ck_assert_str_eq(t.last, "SSL handshake failed [b:1/0]");
    kafkaconf_trouble_log(&t, 4, "[thrd:app]: b:1/0: a warning");
    ck_assert_str_eq(t.last, "a warning [b:1/0]");
}
END_TEST

START_TEST(consumer_only_properties) {
    const char *consumer[] = {"group.id", "queued.min.messages", "fetch.max.bytes", "enable.auto.commit",
                              "auto.offset.reset", "isolation.level", "enable.partition.eof",
                              "max.partition.fetch.bytes", "session.timeout.ms"};
    const char *shared[] = {"bootstrap.servers", "security.protocol", "sasl.password", "linger.ms",
                            "compression.type", "client.id", "message.max.bytes", "allow.auto.create.topics",
                            "queue.buffering.max.messages"};
    for (size_t i = 0; i < sizeof consumer / sizeof *consumer; i++)
        ck_assert_msg(kafkaconf_consumer_only(consumer[i]), "%s", consumer[i]);
    for (size_t i = 0; i < sizeof shared / sizeof *shared; i++)
        ck_assert_msg(!kafkaconf_consumer_only(shared[i]), "%s", shared[i]);
}
END_TEST

Suite *kafkaconf_suite(void) {
    Suite *s = suite_create("kafkaconf");
    TCase *t = tcase_create("kafkaconf");
    tcase_add_test(t, budget_is_a_total_split_by_cost);
    tcase_add_test(t, sizes);
    tcase_add_test(t, consumer_conf_budget_then_properties);
    tcase_add_test(t, queue_limits_read_back);
    tcase_add_test(t, every_property_is_checked);
    tcase_add_test(t, producer_keeps_its_guarantees);
    tcase_add_test(t, memory_budget_option);
    tcase_add_test(t, broker_reason_puts_the_cause_first);
    tcase_add_test(t, trouble_keeps_the_cause_and_the_first_refusal);
    tcase_add_test(t, consumer_only_properties);
    suite_add_tcase(s, t);
    return s;
}
