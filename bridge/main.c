/*
 * kafka-bridge - reads a Kafka topic and writes ClickHouse RowBinary rows to
 * stdout, to be launched by ClickHouse's executable() table function.
 *
 * The run:  options -> column plan -> partitions assigned at their start
 * offsets, stop offsets fixed -> batches of messages decoded into one
 * output buffer -> written when full or when the flush timer fires -> exit
 * at the stop offsets, a row limit or a time limit.
 *
 * Any failure ends the run with one line on stderr and an output stream
 * that makes ClickHouse fail the query (see output.h).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chtype.h"
#include "consumer.h"
#include "jsonrow.h"
#include "options.h"
#include "output.h"
#include "rowplan.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

#define BATCH_SIZE 4096
#define OUTPUT_FLUSH_BYTES (1u << 20)

/* Set by SIGTERM/SIGINT: ClickHouse sends SIGTERM when it gives up waiting
 * for the program to finish.  A signal handler can only reach a global. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct run {
    bridge_options opt;
    chcolumns columns;
    rowplan plan;
    int have_plan;
    consumer *kafka;
    output out;
    jsonrow decoder;
    int have_decoder;
    uint64_t rows;
    char err[1024];
} run;

/* The single line a failed run prints. */
static int die(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int die(run *r, const char *fmt, ...) {
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "kafka-bridge: %s\n", line);
    fflush(stderr);
    output_fail(&r->out, r->have_plan ? &r->plan : NULL, line, r->opt.trust_exit_code);
    return EXIT_FAILED;
}

static int decode_failed(run *r, const rd_kafka_message_t *m, const row_error *e) {
    char where[128] = "";
    if (e->byte >= 0) snprintf(where, sizeof where, " (at byte %ld)", e->byte);
    if (e->column)
        return die(r, "topic '%s' partition %" PRId32 " offset %" PRId64 ": column '%s': %s%s",
                   r->opt.topic, m->partition, m->offset, e->column, e->reason, where);
    return die(r, "topic '%s' partition %" PRId32 " offset %" PRId64 ": %s%s", r->opt.topic,
               m->partition, m->offset, e->reason, where);
}

static int consume(run *r) {
    rd_kafka_message_t *msgs[BATCH_SIZE];
    const double started = now_seconds();
    double last_flush = started, last_progress = started;
    const double flush_every = r->opt.flush_interval_ms / 1000.0;
    kb_msg km = {.topic = r->opt.topic};
    row_error e;

    while (!consumer_done(r->kafka) && !stop_requested) {
        size_t want = BATCH_SIZE;
        if (r->opt.max_rows && r->opt.max_rows - r->rows < want) want = (size_t)(r->opt.max_rows - r->rows);
        size_t n;
        if (consumer_poll(r->kafka, msgs, want, 100, &n, r->err, sizeof r->err))
            return die(r, "%s", r->err);
        double now = now_seconds();
        for (size_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            rd_kafka_timestamp_type_t tstype;
            km.partition = m->partition;
            km.offset = m->offset;
            km.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
            km.has_timestamp = tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
            km.key = m->key;
            km.key_len = m->key_len;
            km.value = m->payload;
            km.value_len = m->len;
            if (jsonrow_decode(&r->decoder, &km, &r->out.rows, &e)) {
                int rc = decode_failed(r, m, &e);
                for (size_t j = i; j < n; j++) rd_kafka_message_destroy(msgs[j]);
                return rc;
            }
            rd_kafka_message_destroy(m);
        }
        r->rows += n;
        if (n) last_progress = now;
        if (output_wants_flush(&r->out) || (r->out.rows.len && now - last_flush >= flush_every)) {
            int rc = output_flush(&r->out, r->err, sizeof r->err);
            if (rc == OUTPUT_CLOSED) return EXIT_OK;
            if (rc == OUTPUT_ERROR) return die(r, "%s", r->err);
            last_flush = now;
        }
        if (r->opt.max_rows && r->rows >= r->opt.max_rows) break;
        if (r->opt.max_time && now - started >= r->opt.max_time) break;
        if (!n && now - last_progress >= r->opt.idle_timeout) {
            char pending[600];
            consumer_describe_pending(r->kafka, pending, sizeof pending);
            return die(r, "topic '%s': no message for %.1f s while some are due (%s)",
                       r->opt.topic, now - last_progress, pending);
        }
    }
    if (stop_requested) return die(r, "topic '%s': stopped by a signal after %" PRIu64 " rows", r->opt.topic, r->rows);
    int rc = output_flush(&r->out, r->err, sizeof r->err);
    if (rc == OUTPUT_ERROR) return die(r, "%s", r->err);
    return EXIT_OK;
}

int main(int argc, char **argv) {
    run r;
    memset(&r, 0, sizeof r);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is seen as EPIPE instead */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int status;
    int parsed = options_parse(&r.opt, argc, argv, r.err, sizeof r.err);
    output_init(&r.out, STDOUT_FILENO, OUTPUT_FLUSH_BYTES, r.opt.with_header, NULL);
    if (parsed == OPTIONS_EXIT) {
        status = EXIT_OK;
        goto done;
    }
    if (parsed != OPTIONS_RUN) {
        die(&r, "%s", r.err);
        status = EXIT_USAGE;
        goto done;
    }
    if (chcolumns_parse(r.opt.columns, &r.columns, r.err, sizeof r.err) ||
        rowplan_build(&r.plan, &r.columns, r.err, sizeof r.err)) {
        die(&r, "%s", r.err);
        status = EXIT_USAGE;
        goto done;
    }
    r.have_plan = 1;
    if (r.opt.with_header) rowplan_header(&r.plan, &r.out.rows);
    jsonrow_init(&r.decoder, &r.plan);
    r.have_decoder = 1;

    consumer_config cc = {
        .brokers = r.opt.brokers,
        .topic = r.opt.topic,
        .partitions = r.opt.npartitions ? r.opt.partitions : NULL,
        .npartitions = r.opt.npartitions,
        .default_start = r.opt.default_start,
        .starts = r.opt.starts,
        .nstarts = r.opt.nstarts,
        .properties = r.opt.properties,
        .nproperties = r.opt.nproperties,
        .timeout_ms = r.opt.timeout_ms,
    };
    if (consumer_open(&r.kafka, &cc, r.err, sizeof r.err)) {
        status = die(&r, "%s", r.err);
        goto done;
    }
    status = consume(&r);

done:
    if (r.kafka) consumer_close(r.kafka);
    if (r.have_decoder) jsonrow_free(&r.decoder);
    if (r.have_plan) rowplan_free(&r.plan);
    chcolumns_free(&r.columns);
    output_free(&r.out);
    options_free(&r.opt);
    return status;
}
