/*
 * kafka-dict - a compacted topic as the source of a ClickHouse
 * dictionary (clickhouse-config/kafka_dictionary.xml, or the DDL in
 * sql/dictionary.sql for clickhouse-local and chDB).
 *
 * Run as `kafka-dict --pipeline NAME`: reads every partition of the
 * pipeline's topic from the log start to the end offsets seen at start,
 * keeps the latest record per message key (a tombstone removes the key),
 * then writes one RowBinary row per live key, decoded with the pipeline's
 * columns, format and key format exactly as the bridge decodes messages
 * (so _key, _partition, _offset, _timestamp and columns read from the key
 * work too).  A LIFETIME reload runs it
 * again and so re-reads the topic.
 *
 * Memory follows the live keys, not the records read (see keyset.h).
 * A record without a key, or a live value that does not decode, fails the
 * load, naming topic, partition and offset: a dictionary with a key
 * silently missing would answer dictGet with a default.
 *
 * Only full-load layouts fit (flat, hashed, sparse_hashed,
 * complex_key_hashed, hashed_array...): the program ignores stdin, so
 * cache and direct layouts, which write the wanted keys to it, do not.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chtype.h"
#include "consumer.h"
#include "decoder.h"
#include "keyset.h"
#include "options.h"
#include "output.h"
#include "rowplan.h"

#define BATCH 4096

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *msg) {
    fprintf(stderr, "kafka-dict: %s\n", msg);
    fflush(stderr);
    return 1;
}

/* Reads the topic into the key set. */
static int load(consumer *c, const bridge_options *o, keyset *keys, char *err, size_t errlen) {
    rd_kafka_message_t *msgs[BATCH];
    double last = now_s();
    while (!consumer_done(c)) {
        if (stop_requested) {
            snprintf(err, errlen, "topic '%s': stopped by a signal", o->topic);
            return -1;
        }
        size_t n;
        if (consumer_poll(c, msgs, BATCH, 100, &n, err, errlen)) return -1;
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (!rc && !m->key) {
                snprintf(err, errlen,
                         "topic '%s' partition %" PRId32 " offset %" PRId64 ": a record without a key "
                         "(a dictionary needs one per record)", o->topic, m->partition, m->offset);
                rc = -1;
            }
            if (!rc) {
                rd_kafka_timestamp_type_t tstype;
                int64_t ts = rd_kafka_message_timestamp(m, &tstype);
                if (keyset_put(keys, m->key, m->key_len, m->payload, m->len, m->partition, m->offset,
                               tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE, ts)) {
                    snprintf(err, errlen, "topic '%s' partition %" PRId32 " offset %" PRId64 ": record too large",
                             o->topic, m->partition, m->offset);
                    rc = -1;
                }
            }
            rd_kafka_message_destroy(m);
        }
        if (rc) return -1;
        double now = now_s();
        if (n) last = now;
        else if (now - last >= o->idle_timeout) {
            char pending[600];
            consumer_describe_pending(c, pending, sizeof pending);
            snprintf(err, errlen, "topic '%s': no message for %.1f s while some are due (%s)", o->topic, now - last,
                     pending);
            return -1;
        }
    }
    return 0;
}

/* One row per live key, flushed as the buffer fills.  With `check` set
 * the rows are decoded and thrown away: a first pass that finds any bad
 * value before a byte is written, so that the load fails with this
 * program's message (check_exit_code) rather than with a cut stream. */
static int write_rows(const keyset *keys, const bridge_options *o, kb_rowdecoder *dec, output *out, int check, char *err,
                      size_t errlen) {
    kb_msg km = {.topic = o->topic};
    row_error e;
    size_t pos = 0;
    for (const keyrec *r; (r = keyset_next(keys, &pos));) {
        km.partition = r->partition;
        km.offset = r->offset;
        km.has_timestamp = r->has_timestamp;
        km.timestamp_ms = r->timestamp_ms;
        km.key = r->data;
        km.key_len = r->key_len;
        km.value = r->data + r->key_len;
        km.value_len = r->value_len;
        int rows = kb_rowdecoder_decode(dec, &km, &out->rows, &e);
        if (rows > 1) {
            /* A per-line format: one record must be one entry. */
            snprintf(err, errlen, "topic '%s' partition %" PRId32 " offset %" PRId64 ": %d rows from one record "
                     "(a dictionary takes one per key)", o->topic, r->partition, r->offset, rows);
            return -1;
        }
        if (rows < 0) {
            char reason[600], where[64] = "";
            if (e.column) snprintf(reason, sizeof reason, "column '%s': %s", e.column, e.reason);
            else snprintf(reason, sizeof reason, "%s", e.reason);
            if (e.byte >= 0) snprintf(where, sizeof where, " (at byte %ld)", e.byte);
            snprintf(err, errlen, "topic '%s' partition %" PRId32 " offset %" PRId64 ": %s%s", o->topic, r->partition,
                     r->offset, reason, where);
            return -1;
        }
        if (check) {
            out->rows.len = 0;
            continue;
        }
        if (output_wants_flush(out)) {
            int rc = output_flush(out, err, errlen);
            if (rc == OUTPUT_ERROR) return -1;
            if (rc == OUTPUT_CLOSED) return 1;
        }
    }
    if (check) return 0;
    int rc = output_flush(out, err, errlen);
    return rc == OUTPUT_ERROR ? -1 : rc == OUTPUT_CLOSED ? 1 : 0;
}

int main(int argc, char **argv) {
    bridge_options o;
    char err[1024];
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int parsed = options_parse(&o, argc, argv, err, sizeof err);
    if (parsed == OPTIONS_EXIT) return 0;
    if (parsed != OPTIONS_RUN) {
        options_free(&o);
        return fail(err) + 1;
    }
    chcolumns cols;
    memset(&cols, 0, sizeof cols);
    rowplan plan;
    kb_rowdecoder dec;
    output out;
    keyset keys;
    consumer *c = NULL;
    int status = 0, have_plan = 0;
    keyset_init(&keys);
    /* Always plain RowBinary: a dictionary source names no columns. */
    output_init(&out, STDOUT_FILENO, 1u << 20, 0, NULL);
    if (chcolumns_parse(o.columns, &cols, err, sizeof err) || rowplan_build(&plan, &cols, err, sizeof err)) {
        status = fail(err);
        goto done;
    }
    if (kb_rowdecoder_open(&dec, &plan, o.format, o.key_format, &o, err, sizeof err)) {
        rowplan_free(&plan);
        status = fail(err);
        goto done;
    }
    have_plan = 1;
    /* The whole log, whatever the pipeline says about start positions:
     * compaction keeps the latest record of every key somewhere in it. */
    consumer_config cc = {
        .brokers = o.brokers,
        .topic = o.topic,
        .partitions = o.npartitions ? o.partitions : NULL,
        .npartitions = o.npartitions,
        .default_start = {OFFSET_BEGINNING, 0},
        .properties = o.properties,
        .nproperties = o.nproperties,
        .timeout_ms = o.timeout_ms,
        .out_of_range = OUT_OF_RANGE_EARLIEST,
        .shard_index = o.shard_index,
        .shard_count = o.shard_count,
    };
    if (consumer_open(&c, &cc, err, sizeof err) || load(c, &o, &keys, err, sizeof err)) {
        status = fail(err);
        goto done;
    }
    consumer_close(c);
    c = NULL;
    if (write_rows(&keys, &o, &dec, &out, 1, err, sizeof err)) {
        status = fail(err);
        goto done;
    }
    if (write_rows(&keys, &o, &dec, &out, 0, err, sizeof err) < 0) {
        status = fail(err);
        /* Rows went out already: end in the middle of one, so that
         * ClickHouse cannot take the rows so far for the whole dictionary
         * even without check_exit_code. */
        output_fail(&out, &plan, err, 0);
    }

done:
    if (c) consumer_close(c);
    if (have_plan) {
        kb_rowdecoder_close(&dec);
        rowplan_free(&plan);
    }
    keyset_free(&keys);
    chcolumns_free(&cols);
    output_free(&out);
    options_free(&o);
    return status;
}
