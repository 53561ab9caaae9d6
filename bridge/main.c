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
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chtype.h"
#include "consumer.h"
#include "deadletter.h"
#include "handover.h"
#include "inspect.h"
#include "runlock.h"
#include "startpos.h"
#include "decoder.h"
#include "formats/avro.h"
#include "options.h"
#include "output.h"
#include "rowplan.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* Messages taken from librdkafka's queue leave its count of the memory
 * budget while they are written: 256 of 10 KB are 2.5 MB beyond it, 4096
 * were 40 MB (bridge/kafkaconf.h). */
#define BATCH_SIZE 256
#define OUTPUT_FLUSH_BYTES (1u << 20)

/* SIGTERM/SIGINT end the run at once, whatever it is doing: ClickHouse
 * sends SIGTERM when it has given up waiting (command_termination_timeout),
 * and the run may then be blocked in a write to a pipe nobody reads, in a
 * wait for the input query, or in a wait for a reader that never leaves.
 * Nothing is lost: ClickHouse has already failed the query, the rows it
 * holds were not committed, and the kernel drops the run lock.  Only
 * async-signal-safe calls here. */
static void on_signal(int sig) {
    static const char term[] = "kafka-bridge: stopped by SIGTERM\n", intr[] = "kafka-bridge: stopped by SIGINT\n";
    ssize_t ignored = sig == SIGINT ? write(STDERR_FILENO, intr, sizeof intr - 1)
                                    : write(STDERR_FILENO, term, sizeof term - 1);
    (void)ignored;
    _exit(EXIT_FAILED);
}

/* A program started with fd 0, 1 or 2 closed would see the next file it
 * opens (the run lock, say) take that number, and write rows into it.
 * Returns -1 when stdout is closed: there is nowhere for rows to go. */
static int reserve_std_fds(void) {
    int stdout_closed = 0;
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        if (fd == STDOUT_FILENO) stdout_closed = 1;
        int n = open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY);
        if (n >= 0 && n != fd) close(n); /* cannot happen: the lowest free fd is this one */
    }
    return stdout_closed ? -1 : 0;
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
    kb_rowdecoder decoder;
    int have_decoder;
    partition_start *starts; /* -o P:SPEC starts, then those from stdin */
    size_t nstarts;
    dead_letter *dlq;
    int lock_fd;             /* the run lock, or -1 */
    char *lock_record;       /* what the previous holder left (handover.h), or NULL */
    handover handed;         /* where this run's rows end, per partition */
    int progress_rows;       /* skip and dead-letter write a row per message (_error) */
    uint64_t rows;
    uint64_t bad;            /* messages skipped, dead-lettered or streamed as errors */
    char first_bad[700];     /* where the first of them was, and why */
    char err[1024];
    int want_headers;        /* some column holds the headers */
    kb_header *headers;      /* the current message's, reused from message to message */
    size_t headers_cap;
    int input_read;          /* the input query's rows were read (or tried) */
} run;

/* A run refused before it read its input query leaves ClickHouse writing
 * into a pipe nobody reads, and ClickHouse may then report the broken
 * pipe instead of the reason the bridge gave.  So a failed run reads its
 * input to the end first, waiting at most the idle timeout for each
 * piece, so that a missing input query cannot hold it. */
static void drain_input(const run *r) {
    unsigned char sink[16384];
    int wait_ms = (int)(r->opt.idle_timeout * 1000);
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    for (;;) {
        int ready = poll(&pfd, 1, wait_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return;
        ssize_t got = read(STDIN_FILENO, sink, sizeof sink);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return;
    }
}

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

/* "column 'c': reason", or just the reason when no column is at fault. */
static void describe_reason(const row_error *e, char *out, size_t outlen) {
    if (e->column) snprintf(out, outlen, "column '%s': %s", e->column, e->reason);
    else snprintf(out, outlen, "%s", e->reason);
}

/* "topic 't' partition 1 offset 7: column 'c': reason (at byte 9)" */
static void describe_failure(const run *r, const rd_kafka_message_t *m, const row_error *e,
                             char *out, size_t outlen) {
    char reason[600], where[64] = "";
    describe_reason(e, reason, sizeof reason);
    if (e->byte >= 0) snprintf(where, sizeof where, " (at byte %ld)", e->byte);
    snprintf(out, outlen, "topic '%s' partition %" PRId32 " offset %" PRId64 ": %s%s",
             r->opt.topic, m->partition, m->offset, reason, where);
}

/* The transactional.id of the run's dead-letter copies: one per source
 * whose runs never overlap (topic and its share of partitions), so that a
 * run fences the one before it, and runs of other shares do not. */
static void dead_letter_txn_id(const run *r, char *out, size_t outlen) {
    uint64_t h = 1469598103934665603u; /* FNV-1a over the partition list */
    for (size_t i = 0; i < r->opt.npartitions; i++) {
        h ^= (uint32_t)r->opt.partitions[i];
        h *= 1099511628211u;
    }
    char share[64] = "";
    if (r->opt.shard_count) snprintf(share, sizeof share, ".shard-%d-of-%d", r->opt.shard_index, r->opt.shard_count);
    else if (r->opt.npartitions) snprintf(share, sizeof share, ".partitions-%016" PRIx64, h);
    snprintf(out, outlen, "kafka-bridge.dead-letter.%s.%s%s", r->opt.topic, r->opt.dead_letter_topic, share);
}

/* A row for a message that could not become one: its metadata columns,
 * _error with the reason, every other column at its default, and _raw the
 * message when with_raw (--on-error stream) or empty.  The row is stored
 * like any other, so the next run's positions count it: the handover
 * records it too. */
static int error_row(run *r, const rd_kafka_message_t *m, kb_msg *km, const row_error *e, int with_raw) {
    char reason[600], what[700];
    row_error e2;
    describe_reason(e, reason, sizeof reason);
    const void *value = km->value;
    km->error = reason;
    if (!with_raw) km->value = NULL;
    int rc = rowplan_put_error_row(&r->plan, km, &r->out.rows, &e2);
    km->error = NULL;
    km->value = value;
    if (rc) {
        describe_failure(r, m, &e2, what, sizeof what);
        return die(r, "%s", what);
    }
    if (output_added(&r->out, 0, r->err, sizeof r->err)) return die(r, "%s", r->err);
    r->rows++;
    return handover_note(&r->handed, m->partition, m->offset) ? die(r, "out of memory") : 0;
}

/* The row that records a skipped or dead-lettered message as handled
 * (_raw empty: the message is not kept in the table).  The resume query
 * reads the positions of these rows too, so the next run starts after
 * them; route rows with _error != '' away from the typed table
 * (sql/dead-letter.sql).  Without an _error column nothing is written (see
 * the check in main). */
static int progress_row(run *r, const rd_kafka_message_t *m, kb_msg *km, const row_error *e) {
    return r->progress_rows ? error_row(r, m, km, e, 0) : 0;
}

/* A message that could not become a row, handled by the run's policy.
 * Returns 0 to go on, or the exit status of a run that must stop. */
static int bad_message(run *r, const rd_kafka_message_t *m, kb_msg *km, const row_error *e) {
    char what[700];
    describe_failure(r, m, e, what, sizeof what);
    if (r->opt.on_error == ON_ERROR_FAIL) return die(r, "%s", what);
    if (r->bad++ == 0) snprintf(r->first_bad, sizeof r->first_bad, "%s", what);
    switch (r->opt.on_error) {
    case ON_ERROR_DEAD_LETTER:
        if (!r->dlq) {
            char txn_id[512];
            dead_letter_txn_id(r, txn_id, sizeof txn_id);
            if (dead_letter_open(&r->dlq, r->opt.brokers, r->opt.properties, r->opt.nproperties,
                                 r->opt.dead_letter_topic, r->opt.topic, txn_id,
                                 r->opt.timeout_ms, r->err, sizeof r->err))
                return die(r, "%s", r->err);
        }
        if (dead_letter_send(r->dlq, m, r->opt.topic, what, r->err, sizeof r->err) < 0)
            return die(r, "%s", r->err);
        return progress_row(r, m, km, e);
    case ON_ERROR_STREAM:
        return error_row(r, m, km, e, 1);
    default: /* ON_ERROR_SKIP */
        return progress_row(r, m, km, e);
    }
}

/* Every row is out: leave in the lock file where they end, for the next
 * run to check before it trusts the table (handover.h).  Only runs that
 * resume from the table are compared, so only they record.  The lock is
 * still held, so no run can look before this is written. */
static int record_handover(run *r) {
    if (r->lock_fd < 0 || !r->opt.offsets_from_stdin) return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char *text = handover_format(&r->handed, r->opt.topic,
                                 (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    if (!text) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    int rc = runlock_write(r->lock_fd, text, r->err, sizeof r->err);
    free(text);
    return rc;
}

static int int32_cmp(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The start positions against what the previous run handed over, for the
 * partitions this run reads (another shard's are not its business); then
 * the lock file becomes this run's (its record cleared).  Nothing has been
 * written yet: the consumer is assigned but not read from. */
static int check_handover(run *r) {
    if (r->lock_fd < 0) return 0;
    if (r->opt.offsets_from_stdin && r->lock_record && r->lock_record[0]) {
        size_t n = consumer_partition_count(r->kafka);
        int32_t *reading = malloc((n ? n : 1) * sizeof *reading);
        if (!reading) {
            snprintf(r->err, sizeof r->err, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            int64_t low, high, start;
            consumer_partition_info(r->kafka, i, &reading[i], &low, &high, &start);
        }
        qsort(reading, n, sizeof *reading, int32_cmp);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char note[600];
        int rc = handover_check(r->lock_record, r->opt.topic, reading, n, r->starts, r->nstarts,
                                r->opt.lock_grace, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                                note, sizeof note, r->err, sizeof r->err);
        free(reading);
        if (rc) return -1;
        if (note[0]) fprintf(stderr, "kafka-bridge: note: %s\n", note);
    }
    char ignored[256];
    (void)runlock_write(r->lock_fd, "", ignored, sizeof ignored); /* the pid is only for messages */
    return 0;
}

/* output_flush() behind the dead letters of the rows it writes: every copy
 * acknowledged and committed first, or OUTPUT_ERROR with r->err filled.
 * ClickHouse may store the rows it has received even from a run killed
 * with kill -9, so a row must never leave ahead of its copy.  When stdout
 * closes early, copies not committed are aborted with the producer (their
 * rows were not written either). */
static int flush_rows(run *r) {
    if (r->dlq && dead_letter_commit(r->dlq, r->err, sizeof r->err)) return OUTPUT_ERROR;
    return output_flush(&r->out, r->err, sizeof r->err);
}

#define FLUSHED (-1)

/* flush_rows() at msgs[i] of a batch of n: FLUSHED, or the run's exit
 * code when it ends here (msgs[i..n) then destroyed). */
static int flush_in_batch(run *r, rd_kafka_message_t **msgs, size_t i, size_t n) {
    int frc = flush_rows(r);
    if (frc == OUTPUT_OK && !(r->dlq && dead_letter_poll(r->dlq, r->err, sizeof r->err))) return FLUSHED;
    for (size_t j = i; j < n; j++) rd_kafka_message_destroy(msgs[j]);
    return frc == OUTPUT_CLOSED ? EXIT_OK : die(r, "%s", r->err);
}

/* Points km at m's headers, in r->headers, which grows only when a message
 * has more headers than any before it. */
static void load_headers(run *r, rd_kafka_message_t *m, kb_msg *km) {
    rd_kafka_headers_t *hdrs = NULL;
    km->nheaders = 0;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    size_t n = rd_kafka_header_cnt(hdrs);
    if (n > r->headers_cap) {
        free(r->headers);
        r->headers = kb_xcalloc(n, sizeof *r->headers);
        r->headers_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name;
        const void *value;
        size_t size;
        if (rd_kafka_header_get_all(hdrs, i, &name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) break;
        r->headers[i] = (kb_header){name, strlen(name), value, value ? size : 0};
        km->nheaders = i + 1;
    }
    km->headers = r->headers;
}

static int consume(run *r) {
    rd_kafka_message_t *msgs[BATCH_SIZE];
    const double started = now_seconds();
    double last_flush = started, last_progress = started;
    const double flush_every = r->opt.flush_interval_ms / 1000.0;
    kb_msg km = {.topic = r->opt.topic};
    row_error e;

    while (!consumer_done(r->kafka)) {
        size_t want = BATCH_SIZE;
        if (r->opt.max_rows && r->opt.max_rows - r->rows < want) want = (size_t)(r->opt.max_rows - r->rows);
        size_t n;
        if (consumer_poll(r->kafka, msgs, want, 100, &n, r->err, sizeof r->err))
            return die(r, "%s", r->err);
        double now = now_seconds();
        unsigned bad_in_batch = 0;
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
            if (r->want_headers) load_headers(r, m, &km);
            int got = r->out.native
                          ? kb_rowdecoder_decode_columns(&r->decoder, &km, output_columns(&r->out), &e)
                          : kb_rowdecoder_decode(&r->decoder, &km, &r->out.rows, &e);
            if (got >= 0) {
                r->rows += (uint64_t)got;
                if (output_added(&r->out, (size_t)got, r->err, sizeof r->err)) {
                    for (size_t j = i; j < n; j++) rd_kafka_message_destroy(msgs[j]);
                    return die(r, "%s", r->err);
                }
                if (got && handover_note(&r->handed, m->partition, m->offset)) {
                    for (size_t j = i; j < n; j++) rd_kafka_message_destroy(msgs[j]);
                    return die(r, "out of memory");
                }
                /* A full Native block goes out before the next message
                 * adds to it: it is written from its columns.  RowBinary
                 * waits for the batch's end. */
                if (r->out.native && output_wants_flush(&r->out)) {
                    int rc = flush_in_batch(r, msgs, i, n);
                    if (rc != FLUSHED) return rc;
                    last_flush = now;
                }
            } else if (e.fatal) {
                char what[700];
                describe_failure(r, m, &e, what, sizeof what);
                for (size_t j = i; j < n; j++) rd_kafka_message_destroy(msgs[j]);
                return die(r, "%s", what);
            } else {
                int rc = bad_message(r, m, &km, &e);
                if (rc != EXIT_OK || r->out.closed) {
                    for (size_t j = i; j < n; j++) rd_kafka_message_destroy(msgs[j]);
                    return rc;
                }
                /* A long bad stretch is one batch after another of
                 * handled messages: the flush timer is honoured inside a
                 * batch too, so ClickHouse keeps receiving rows while the
                 * run works (no pipe read timeout).  Error rows can fill
                 * a Native block too. */
                ++bad_in_batch;
                if ((r->out.native && output_wants_flush(&r->out)) ||
                    (bad_in_batch % 64 == 0 && output_pending(&r->out) &&
                     (now = now_seconds()) - last_flush >= flush_every)) {
                    rc = flush_in_batch(r, msgs, i, n);
                    if (rc != FLUSHED) return rc;
                    last_flush = now;
                }
            }
            rd_kafka_message_destroy(m);
        }
        if (n) last_progress = now;
        /* The first rows go out with the batch that brought them: a LIMIT 1
         * query waits for nothing else. */
        int first_rows = !r->out.header_written && r->rows;
        if (output_wants_flush(&r->out) || (output_pending(&r->out) && (first_rows || now - last_flush >= flush_every))) {
            int rc = flush_rows(r);
            if (rc == OUTPUT_CLOSED) return EXIT_OK;
            if (rc == OUTPUT_ERROR) return die(r, "%s", r->err);
            last_flush = now;
        }
        if (r->dlq && dead_letter_poll(r->dlq, r->err, sizeof r->err)) return die(r, "%s", r->err);
        if (r->opt.max_rows && r->rows >= r->opt.max_rows) break;
        if (r->opt.max_time && now - started >= r->opt.max_time) break;
        if (!n && now - last_progress >= r->opt.idle_timeout) {
            char pending[600];
            consumer_describe_pending(r->kafka, pending, sizeof pending);
            return die(r, "topic '%s': no message for %.1f s while some are due (%s)",
                       r->opt.topic, now - last_progress, pending);
        }
    }
    int rc = flush_rows(r);
    if (rc == OUTPUT_ERROR) return die(r, "%s", r->err);
    if (rc == OUTPUT_CLOSED) return EXIT_OK;
    if (r->opt.commit_on_exit && consumer_commit_positions(r->kafka, r->err, sizeof r->err))
        return die(r, "%s", r->err);
    if (record_handover(r)) return die(r, "%s", r->err);
    if (r->bad) {
        static const char *const verb[] = {[ON_ERROR_SKIP] = "skipped",
                                           [ON_ERROR_DEAD_LETTER] = "sent to the dead-letter topic",
                                           [ON_ERROR_STREAM] = "written as error rows"};
        fprintf(stderr, "kafka-bridge: %" PRIu64 " message(s) could not become rows and were %s; first: %s\n",
                r->bad, verb[r->opt.on_error], r->first_bad);
        uint64_t before = dead_letter_copied_before(r->dlq);
        if (before)
            fprintf(stderr, "kafka-bridge: note: %" PRIu64 " of them had been copied by an earlier "
                    "run whose rows were not stored, and were not copied again\n", before);
    }
    return EXIT_OK;
}

/* --watermarks: one row per assigned partition, in the fixed columns set by
 * the options. */
static int write_watermarks(run *r) {
    for (size_t i = 0; i < consumer_partition_count(r->kafka); i++) {
        int32_t partition;
        int64_t low, high, start;
        consumer_partition_info(r->kafka, i, &partition, &low, &high, &start);
        buf_le(&r->out.rows, (uint32_t)partition, 4);
        buf_le(&r->out.rows, (uint64_t)low, 8);
        buf_le(&r->out.rows, (uint64_t)high, 8);
        buf_le(&r->out.rows, (uint64_t)start, 8);
        buf_le(&r->out.rows, (uint64_t)(high - start), 8);
    }
    int rc = output_flush(&r->out, r->err, sizeof r->err);
    return rc == OUTPUT_ERROR ? die(r, "%s", r->err) : EXIT_OK;
}

/* The start positions: -o P:SPEC first, then the input query's, which
 * win for the partitions they name. */
static int merge_starts(run *r) {
    partition_start *given = NULL;
    size_t ngiven = 0;
    r->input_read = r->opt.offsets_from_stdin;
    if (r->opt.offsets_from_stdin &&
        startpos_read(STDIN_FILENO, (int)(r->opt.idle_timeout * 1000), &given, &ngiven, r->err,
                      sizeof r->err))
        return -1;
    r->starts = malloc((r->opt.nstarts + ngiven + 1) * sizeof *r->starts);
    if (!r->starts) {
        free(given);
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < ngiven; i++) r->starts[r->nstarts++] = given[i];
    for (size_t i = 0; i < r->opt.nstarts; i++) {
        /* given is sorted by partition (startpos.h) */
        if (!ngiven || !bsearch(&r->opt.starts[i], given, ngiven, sizeof *given, partition_start_cmp))
            r->starts[r->nstarts++] = r->opt.starts[i];
    }
    free(given);
    /* The consumer looks starts up by binary search. */
    if (r->nstarts) qsort(r->starts, r->nstarts, sizeof *r->starts, partition_start_cmp);
    return 0;
}

int main(int argc, char **argv) {
    run r;
    memset(&r, 0, sizeof r);
    r.lock_fd = -1;
    handover_init(&r.handed);
    int stdout_closed = reserve_std_fds();
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is seen as EPIPE instead */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int status;
    int parsed = options_parse(&r.opt, argc, argv, r.err, sizeof r.err);
    output_init(&r.out, STDOUT_FILENO, OUTPUT_FLUSH_BYTES, r.opt.with_header, NULL);
    if (r.opt.native) output_native(&r.out, NULL);
    if (stdout_closed) {
        fprintf(stderr, "kafka-bridge: stdout is closed: there is nowhere to write rows\n");
        status = EXIT_FAILED;
        goto done;
    }
    if (parsed == OPTIONS_EXIT) {
        status = EXIT_OK;
        goto done;
    }
    if (parsed != OPTIONS_RUN) {
        die(&r, "%s", r.err);
        status = EXIT_USAGE;
        goto done;
    }
    if (r.opt.inspect) {
        status = inspect_run(&r.opt, &r.out, r.err, sizeof r.err) ? die(&r, "%s", r.err) : EXIT_OK;
        goto done;
    }
    if (r.opt.describe) {
        /* Schema-first: the column list to create the table with. */
        buf cols;
        buf_init(&cols, 1024);
        if (kb_avro_describe(&r.opt, &cols, r.err, sizeof r.err)) status = die(&r, "%s", r.err);
        else status = fwrite(cols.data, 1, cols.len, stdout) == cols.len && fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
        buf_free(&cols);
        goto done;
    }
    if (chcolumns_parse(r.opt.columns, &r.columns, r.err, sizeof r.err) ||
        rowplan_build(&r.plan, &r.columns, r.err, sizeof r.err)) {
        die(&r, "%s", r.err);
        status = EXIT_USAGE;
        goto done;
    }
    r.have_plan = 1;
    r.want_headers = rowplan_reads_headers(&r.plan);
    if (r.opt.on_error == ON_ERROR_STREAM && rowplan_find_meta(&r.plan, META_ERROR) < 0) {
        die(&r, "--on-error stream needs an _error String column (and usually _raw, _topic, "
                "_partition, _offset)");
        status = EXIT_USAGE;
        goto done;
    }
    r.progress_rows = (r.opt.on_error == ON_ERROR_SKIP || r.opt.on_error == ON_ERROR_DEAD_LETTER) &&
                      rowplan_find_meta(&r.plan, META_ERROR) >= 0;
    if (r.opt.offsets_from_stdin && !r.opt.watermarks && !r.progress_rows &&
        (r.opt.on_error == ON_ERROR_SKIP || r.opt.on_error == ON_ERROR_DEAD_LETTER)) {
        /* A handled message leaves no row without _error, so the stored
         * positions would never move past it: every run would handle it
         * again. */
        die(&r, "--on-error %s with --offsets-from stdin needs an _error String column: each "
                "handled message becomes a row with _error set (route it to an errors table, "
                "see sql/dead-letter.sql) so that the next run resumes after it",
            r.opt.on_error == ON_ERROR_SKIP ? "skip" : "dead-letter");
        status = EXIT_USAGE;
        goto done;
    }
    if (r.opt.offsets_from_stdin && !r.opt.watermarks &&
        (rowplan_find_meta(&r.plan, META_PARTITION) < 0 || rowplan_find_meta(&r.plan, META_OFFSET) < 0)) {
        /* The input query reads the positions back from the table; rows
         * without them would make every run start again. */
        die(&r, "--offsets-from stdin resumes from the _partition and _offset the table stores, "
                "but the columns lack %s",
            rowplan_find_meta(&r.plan, META_PARTITION) < 0 ? "_partition" : "_offset");
        status = EXIT_USAGE;
        goto done;
    }
    if (r.opt.with_header) rowplan_header(&r.plan, &r.out.rows);
    if (r.opt.native) output_native(&r.out, &r.plan);
    if (kb_rowdecoder_open(&r.decoder, &r.plan, r.opt.format, r.opt.key_format, &r.opt, r.err,
                           sizeof r.err)) {
        die(&r, "%s", r.err);
        status = EXIT_USAGE;
        goto done;
    }
    r.have_decoder = 1;

    /* Held until the process exits; the kernel releases it even on kill -9. */
    if (r.opt.lock_path && !r.opt.watermarks &&
        (runlock_acquire(r.opt.lock_path, &r.lock_fd, r.err, sizeof r.err) ||
         runlock_read_record(r.lock_fd, &r.lock_record, r.err, sizeof r.err))) {
        status = die(&r, "%s", r.err);
        goto done;
    }
    if (merge_starts(&r)) {
        status = die(&r, "%s", r.err);
        goto done;
    }

    consumer_config cc = {
        .brokers = r.opt.brokers,
        .topic = r.opt.topic,
        .partitions = r.opt.npartitions ? r.opt.partitions : NULL,
        .npartitions = r.opt.npartitions,
        .default_start = r.opt.default_start,
        .starts = r.starts,
        .nstarts = r.nstarts,
        .properties = r.opt.properties,
        .nproperties = r.opt.nproperties,
        .timeout_ms = r.opt.timeout_ms,
        .out_of_range = r.opt.out_of_range,
        .shard_index = r.opt.shard_index,
        .shard_count = r.opt.shard_count,
        .commit_group = r.opt.commit_group,
        .memory_budget = r.opt.memory_budget,
    };
    if (consumer_open(&r.kafka, &cc, r.err, sizeof r.err) || check_handover(&r)) {
        status = die(&r, "%s", r.err);
        goto done;
    }
    for (const char *note = consumer_notes(r.kafka); *note;) {
        size_t n = strcspn(note, "\n");
        fprintf(stderr, "kafka-bridge: note: %.*s\n", (int)n, note);
        note += n + (note[n] == '\n');
    }
    status = r.opt.watermarks ? write_watermarks(&r) : consume(&r);

done:
    if (status != EXIT_OK && r.opt.offsets_from_stdin && !r.input_read) drain_input(&r);
    if (r.kafka) consumer_close(r.kafka);
    dead_letter_close(r.dlq);
    free(r.starts);
    free(r.lock_record);
    handover_free(&r.handed);
    if (r.have_decoder) kb_rowdecoder_close(&r.decoder);
    if (r.have_plan) rowplan_free(&r.plan);
    free(r.headers);
    chcolumns_free(&r.columns);
    output_free(&r.out);
    options_free(&r.opt);
    return status;
}
