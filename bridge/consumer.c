#include "consumer.h"

#include "kafkaconf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct part_state {
    int32_t partition;
    int64_t low, high; /* watermarks when the run started */
    int64_t start;     /* where the run started */
    int64_t next;      /* offset of the next message expected */
    int64_t stop;      /* first offset not to read */
    int done;
} part_state;

struct consumer {
    /* Two handles: `probe` reads metadata and offsets; `rk` consumes, and is
     * created once the start positions are known. */
    rd_kafka_t *probe;
    rd_kafka_t *rk;
    rd_kafka_conf_t *conf;  /* for `rk`, until it is created */
    rd_kafka_queue_t *queue;
    const char *topic;
    part_state *parts;
    size_t nparts;
    part_state **by_id; /* partition id -> state, for the per-message path */
    int32_t max_id;
    size_t pending;
    /* librdkafka reports connection problems through its error and log
     * callbacks; they are kept to explain a stall or a failure. */
    kafkaconf_trouble trouble;
    char notes[512];
    const partition_start *starts; /* explicit starts, for the group commit */
    size_t nstarts;
    int commit;                    /* a commit group was given */
    rd_kafka_topic_partition_list_t *positions; /* the assigned partitions, for
                                                 * rd_kafka_position() */
    /* The consumer queue's limits as librdkafka applies them (the budget's,
     * or what -X set), and what has passed through it, for
     * note_queue_level(). */
    uint64_t queue_limit_messages, queue_limit_bytes;
    uint64_t seen_messages, seen_bytes;
    int queue_was_near_limit;
    uint64_t refills; /* fetch restarts, for the tests' view (consumer.h) */
};

int offset_spec_parse(const char *text, offset_spec *out, char *err, size_t errlen) {
    char *end;
    if (!strcmp(text, "beginning") || !strcmp(text, "earliest")) {
        *out = (offset_spec){OFFSET_BEGINNING, 0};
        return 0;
    }
    if (!strcmp(text, "end") || !strcmp(text, "latest")) {
        *out = (offset_spec){OFFSET_END, 0};
        return 0;
    }
    offset_kind kind = OFFSET_ABSOLUTE;
    const char *num = text;
    if (!strncmp(text, "s@", 2)) {
        kind = OFFSET_TIMESTAMP;
        num = text + 2;
    } else if (text[0] == '-') {
        kind = OFFSET_FROM_END;
        num = text + 1;
    }
    if (*num < '0' || *num > '9') goto bad;
    errno = 0;
    long long v = strtoll(num, &end, 10);
    if (*end || errno) goto bad;
    *out = (offset_spec){kind, v};
    return 0;
bad:
    snprintf(err, errlen,
             "invalid offset '%s' (expected beginning, end, N, -N or s@TIMESTAMP_MS)", text);
    return -1;
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
    (void)rk;
    consumer *c = opaque;
    kafkaconf_trouble_error(&c->trouble, code, reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
    /* stderr belongs to ClickHouse's pipe, which it may never read: keep
     * librdkafka's diagnostics for our own error line instead. */
    (void)facility;
    consumer *c = rd_kafka_opaque(rk);
    kafkaconf_trouble_log(&c->trouble, level, line);
}

static int configure(consumer *c, const consumer_config *cfg, char *err, size_t errlen) {
    uint64_t budget = cfg->memory_budget ? cfg->memory_budget : KAFKACONF_DEFAULT_BUDGET;
    rd_kafka_conf_t *conf = kafkaconf_new(KAFKACONF_CONSUMER, "kafka-bridge", cfg->brokers,
                                          cfg->properties, cfg->nproperties, budget, err, errlen);
    if (!conf) return -1;
    if (cfg->commit_group && kafkaconf_set(conf, "group.id", cfg->commit_group, err, errlen)) goto bad;
    /* Read back rather than taken from the budget: a -X property wins. */
    if (kafkaconf_queue_limits(conf, &c->queue_limit_messages, &c->queue_limit_bytes, err, errlen)) goto bad;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    char why[512];
    rd_kafka_conf_t *probe_conf = rd_kafka_conf_dup(conf);
    c->probe = rd_kafka_new(RD_KAFKA_CONSUMER, probe_conf, why, sizeof why);
    if (!c->probe) {
        rd_kafka_conf_destroy(probe_conf); /* rd_kafka_new takes it only on success */
        snprintf(err, errlen, "cannot create Kafka consumer: %s", why);
        goto bad;
    }
    c->conf = conf;
    return 0;
bad:
    rd_kafka_conf_destroy(conf);
    return -1;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rd_kafka_metadata() with the wait cut into growing slices: a password
 * the broker refused or a certificate that does not verify never heals,
 * yet librdkafka would retry it until the timeout, which may outlast
 * ClickHouse's own wait for the first row.  Between slices the error
 * callback is served, and such an error ends the wait.  Slices grow so
 * that a slow broker's answer is still awaited long enough. */
static rd_kafka_resp_err_t wait_metadata(consumer *c, rd_kafka_topic_t *rkt,
                                         const struct rd_kafka_metadata **md, int timeout_ms) {
    const int64_t deadline = now_ms() + timeout_ms;
    int64_t slice = 250;
    for (;;) {
        int64_t began = now_ms(), left = deadline - began;
        if (left < 1) left = 1;
        int64_t wait = slice < left ? slice : left;
        rd_kafka_resp_err_t e = rd_kafka_metadata(c->probe, 0, rkt, md, (int)wait);
        rd_kafka_poll(c->probe, 0);
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT && e != RD_KAFKA_RESP_ERR__TRANSPORT) return e;
        if (c->trouble.fatal || now_ms() >= deadline) return e;
        /* A transport error may come back at once: no busy loop. */
        int64_t spent = now_ms() - began;
        if (spent < wait) {
            struct timespec ts = {(time_t)((wait - spent) / 1000), (long)((wait - spent) % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        if (slice < 4000) slice *= 2;
    }
}

/* Reads the topic's partition list from the cluster. */
static int load_partitions(consumer *c, const consumer_config *cfg, char *err, size_t errlen) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->probe, cfg->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    unsigned char *exists = NULL; /* by partition id: whether the topic has it */
    rd_kafka_resp_err_t e = wait_metadata(c, rkt, &md, cfg->timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (e) {
        const char *brokers = cfg->brokers ? cfg->brokers : "(no brokers given)";
        if (c->trouble.fatal) /* the broker's refusal first: ClickHouse shows only the start */
            snprintf(err, errlen, "%s; cannot read metadata of topic '%s' from %s", c->trouble.fatal_reason,
                     cfg->topic, brokers);
        else
            snprintf(err, errlen, "cannot read metadata of topic '%s' from %s: %s%s%s", cfg->topic, brokers,
                     rd_kafka_err2str(e), c->trouble.last[0] ? "; last broker error: " : "", c->trouble.last);
        return -1;
    }
    int rc = -1;
    if (md->topic_cnt != 1 || md->topics[0].err) {
        rd_kafka_resp_err_t te = md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        snprintf(err, errlen, "topic '%s': %s", cfg->topic, rd_kafka_err2str(te));
        goto done;
    }
    const struct rd_kafka_metadata_topic *t = &md->topics[0];
    size_t n = cfg->partitions ? cfg->npartitions : (size_t)t->partition_cnt;
    c->parts = calloc(n ? n : 1, sizeof *c->parts);
    if (!c->parts) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    /* Which partitions exist, by id: looked up once per partition asked
     * for and once per start, so that start-up is linear in them. */
    int32_t top = -1;
    for (int j = 0; j < t->partition_cnt; j++)
        if (t->partitions[j].id > top) top = t->partitions[j].id;
    exists = calloc((size_t)top + 2, 1);
    if (!exists) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (int j = 0; j < t->partition_cnt; j++)
        if (t->partitions[j].id >= 0) exists[t->partitions[j].id] = 1;
    for (size_t i = 0; i < n; i++) {
        int32_t p = cfg->partitions ? cfg->partitions[i] : t->partitions[i].id;
        if (cfg->shard_count && p % cfg->shard_count != cfg->shard_index) continue;
        if (p < 0 || p > top || !exists[p]) {
            snprintf(err, errlen, "topic '%s' has no partition %" PRId32 " (it has %d)",
                     cfg->topic, p, t->partition_cnt);
            goto done;
        }
        c->parts[c->nparts++].partition = p;
        if (p > c->max_id) c->max_id = p;
    }
    c->by_id = calloc((size_t)c->max_id + 1, sizeof *c->by_id);
    if (!c->by_id) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    /* A start position for a partition the topic lacks is a mistake
     * (a typo, or a table filled from another topic), not a no-op.  One
     * for a partition of another shard is not. */
    for (size_t i = 0; i < cfg->nstarts; i++) {
        int32_t p = cfg->starts[i].partition;
        if (p < 0 || p > top || !exists[p]) {
            snprintf(err, errlen, "topic '%s' has no partition %" PRId32 " (it has %d), but a start offset names it",
                     cfg->topic, p, t->partition_cnt);
            goto done;
        }
    }
    for (size_t i = 0; i < c->nparts; i++) c->by_id[c->parts[i].partition] = &c->parts[i];
    rc = 0;
done:
    free(exists);
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* cfg->starts is sorted by partition (consumer.h). */
static const offset_spec *start_of(const consumer_config *cfg, int32_t partition) {
    size_t lo = 0, hi = cfg->nstarts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cfg->starts[mid].partition < partition) lo = mid + 1;
        else hi = mid;
    }
    if (lo < cfg->nstarts && cfg->starts[lo].partition == partition) return &cfg->starts[lo].start;
    return &cfg->default_start;
}

/* Errors of an offset look-up that pass within moments: a partition whose
 * leader is being elected (a topic just created, a broker just restarted)
 * or metadata not caught up yet. */
static int transient(rd_kafka_resp_err_t e) {
    return e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
           e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE || e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
           e == RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE || e == RD_KAFKA_RESP_ERR__TRANSPORT ||
           e == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT;
}

/* Every partition's low (which = RD_KAFKA_OFFSET_BEGINNING) or high
 * (RD_KAFKA_OFFSET_END) watermark, into ps->low or ps->high.  One
 * ListOffsets request per leader, where rd_kafka_query_watermark_offsets()
 * would make two round trips per partition: on 128 partitions that alone
 * held the first row back by about 100 ms.  A ListOffsets "timestamp" of
 * -2 or -1 asks for the earliest or latest offset, which is what the
 * watermark query itself sends.  Transient errors are retried within
 * timeout_ms; *failed gets the partition of any other error. */
static rd_kafka_resp_err_t list_watermarks(consumer *c, const char *topic, int64_t which, int timeout_ms,
                                           int32_t *failed) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->nparts);
        for (size_t i = 0; i < c->nparts; i++)
            rd_kafka_topic_partition_list_add(l, topic, c->parts[i].partition)->offset = which;
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(c->probe, l, timeout_ms);
        *failed = -1;
        for (int i = 0; !e && i < l->cnt; i++)
            if (l->elems[i].err) {
                e = l->elems[i].err;
                *failed = l->elems[i].partition;
            }
        size_t matched = 0;
        for (int i = 0; !e && i < l->cnt; i++) {
            int32_t id = l->elems[i].partition;
            if (id >= 0 && id <= c->max_id && c->by_id[id]) matched++;
        }
        if (!e && matched != c->nparts) e = RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION; /* retried */
        if (!e) {
            for (int i = 0; i < l->cnt; i++) {
                /* Matched by id: the list's order is librdkafka's to keep. */
                int32_t id = l->elems[i].partition;
                part_state *ps = id >= 0 && id <= c->max_id ? c->by_id[id] : NULL;
                if (!ps) continue;
                if (which == RD_KAFKA_OFFSET_BEGINNING) ps->low = l->elems[i].offset;
                else ps->high = l->elems[i].offset;
            }
            rd_kafka_topic_partition_list_destroy(l);
            return e;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        rd_kafka_topic_partition_list_destroy(l);
        if (!transient(e) || spent + 100 >= timeout_ms) return e;
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000}, NULL);
    }
}

/* Fixes each partition's start and stop offsets. */
static int resolve_offsets(consumer *c, const consumer_config *cfg, char *err, size_t errlen) {
    static const int64_t marks[2] = {RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_END};
    for (size_t m = 0; c->nparts && m < 2; m++) {
        int32_t failed;
        rd_kafka_resp_err_t e = list_watermarks(c, cfg->topic, marks[m], cfg->timeout_ms, &failed);
        if (e && failed >= 0) {
            snprintf(err, errlen, "topic '%s' partition %" PRId32 ": cannot read offsets: %s", cfg->topic, failed,
                     rd_kafka_err2str(e));
            return -1;
        }
        if (e) {
            snprintf(err, errlen, "topic '%s': cannot read offsets: %s", cfg->topic, rd_kafka_err2str(e));
            return -1;
        }
    }
    for (size_t i = 0; i < c->nparts; i++) {
        part_state *ps = &c->parts[i];
        rd_kafka_resp_err_t e;
        ps->stop = ps->high;
        const offset_spec *s = start_of(cfg, ps->partition);
        switch (s->kind) {
        case OFFSET_BEGINNING: ps->next = ps->low; break;
        case OFFSET_END: ps->next = ps->high; break;
        case OFFSET_FROM_END: ps->next = ps->high - s->value < ps->low ? ps->low : ps->high - s->value; break;
        case OFFSET_ABSOLUTE:
            ps->next = s->value;
            if (s->value < ps->low || s->value > ps->high) {
                const char *where = s->value < ps->low ? "below the log start (deleted by retention?)"
                                                       : "past the log end (topic recreated?)";
                if (cfg->out_of_range == OUT_OF_RANGE_FAIL) {
                    snprintf(err, errlen,
                             "topic '%s' partition %" PRId32 ": start offset %" PRId64
                             " is %s: the log holds %" PRId64 "..%" PRId64
                             " (--on-out-of-range earliest|latest to move on)",
                             cfg->topic, ps->partition, s->value, where, ps->low, ps->high);
                    return -1;
                }
                ps->next = cfg->out_of_range == OUT_OF_RANGE_EARLIEST ? ps->low : ps->high;
                size_t used = strlen(c->notes);
                snprintf(c->notes + used, sizeof c->notes - used,
                         "%stopic '%s' partition %" PRId32 ": start offset %" PRId64
                         " was %s, started at %" PRId64,
                         used ? "\n" : "", cfg->topic, ps->partition, s->value, where, ps->next);
            }
            break;
        case OFFSET_TIMESTAMP: {
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(l, cfg->topic, ps->partition)->offset = s->value;
            e = rd_kafka_offsets_for_times(c->probe, l, cfg->timeout_ms);
            if (!e) e = l->elems[0].err;
            int64_t found = l->elems[0].offset;
            rd_kafka_topic_partition_list_destroy(l);
            if (e) {
                snprintf(err, errlen,
                         "topic '%s' partition %" PRId32 ": cannot find the offset of time %" PRId64
                         ": %s",
                         cfg->topic, ps->partition, s->value, rd_kafka_err2str(e));
                return -1;
            }
            ps->next = found < 0 ? ps->high : found; /* -1: no message that late */
            break;
        }
        }
        ps->start = ps->next;
        ps->done = ps->next >= ps->stop;
        if (!ps->done) c->pending++;
    }
    return 0;
}

static int assign(consumer *c, char *err, size_t errlen) {
    char why[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c->conf, why, sizeof why);
    if (!c->rk) {
        snprintf(err, errlen, "cannot create Kafka consumer: %s", why);
        return -1;
    }
    c->conf = NULL; /* owned by c->rk now */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->nparts);
    for (size_t i = 0; i < c->nparts; i++)
        if (!c->parts[i].done)
            rd_kafka_topic_partition_list_add(l, c->topic, c->parts[i].partition)->offset =
                c->parts[i].next;
    rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        snprintf(err, errlen, "topic '%s': cannot assign partitions: %s", c->topic,
                 rd_kafka_err2str(e));
        return -1;
    }
    c->queue = rd_kafka_queue_get_consumer(c->rk);
    /* Made once, for finish_passed(): the poll path allocates nothing. */
    c->positions = rd_kafka_topic_partition_list_new((int)c->nparts);
    for (size_t i = 0; i < c->nparts; i++)
        if (!c->parts[i].done) rd_kafka_topic_partition_list_add(c->positions, c->topic, c->parts[i].partition);
    return 0;
}

/* Commits `next` of the partitions selected by `pick` to the group. */
static int commit(consumer *c, int (*pick)(const consumer *, const part_state *), char *err,
                  size_t errlen) {
    if (!c->commit) return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->nparts);
    for (size_t i = 0; i < c->nparts; i++)
        if (pick(c, &c->parts[i]))
            rd_kafka_topic_partition_list_add(l, c->topic, c->parts[i].partition)->offset =
                c->parts[i].next;
    rd_kafka_resp_err_t e = l->cnt ? rd_kafka_commit(c->rk, l, 0) : RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; !e && i < l->cnt; i++) e = l->elems[i].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        snprintf(err, errlen, "topic '%s': cannot commit offsets to the consumer group: %s",
                 c->topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* At start only positions given explicitly are committed: those come from
 * what ClickHouse stored, so they are proven; a default start is not. */
static int given_explicitly(const consumer *c, const part_state *ps) {
    for (size_t i = 0; i < c->nstarts; i++)
        if (c->starts[i].partition == ps->partition) return 1;
    return 0;
}

static int every_partition(const consumer *c, const part_state *ps) {
    (void)c;
    (void)ps;
    return 1;
}

int consumer_commit_positions(consumer *c, char *err, size_t errlen) {
    return commit(c, every_partition, err, errlen);
}

const char *consumer_notes(const consumer *c) { return c->notes; }

int consumer_open(consumer **out, const consumer_config *cfg, char *err, size_t errlen) {
    consumer *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->topic = cfg->topic;
    c->starts = cfg->starts;
    c->nstarts = cfg->nstarts;
    c->commit = cfg->commit_group != NULL;
    if (configure(c, cfg, err, errlen) || load_partitions(c, cfg, err, errlen) ||
        resolve_offsets(c, cfg, err, errlen) || assign(c, err, errlen) ||
        commit(c, given_explicitly, err, errlen)) {
        consumer_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void consumer_close(consumer *c) {
    if (!c) return;
    if (c->queue) rd_kafka_queue_destroy(c->queue);
    if (c->positions) rd_kafka_topic_partition_list_destroy(c->positions);
    /* No group was joined and nothing is committed, so there is nothing
     * for a consumer close to hand over. */
    if (c->rk) rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (c->probe) rd_kafka_destroy_flags(c->probe, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (c->conf) rd_kafka_conf_destroy(c->conf);
    free(c->parts);
    free(c->by_id);
    free(c);
}

static part_state *find_part(consumer *c, int32_t partition) {
    return partition >= 0 && partition <= c->max_id ? c->by_id[partition] : NULL;
}

static void finish(consumer *c, part_state *ps) {
    if (!ps->done) {
        ps->done = 1;
        c->pending--;
    }
}

/* Finishes the partitions whose consumer position has reached the stop
 * offset.  A topic written by a transactional producer ends each
 * transaction with a marker that takes an offset but is never handed out,
 * so the last offset before the stop may have no message; librdkafka moves
 * the position past such markers (and past aborted messages it drops).
 * Without this a run would wait for a partition EOF, which never comes
 * while the producer keeps writing.  Checked only when a poll did not fill
 * the batch: a full batch means more messages are flowing anyway. */
static void finish_passed(consumer *c) {
    rd_kafka_topic_partition_list_t *l = c->positions;
    if (!l || rd_kafka_position(c->rk, l)) return;
    for (int i = 0; i < l->cnt; i++) {
        part_state *ps = find_part(c, l->elems[i].partition);
        if (ps && !ps->done && l->elems[i].offset >= ps->stop) {
            if (l->elems[i].offset > ps->next) ps->next = l->elems[i].offset;
            finish(c, ps);
        }
    }
}

/* The refill after a full queue.  librdkafka 2.0 decides whether to fetch
 * a partition in its broker thread; a partition whose queue holds
 * queued.min.messages or queued.max.messages.kbytes is made "not
 * fetchable" with no deadline, and taking messages off the queue does not
 * tell the broker thread anything.  It looks again only when something
 * else wakes it, in practice its one-second idle timeout: the bridge,
 * faster than the broker thread's refill, would empty the queue and then
 * wait for most of that second, again and again (seen with -X
 * debug=fetch: "not fetchable: queued.max.messages.kbytes exceeded",
 * then nothing for 1 s; on a 1M-message topic half the run went by in
 * empty polls).
 *
 * A seek is the public call that makes the broker thread decide again at
 * once.  So when the queue has been near one of its limits (where the
 * partitions may have been stopped) and has then nearly drained, every
 * partition still to finish is sought to the offset it expects next.
 * That loses nothing: a seek discards what was fetched before it, and
 * what it discards is fetched again from that offset; consumer_poll()
 * drops anything below a partition's next offset, should an older
 * message still come through.  The queue's byte count is not public, so
 * it is estimated from the payloads seen so far (librdkafka counts the
 * payload only). */
static void restart_fetches(consumer *c) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->pending);
    for (size_t i = 0; i < c->nparts; i++) {
        const part_state *ps = &c->parts[i];
        if (!ps->done) rd_kafka_topic_partition_list_add(l, c->topic, ps->partition)->offset = ps->next;
    }
    /* Timeout 0: asynchronous.  Should it fail, librdkafka's own second
     * still restarts the fetch, so there is nothing to report. */
    rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 0);
    if (e) rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(l);
    c->refills++;
}

/* Called before each poll that wants `max` messages.  The restart comes
 * once fewer than that are left, rather than when the queue is empty: a
 * poll waits out its timeout for a batch it cannot fill, and the few
 * messages a seek discards are fetched again in the same round trip. */
static void note_queue_level(consumer *c, size_t max) {
    uint64_t queued = (uint64_t)rd_kafka_queue_length(c->queue);
    if (c->queue_was_near_limit) {
        if (queued < max) {
            c->queue_was_near_limit = 0;
            restart_fetches(c);
        }
        return;
    }
    uint64_t avg = c->seen_messages ? c->seen_bytes / c->seen_messages : 0;
    /* Three quarters: between two polls the queue may have touched the
     * limit and come down again. */
    if (queued * 4 >= c->queue_limit_messages * 3 || queued * avg * 4 >= c->queue_limit_bytes * 3)
        c->queue_was_near_limit = 1;
}

uint64_t consumer_refills(const consumer *c) { return c->refills; }

int consumer_poll(consumer *c, rd_kafka_message_t **msgs, size_t max, int timeout_ms, size_t *n,
                  char *err, size_t errlen) {
    *n = 0;
    if (c->pending == 0) return 0;
    note_queue_level(c, max);
    ssize_t got = rd_kafka_consume_batch_queue(c->queue, timeout_ms, msgs, max);
    if (got < 0) {
        snprintf(err, errlen, "topic '%s': consume failed: %s", c->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    size_t kept = 0;
    int rc = 0;
    for (ssize_t i = 0; i < got; i++) {
        rd_kafka_message_t *m = msgs[i];
        part_state *ps = find_part(c, m->partition);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (ps && m->offset >= ps->stop) finish(c, ps);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            /* Connection trouble is retried by librdkafka and shows up as
             * a stall, which the caller bounds; anything else is final. */
            if (rc == 0 && m->err != RD_KAFKA_RESP_ERR__TRANSPORT &&
                m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                snprintf(err, errlen, "topic '%s' partition %" PRId32 " offset %" PRId64 ": %s",
                         c->topic, m->partition, m->offset, rd_kafka_message_errstr(m));
                rc = -1;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (rc != 0 || !ps || ps->done || m->offset >= ps->stop) {
            /* A message at or past the stop offset means the partition has
             * nothing more to give this run, even when the offsets before
             * the stop hold no message (a transaction marker, or messages
             * of an aborted transaction). */
            if (rc == 0 && ps && m->offset >= ps->stop) finish(c, ps);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->offset < ps->next) {
            /* Already handed out: fetched before a seek (restart_fetches). */
            rd_kafka_message_destroy(m);
            continue;
        }
        c->seen_messages++;
        c->seen_bytes += m->len;
        ps->next = m->offset + 1;
        if (ps->next >= ps->stop) finish(c, ps);
        msgs[kept++] = m;
    }
    if (rc != 0) {
        for (size_t i = 0; i < kept; i++) rd_kafka_message_destroy(msgs[i]);
        return -1;
    }
    *n = kept;
    if (c->pending && kept < max) finish_passed(c);
    return 0;
}

int consumer_done(const consumer *c) { return c->pending == 0; }

size_t consumer_partition_count(const consumer *c) { return c->nparts; }

void consumer_partition_info(const consumer *c, size_t i, int32_t *partition, int64_t *low,
                             int64_t *high, int64_t *start) {
    const part_state *ps = &c->parts[i];
    *partition = ps->partition;
    *low = ps->low;
    *high = ps->high;
    *start = ps->start;
}

void consumer_describe_pending(const consumer *c, char *out, size_t outlen) {
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->nparts && o + 48 < outlen; i++) {
        const part_state *ps = &c->parts[i];
        if (ps->done) continue;
        o += (size_t)snprintf(out + o, outlen - o, "%s%" PRId32 " at %" PRId64 " of %" PRId64,
                              o ? ", " : "partition ", ps->partition, ps->next, ps->stop);
    }
    if (c->trouble.last[0] && o + 24 < outlen)
        snprintf(out + o, outlen - o, "; last broker error: %s", c->trouble.last);
}
