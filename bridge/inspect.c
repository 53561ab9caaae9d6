#include "inspect.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kafkaconf.h"

/* Names and canonical types (as ClickHouse prints them, so that
 * RowBinaryWithNamesAndTypes checks pass). */
typedef struct column { const char *name, *type; } column;

static const column topics_cols[] = {
    {"topic", "String"}, {"partition", "Int32"}, {"leader", "Int32"}, {"replicas", "Array(Int32)"},
    {"isr", "Array(Int32)"}, {"log_start", "Int64"}, {"log_end", "Int64"}, {"error", "String"},
};
static const column groups_cols[] = {
    {"group", "String"}, {"state", "String"}, {"topic", "String"}, {"partition", "Int32"},
    {"committed", "Int64"}, {"log_end", "Int64"}, {"lag", "Int64"},
};
static const column peek_cols[] = {
    {"partition", "Int32"}, {"offset", "Int64"}, {"timestamp", "Nullable(DateTime64(3, 'UTC'))"},
    {"key", "Nullable(String)"}, {"value", "Nullable(String)"},
    {"headers", "Array(Tuple(name String, value Nullable(String)))"},
};

static const struct {
    const char *mode;
    const column *cols;
    size_t ncols;
    const char *structure;
} table[] = {
    {"topics", topics_cols, sizeof topics_cols / sizeof *topics_cols,
     "topic String, partition Int32, leader Int32, replicas Array(Int32), isr Array(Int32), "
     "log_start Int64, log_end Int64, error String"},
    {"groups", groups_cols, sizeof groups_cols / sizeof *groups_cols,
     "group String, state String, topic String, partition Int32, committed Int64, log_end Int64, lag Int64"},
    {"peek", peek_cols, sizeof peek_cols / sizeof *peek_cols,
     "partition Int32, offset Int64, timestamp Nullable(DateTime64(3, 'UTC')), key Nullable(String), "
     "value Nullable(String), headers Array(Tuple(name String, value Nullable(String)))"},
};

const char *inspect_columns(const char *mode) {
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcmp(table[i].mode, mode)) return table[i].structure;
    return NULL;
}

typedef struct inspector {
    const bridge_options *o;
    rd_kafka_t *rk;
    buf *rows;
    kafkaconf_trouble trouble; /* what librdkafka's callbacks said */
    char *err;
    size_t errlen;
} inspector;

__attribute__((format(printf, 2, 3)))
static int fail(inspector *in, const char *fmt, ...) {
    char line[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (in->trouble.last[0]) snprintf(in->err, in->errlen, "%s; last broker error: %s", line, in->trouble.last);
    else snprintf(in->err, in->errlen, "%s", line);
    return -1;
}

/* For a wait that ended without an answer from the brokers: their last
 * problem is the cause, so it comes first (ClickHouse shows only the
 * start of a long message), a refused password or certificate before
 * anything later. */
__attribute__((format(printf, 2, 3)))
static int fail_waiting(inspector *in, const char *fmt, ...) {
    char line[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const char *cause = in->trouble.fatal ? in->trouble.fatal_reason : in->trouble.last;
    if (cause[0]) snprintf(in->err, in->errlen, "%s; %s", cause, line);
    else snprintf(in->err, in->errlen, "%s", line);
    return -1;
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
    (void)rk;
    inspector *in = opaque;
    kafkaconf_trouble_error(&in->trouble, code, reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *line) {
    /* stderr is ClickHouse's pipe: keep diagnostics for the error line. */
    (void)facility;
    inspector *in = rd_kafka_opaque(rk);
    kafkaconf_trouble_log(&in->trouble, level, line);
}

static int open_client(inspector *in) {
    char why[512];
    uint64_t budget = in->o->memory_budget ? in->o->memory_budget : KAFKACONF_DEFAULT_BUDGET;
    rd_kafka_conf_t *conf = kafkaconf_new(KAFKACONF_CONSUMER, "kafka-bridge-inspect", in->o->brokers,
                                          in->o->properties, in->o->nproperties, budget, why, sizeof why);
    if (!conf) return fail(in, "cannot create a Kafka client: %s", why);
    rd_kafka_conf_set_opaque(conf, in);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!in->rk) {
        rd_kafka_conf_destroy(conf);
        return fail(in, "cannot create a Kafka client: %s", why);
    }
    return 0;
}

static void put_string(buf *b, const char *s) { buf_rb_string(b, s, strlen(s)); }

static int transient(rd_kafka_resp_err_t e) {
    return e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION || e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
           e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || e == RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE ||
           e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Watermarks, retrying the errors of a leader election within the
 * timeout. */
static rd_kafka_resp_err_t watermarks(inspector *in, const char *topic, int32_t partition, int64_t *low,
                                      int64_t *high) {
    const double deadline = now_ms() + in->o->timeout_ms;
    for (;;) {
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(in->rk, topic, partition, low, high, in->o->timeout_ms);
        if (!e || !transient(e) || now_ms() >= deadline) return e;
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

/* rd_kafka_metadata() in short slices, serving the error callback in
 * between: a password the broker refused or a certificate that does not
 * verify ends the wait at once, where librdkafka would retry it until the
 * timeout. */
static rd_kafka_resp_err_t wait_metadata(inspector *in, int all, rd_kafka_topic_t *rkt,
                                         const struct rd_kafka_metadata **md) {
    const double deadline = now_ms() + in->o->timeout_ms;
    double slice = 250;
    for (;;) {
        double began = now_ms(), left = deadline - began;
        double wait = slice < left ? slice : left;
        rd_kafka_resp_err_t e = rd_kafka_metadata(in->rk, all, rkt, md, wait < 1 ? 1 : (int)wait);
        rd_kafka_poll(in->rk, 0);
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT && e != RD_KAFKA_RESP_ERR__TRANSPORT) return e;
        if (in->trouble.fatal || now_ms() >= deadline) return e;
        double spent = now_ms() - began; /* a transport error may come back at once */
        if (spent < wait) {
            long rest = (long)(wait - spent);
            struct timespec ts = {rest / 1000, (rest % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (slice < 4000) slice *= 2;
    }
}

static int metadata(inspector *in, const char *topic, const struct rd_kafka_metadata **md) {
    rd_kafka_topic_t *rkt = topic ? rd_kafka_topic_new(in->rk, topic, NULL) : NULL;
    rd_kafka_resp_err_t e = wait_metadata(in, topic ? 0 : 1, rkt, md);
    if (rkt) rd_kafka_topic_destroy(rkt);
    if (e)
        return fail_waiting(in, "cannot read metadata%s%s%s from %s: %s", topic ? " of topic '" : "",
                            topic ? topic : "", topic ? "'" : "",
                            in->o->brokers ? in->o->brokers : "(no brokers given)", rd_kafka_err2str(e));
    if (topic && ((*md)->topic_cnt != 1 || (*md)->topics[0].err)) {
        rd_kafka_resp_err_t te = (*md)->topic_cnt ? (*md)->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        rd_kafka_metadata_destroy(*md);
        return fail(in, "topic '%s': %s", topic, rd_kafka_err2str(te));
    }
    return 0;
}

static int cmp_topic(const void *a, const void *b) {
    return strcmp(((const struct rd_kafka_metadata_topic *)a)->topic,
                  ((const struct rd_kafka_metadata_topic *)b)->topic);
}

static int cmp_partition(const void *a, const void *b) {
    int32_t x = ((const struct rd_kafka_metadata_partition *)a)->id;
    int32_t y = ((const struct rd_kafka_metadata_partition *)b)->id;
    return (x > y) - (x < y);
}

static int wanted(const bridge_options *o, int32_t partition) {
    if (!o->npartitions) return 1;
    for (size_t i = 0; i < o->npartitions; i++)
        if (o->partitions[i] == partition) return 1;
    return 0;
}

static int run_topics(inspector *in) {
    const struct rd_kafka_metadata *md;
    if (metadata(in, in->o->topic, &md)) return -1;
    /* Sorted, so the table reads like kcat -L; the metadata is ours to
     * reorder (librdkafka hands out a private copy). */
    struct rd_kafka_metadata_topic *topics = (struct rd_kafka_metadata_topic *)md->topics;
    qsort(topics, (size_t)md->topic_cnt, sizeof *topics, cmp_topic);
    for (int t = 0; t < md->topic_cnt; t++) {
        struct rd_kafka_metadata_topic *tp = &topics[t];
        qsort(tp->partitions, (size_t)tp->partition_cnt, sizeof *tp->partitions, cmp_partition);
        for (int p = 0; p < tp->partition_cnt; p++) {
            const struct rd_kafka_metadata_partition *mp = &tp->partitions[p];
            if (!wanted(in->o, mp->id)) continue;
            int64_t low = -1, high = -1;
            rd_kafka_resp_err_t e = mp->err ? mp->err : watermarks(in, tp->topic, mp->id, &low, &high);
            put_string(in->rows, tp->topic);
            buf_le(in->rows, (uint32_t)mp->id, 4);
            buf_le(in->rows, (uint32_t)mp->leader, 4);
            buf_leb128(in->rows, (uint64_t)mp->replica_cnt);
            for (int i = 0; i < mp->replica_cnt; i++) buf_le(in->rows, (uint32_t)mp->replicas[i], 4);
            buf_leb128(in->rows, (uint64_t)mp->isr_cnt);
            for (int i = 0; i < mp->isr_cnt; i++) buf_le(in->rows, (uint32_t)mp->isrs[i], 4);
            buf_le(in->rows, (uint64_t)low, 8);
            buf_le(in->rows, (uint64_t)high, 8);
            put_string(in->rows, e ? rd_kafka_err2str(e) : "");
        }
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* One admin request, waited for in short slices (see wait_metadata());
 * returns the event (the caller destroys it) or NULL with err filled. */
static rd_kafka_event_t *admin_wait(inspector *in, rd_kafka_queue_t *q, const char *what) {
    const double deadline = now_ms() + in->o->timeout_ms + 1000;
    rd_kafka_event_t *ev = NULL;
    while (!ev && !in->trouble.fatal && now_ms() < deadline) {
        ev = rd_kafka_queue_poll(q, 100);
        rd_kafka_poll(in->rk, 0);
    }
    if (!ev) {
        fail_waiting(in, "%s: no answer within %d ms", what, in->o->timeout_ms);
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
        if (e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT)
            fail_waiting(in, "%s: %s", what, rd_kafka_event_error_string(ev));
        else
            fail(in, "%s: %s", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmp_tp(const void *a, const void *b) {
    const rd_kafka_topic_partition_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static int group_offsets(inspector *in, rd_kafka_queue_t *q, const char *group, const char *state) {
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(in->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    char why[256];
    rd_kafka_AdminOptions_set_request_timeout(opts, in->o->timeout_ms, why, sizeof why);
    rd_kafka_ListConsumerGroupOffsets(in->rk, &req, 1, opts, q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    char what[300];
    snprintf(what, sizeof what, "offsets of consumer group '%s'", group);
    rd_kafka_event_t *ev = admin_wait(in, q, what);
    if (!ev) return -1;
    size_t n;
    const rd_kafka_group_result_t **res =
        rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    int rc = 0, rows = 0;
    for (size_t g = 0; g < n && !rc; g++) {
        const rd_kafka_error_t *ge = rd_kafka_group_result_error(res[g]);
        if (ge) {
            rc = fail(in, "%s: %s", what, rd_kafka_error_string(ge));
            break;
        }
        const rd_kafka_topic_partition_list_t *parts = rd_kafka_group_result_partitions(res[g]);
        rd_kafka_topic_partition_list_t *sorted = rd_kafka_topic_partition_list_copy(parts);
        qsort(sorted->elems, (size_t)sorted->cnt, sizeof *sorted->elems, cmp_tp);
        for (int i = 0; i < sorted->cnt; i++) {
            const rd_kafka_topic_partition_t *tp = &sorted->elems[i];
            if (in->o->topic && strcmp(tp->topic, in->o->topic)) continue;
            if (tp->offset < 0) continue; /* listed, nothing committed */
            int64_t low, high;
            rd_kafka_resp_err_t e = watermarks(in, tp->topic, tp->partition, &low, &high);
            if (e) {
                rc = fail(in, "consumer group '%s': topic '%s' partition %" PRId32 ": %s", group, tp->topic,
                          tp->partition, rd_kafka_err2str(e));
                break;
            }
            put_string(in->rows, group);
            put_string(in->rows, state);
            put_string(in->rows, tp->topic);
            buf_le(in->rows, (uint32_t)tp->partition, 4);
            buf_le(in->rows, (uint64_t)tp->offset, 8);
            buf_le(in->rows, (uint64_t)high, 8);
            buf_le(in->rows, (uint64_t)(high > tp->offset ? high - tp->offset : 0), 8);
            rows++;
        }
        rd_kafka_topic_partition_list_destroy(sorted);
    }
    if (!rc && !rows && !in->o->topic) {
        put_string(in->rows, group);
        put_string(in->rows, state);
        put_string(in->rows, "");
        buf_le(in->rows, (uint32_t)-1, 4);
        buf_le(in->rows, (uint64_t)-1, 8);
        buf_le(in->rows, (uint64_t)-1, 8);
        buf_le(in->rows, 0, 8);
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

static int run_groups(inspector *in) {
    rd_kafka_queue_t *q = rd_kafka_queue_new(in->rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(in->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    char why[256];
    rd_kafka_AdminOptions_set_request_timeout(opts, in->o->timeout_ms, why, sizeof why);
    rd_kafka_ListConsumerGroups(in->rk, opts, q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_event_t *ev = admin_wait(in, q, "list of consumer groups");
    if (!ev) {
        rd_kafka_queue_destroy(q);
        return -1;
    }
    const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
    size_t n, nerr;
    const rd_kafka_ConsumerGroupListing_t **groups = rd_kafka_ListConsumerGroups_result_valid(res, &n);
    const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
    int rc = 0;
    if (nerr) rc = fail(in, "list of consumer groups: %s", rd_kafka_error_string(errs[0]));
    /* Names and states copied out, sorted: the event owns the listings. */
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) abort();
    for (size_t i = 0; i < n && !rc; i++) {
        const char *state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(groups[i]));
        const char *id = rd_kafka_ConsumerGroupListing_group_id(groups[i]);
        size_t len = strlen(id) + 1 + strlen(state) + 1;
        names[i] = malloc(len);
        if (!names[i]) abort();
        snprintf(names[i], len, "%s%c%s", id, 0, state);
    }
    if (!rc) qsort(names, n, sizeof *names, cmp_str);
    rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n && !rc; i++) rc = group_offsets(in, q, names[i], names[i] + strlen(names[i]) + 1);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    rd_kafka_queue_destroy(q);
    return rc;
}

static void put_nullable(buf *b, const void *p, size_t n) {
    if (!p) {
        buf_u8(b, 1);
        return;
    }
    buf_u8(b, 0);
    buf_rb_string(b, p, n);
}

static void put_message(buf *b, const rd_kafka_message_t *m) {
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    buf_le(b, (uint32_t)m->partition, 4);
    buf_le(b, (uint64_t)m->offset, 8);
    if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) {
        buf_u8(b, 1);
    } else {
        buf_u8(b, 0);
        buf_le(b, (uint64_t)ts, 8);
    }
    put_nullable(b, m->key, m->key_len);
    put_nullable(b, m->payload, m->len);
    rd_kafka_headers_t *hdrs = NULL;
    size_t count = 0;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) count = rd_kafka_header_cnt(hdrs);
    buf_leb128(b, count);
    for (size_t i = 0; i < count; i++) {
        const char *name;
        const void *value;
        size_t size;
        rd_kafka_header_get_all(hdrs, i, &name, &value, &size);
        put_string(b, name);
        put_nullable(b, value, size);
    }
}

static int run_peek(inspector *in) {
    if (!in->o->topic) return fail(in, "--inspect peek needs a topic (-t, or topic in a pipeline file)");
    const struct rd_kafka_metadata *md;
    if (metadata(in, in->o->topic, &md)) return -1;
    const struct rd_kafka_metadata_topic *t = &md->topics[0];
    int64_t count = in->o->max_rows ? (int64_t)(in->o->max_rows > INT32_MAX ? INT32_MAX : in->o->max_rows) : 10;
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(t->partition_cnt);
    int64_t *stop = calloc((size_t)t->partition_cnt + 1, sizeof *stop);
    int32_t *ids = calloc((size_t)t->partition_cnt + 1, sizeof *ids);
    if (!stop || !ids) abort();
    size_t nparts = 0, pending = 0;
    int rc = 0;
    for (size_t i = 0; i < in->o->npartitions && !rc; i++) {
        int found = 0;
        for (int p = 0; p < t->partition_cnt; p++) found |= t->partitions[p].id == in->o->partitions[i];
        if (!found)
            rc = fail(in, "topic '%s' has no partition %" PRId32 " (it has %d)", in->o->topic, in->o->partitions[i],
                      t->partition_cnt);
    }
    for (int p = 0; p < t->partition_cnt && !rc; p++) {
        int32_t id = t->partitions[p].id;
        if (!wanted(in->o, id)) continue;
        int64_t low, high;
        rd_kafka_resp_err_t e = watermarks(in, in->o->topic, id, &low, &high);
        if (e) {
            rc = fail(in, "topic '%s' partition %" PRId32 ": %s", in->o->topic, id, rd_kafka_err2str(e));
            break;
        }
        ids[nparts] = id;
        stop[nparts++] = high;
        if (high <= low) continue;
        int64_t from = high - count > low ? high - count : low;
        rd_kafka_topic_partition_list_add(assign, in->o->topic, id)->offset = from;
        pending++;
    }
    rd_kafka_metadata_destroy(md);
    if (!rc && pending) {
        rd_kafka_resp_err_t e = rd_kafka_assign(in->rk, assign);
        if (e) rc = fail(in, "topic '%s': cannot assign partitions: %s", in->o->topic, rd_kafka_err2str(e));
    }
    /* Each partition ends at the end seen at the start: a message at or
     * past it, or the partition's end (a transaction marker can be the
     * last offset). */
    double last = now_ms();
    while (!rc && pending) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, 100);
        if (!m) {
            rd_kafka_poll(in->rk, 0); /* the error callback */
            if (in->trouble.fatal) {
                rc = fail_waiting(in, "topic '%s': %zu partition(s) unread", in->o->topic, pending);
                break;
            }
            if (now_ms() - last > in->o->idle_timeout * 1000)
                rc = fail(in, "topic '%s': no message for %.1f s while %zu partition(s) are unread", in->o->topic,
                          in->o->idle_timeout, pending);
            continue;
        }
        last = now_ms();
        size_t i = 0;
        while (i < nparts && ids[i] != m->partition) i++;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (i < nparts && stop[i] >= 0) {
                stop[i] = -1;
                pending--;
            }
        } else if (m->err) {
            rc = fail(in, "topic '%s' partition %" PRId32 ": %s", in->o->topic, m->partition,
                      rd_kafka_message_errstr(m));
        } else if (i < nparts && stop[i] >= 0) {
            if (m->offset < stop[i]) put_message(in->rows, m);
            if (m->offset + 1 >= stop[i]) {
                stop[i] = -1;
                pending--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(assign);
    free(stop);
    free(ids);
    return rc;
}

static void put_header(buf *b, const column *cols, size_t n) {
    buf_leb128(b, n);
    for (size_t i = 0; i < n; i++) put_string(b, cols[i].name);
    for (size_t i = 0; i < n; i++) put_string(b, cols[i].type);
}

int inspect_run(const bridge_options *o, output *out, char *err, size_t errlen) {
    inspector in = {.o = o, .err = err, .errlen = errlen};
    size_t mode = 0;
    while (mode < sizeof table / sizeof *table && strcmp(table[mode].mode, o->inspect)) mode++;
    if (mode == sizeof table / sizeof *table) {
        snprintf(err, errlen, "--inspect: unknown mode '%s' (topics, groups, peek or watermarks)", o->inspect);
        return -1;
    }
    buf rows;
    buf_init(&rows, 4096);
    in.rows = &rows;
    int rc = open_client(&in);
    if (!rc) {
        if (mode == 0) rc = run_topics(&in);
        else if (mode == 1) rc = run_groups(&in);
        else rc = run_peek(&in);
    }
    if (in.rk) {
        rd_kafka_consumer_close(in.rk);
        rd_kafka_destroy(in.rk);
    }
    if (!rc) {
        if (o->with_header) put_header(&out->rows, table[mode].cols, table[mode].ncols);
        buf_put(&out->rows, rows.data, rows.len);
        rc = output_flush(out, err, errlen) == OUTPUT_ERROR ? -1 : 0;
    }
    buf_free(&rows);
    return rc;
}
