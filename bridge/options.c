#include "options.h"

#include "decoder.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafkaconf.h"
#include "version.h"

static const char usage[] =
    "Usage: kafka-bridge [options]\n"
    "Reads a Kafka topic and writes its messages as ClickHouse RowBinary rows to\n"
    "stdout, for ClickHouse's executable() table function.\n"
    "\n"
    "Where to read:\n"
    "  -b, --brokers LIST        bootstrap brokers, host:port[,host:port...]\n"
    "  -t, --topic NAME          topic to read\n"
    "  -p, --partitions LIST     partitions to read: 0,1,5 or 0-3 (default: all)\n"
    "  -o, --offset SPEC         where to start: beginning|earliest, end|latest, N,\n"
    "                            -N (N before the end), s@MS (first message at or\n"
    "                            after a time in ms); P:SPEC for partition P only.\n"
    "                            Repeat or separate with commas. Default: beginning\n"
    "  -X, --property NAME=VALUE librdkafka property (repeatable)\n"
    "      --memory-budget SIZE  memory librdkafka may hold for prefetched\n"
    "                            messages, in total (48M; K, M, G suffixes)\n"
    "\n"
    "What to write:\n"
    "      --columns LIST        ClickHouse columns, e.g. 'id UInt64, name String',\n"
    "                            or without spaces: id:UInt64,name:String\n"
    "  -s, --format FORMAT       message format: json (default), msgpack,\n"
    "                            msgpack-positional, raw, lines, avro-confluent\n"
    "                            or avro (see docs/avro-rules.md)\n"
    "      --key-format FORMAT   format of the message key, for columns whose\n"
    "                            PATH starts with $key: json, msgpack, raw\n"
    "  -O, --output FORMAT       RowBinaryWithNamesAndTypes (default), RowBinary or\n"
    "                            Native (blocks of columns, see README); must\n"
    "                            match the format given to executable()\n"
    "\n"
    "When to stop (by default: at the end offsets seen when the run starts):\n"
    "  -c, --max-rows N          stop after N rows\n"
    "      --max-time SECONDS    stop after this long\n"
    "      --idle-timeout SECONDS\n"
    "                            fail if no message arrives for this long while\n"
    "                            some are still due (default 5; keep it below\n"
    "                            ClickHouse's command_read_timeout)\n"
    "\n"
    "Resuming and exactly-once (see README):\n"
    "      --offsets-from stdin  start each partition at the next offset given by\n"
    "                            the input query: rows (partition, next offset),\n"
    "                            in RowBinaryWithNamesAndTypes; partitions not\n"
    "                            listed start at --offset\n"
    "      --on-out-of-range fail|earliest|latest\n"
    "                            a start offset below the log start or past the\n"
    "                            end: fail (default), or move there and say so\n"
    "      --lock FILE           refuse to run while another run holds FILE\n"
    "                            (pipelines: NAME.lock beside NAME.conf; none\n"
    "                            to disable)\n"
    "      --lock-grace SECONDS  (pipeline files) how long after a run the next\n"
    "                            refuses to read while the table lacks that run's\n"
    "                            rows, as ClickHouse may still be committing them\n"
    "                            (default 60; 0: no check; README, Exactly once)\n"
    "      --shard I/N           read only partitions p with p % N == I\n"
    "      --commit-group GROUP  commit the start positions to a consumer group,\n"
    "                            so Kafka's lag tools see what ClickHouse holds\n"
    "      --commit-on-exit      also commit the end positions when the run ends\n"
    "                            (at-most-once for those tools: see README)\n"
    "      --watermarks          read no messages: write one row per partition,\n"
    "                            (partition Int32, log_start Int64, log_end Int64,\n"
    "                            start Int64, lag Int64), start being where a run\n"
    "                            with the same options would begin\n"
    "      --inspect MODE        read no messages for keeps: topics (partitions,\n"
    "                            leaders, replicas, ISR, log start/end), groups\n"
    "                            (committed offsets and lag), peek (the last -c N\n"
    "                            messages of each partition), watermarks; each\n"
    "                            writes fixed columns (see README)\n"
    "\n"
    "Messages that cannot become rows:\n"
    "      --on-error fail|skip|dead-letter|stream\n"
    "                            fail the run (default); skip and report at exit;\n"
    "                            copy to --dead-letter-topic; or emit a row with\n"
    "                            _error and _raw filled.  With an _error column,\n"
    "                            skip and dead-letter also emit a row per handled\n"
    "                            message (_error set, _raw empty) so the stored\n"
    "                            positions move past it; --offsets-from stdin\n"
    "                            requires that column with them\n"
    "      --dead-letter-topic NAME\n"
    "\n"
    "Pipelines and the rest:\n"
    "  -F, --config FILE         (pipeline files only) include another file\n"
    "      --pipeline NAME       read NAME.conf from the pipeline directory:\n"
    "                            $KAFKA_BRIDGE_PIPELINES, or kafka-bridge.d/ beside\n"
    "                            this program\n"
    "      --flush-interval MS   write buffered rows at least this often (1000)\n"
    "      --timeout MS          metadata and offset look-ups (5000)\n"
    "      --trust-exit-code     on failure, keep the output valid and rely on the\n"
    "                            exit status (needs check_exit_code = 1)\n"
    "      --describe            print the ClickHouse column list for the latest\n"
    "                            schema of <topic>-value in the schema registry, or\n"
    "                            of avro-schema with format avro (<topic>-key's or\n"
    "                            avro-schema's first with key-format avro-confluent\n"
    "                            or avro)\n"
    "  -h, --help                this text\n"
    "  -V, --version             the version\n"
    "\n"
    "Metadata columns: _topic String, _partition Int32|UInt32|Int64|UInt64,\n"
    "_offset Int64|UInt64, _timestamp DateTime64(P)|DateTime, _key String,\n"
    "_headers.name Array(String), _headers.value Array([Nullable(]String[)]),\n"
    "_headers Map(String, [Nullable(]String[)]) (a repeated name keeps its last\n"
    "value), and with --on-error stream _error String, _raw String.\n"
    "\n"
    "The command line comes from SQL: under --pipeline it may set only what the\n"
    "pipeline file allows (offsets, limits, partitions, output, error policy by\n"
    "default); without --pipeline it needs adhoc = true in the pipeline\n"
    "directory's _server.conf, and -X takes only tuning properties (README,\n"
    "Security).  -F and --lock are for pipeline files only.\n"
    "Exit status: 0 done, 1 failed (one line on stderr), 2 bad usage.\n";

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dup_or_die(const char *s) {
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    return d;
}

static void *grow(void *p, size_t n, size_t size) {
    void *q = realloc(p, n * size);
    if (!q) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    return q;
}

static void set_string(char **field, const char *value) {
    free(*field);
    *field = dup_or_die(value);
}

static int parse_u64(const char *name, const char *v, uint64_t *out, char *err, size_t errlen) {
    char *end;
    errno = 0;
    if (*v < '0' || *v > '9') return fail(err, errlen, "%s: expected a number, got '%s'", name, v);
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || errno) return fail(err, errlen, "%s: expected a number, got '%s'", name, v);
    *out = n;
    return 0;
}

static int parse_seconds(const char *name, const char *v, double *out, char *err, size_t errlen) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !(d >= 0) || d > 1e9)
        return fail(err, errlen, "%s: expected a number of seconds, got '%s'", name, v);
    *out = d;
    return 0;
}

static int parse_ms(const char *name, const char *v, int *out, char *err, size_t errlen) {
    uint64_t n = 0;
    if (parse_u64(name, v, &n, err, errlen)) return -1;
    if (n == 0 || n > INT_MAX) return fail(err, errlen, "%s: out of range: %s", name, v);
    *out = (int)n;
    return 0;
}

static char *trim(char *s) {
    /* \r counts as a blank at either end: files edited on Windows, and
     * stray carriage returns, must not reach a broker address. */
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
    return s;
}

static int add_partition(bridge_options *o, uint64_t p, char *err, size_t errlen) {
    if (p > INT32_MAX) return fail(err, errlen, "partition %llu is out of range", (unsigned long long)p);
    for (size_t i = 0; i < o->npartitions; i++)
        if (o->partitions[i] == (int32_t)p)
            return fail(err, errlen, "partition %llu is listed twice", (unsigned long long)p);
    o->partitions = grow(o->partitions, o->npartitions + 1, sizeof *o->partitions);
    o->partitions[o->npartitions++] = (int32_t)p;
    return 0;
}

static int set_partitions(bridge_options *o, const char *v, char *err, size_t errlen) {
    char *copy = dup_or_die(v), *save = NULL, *item;
    int rc = 0;
    for (item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        uint64_t a = 0, b = 0;
        item = trim(item);
        char *dash = strchr(item, '-');
        if (dash) *dash = '\0';
        if (parse_u64("--partitions", item, &a, err, errlen) ||
            (dash && parse_u64("--partitions", dash + 1, &b, err, errlen))) {
            rc = -1;
            break;
        }
        if (!dash) b = a;
        if (b < a || b - a > 100000) {
            rc = fail(err, errlen, "--partitions: bad range %s", v);
            break;
        }
        for (uint64_t p = a; p <= b && !rc; p++) rc = add_partition(o, p, err, errlen);
    }
    free(copy);
    return rc;
}

static int set_offsets(bridge_options *o, const char *v, char *err, size_t errlen) {
    char *copy = dup_or_die(v), *save = NULL, *item;
    int rc = 0;
    for (item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        item = trim(item);
        char *colon = strchr(item, ':');
        offset_spec spec;
        if (!colon) {
            rc = offset_spec_parse(item, &spec, err, errlen);
            if (!rc) o->default_start = spec;
            continue;
        }
        *colon = '\0';
        uint64_t p = 0;
        if (parse_u64("--offset partition", item, &p, err, errlen) || p > INT32_MAX ||
            offset_spec_parse(colon + 1, &spec, err, errlen)) {
            if (p > INT32_MAX) fail(err, errlen, "--offset: partition %s is out of range", item);
            rc = -1;
            break;
        }
        size_t i = 0;
        while (i < o->nstarts && o->starts[i].partition != (int32_t)p) i++;
        if (i == o->nstarts) {
            o->starts = grow(o->starts, o->nstarts + 1, sizeof *o->starts);
            o->nstarts++;
        }
        o->starts[i] = (partition_start){(int32_t)p, spec};
    }
    free(copy);
    return rc;
}

static int add_property(bridge_options *o, const char *kv, char *err, size_t errlen) {
    if (!strchr(kv, '=')) return fail(err, errlen, "-X %s: expected name=value", kv);
    o->properties = grow(o->properties, o->nproperties + 1, sizeof *o->properties);
    o->properties[o->nproperties++] = dup_or_die(kv);
    return 0;
}

static int set_budget(bridge_options *o, const char *v, char *err, size_t errlen) {
    char why[256];
    kafkaconf_limits l;
    if (kafkaconf_parse_size(v, &o->memory_budget, why, sizeof why) ||
        kafkaconf_limits_for(o->memory_budget, &l, why, sizeof why))
        return fail(err, errlen, "--memory-budget: %s", why);
    return 0;
}

static int set_output(bridge_options *o, const char *v, char *err, size_t errlen) {
    int with_header = 0, native = 0;
    if (!strcmp(v, "RowBinaryWithNamesAndTypes")) with_header = 1;
    else if (!strcmp(v, "Native")) native = 1;
    else if (strcmp(v, "RowBinary"))
        return fail(err, errlen, "--output: expected Native, RowBinaryWithNamesAndTypes or RowBinary, got '%s'", v);
    o->with_header = with_header;
    o->native = native;
    return 0;
}

static int set_format(char **field, const char *name, const char *v, char *err, size_t errlen) {
    if (!kb_decoder_find(v))
        return fail(err, errlen, "%s: unsupported message format '%s' (supported: %s)", name, v, kb_decoder_names());
    set_string(field, v);
    return 0;
}

static int set_bool(const char *name, const char *v, int *out, char *err, size_t errlen) {
    if (!v || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) *out = 0;
    else return fail(err, errlen, "%s: expected true or false, got '%s'", name, v);
    return 0;
}

static int load_file(bridge_options *o, const char *path, int depth, char *err, size_t errlen);

/* Who may set what.  The command line arrives from SQL text, written by
 * any user who may run executable() and logged by ClickHouse; files in the
 * pipeline directory come from the server's admin.  As with ClickHouse's
 * named collections, a query may set only the keys the admin lets it: by
 * default those that choose what to read of the pipeline's topic and how
 * to hand it over, never where to connect, with which credentials, or
 * which files to touch.  A pipeline widens or narrows this with
 * `overridable = KEY,...` and `not_overridable = KEY,...`. */
static const struct {
    const char *name;
    int query_may; /* by default, under --pipeline */
} keys[] = {
    {"brokers", 0}, {"topic", 0}, {"columns", 0}, {"format", 0}, {"property", 0},
    {"lock", 0}, {"lock-grace", 0}, {"config", 0}, {"dead-letter-topic", 0}, {"commit-group", 0},
    {"commit-on-exit", 0}, {"key-format", 0}, {"memory-budget", 0}, {"allow-produce", 0},
    {"partitions", 1}, {"shard", 1}, {"offset", 1}, {"offsets-from", 1},
    {"on-out-of-range", 1}, {"max-rows", 1}, {"max-time", 1}, {"idle-timeout", 1},
    {"flush-interval", 1}, {"timeout", 1}, {"output", 1}, {"trust-exit-code", 1},
    {"on-error", 1}, {"watermarks", 1}, {"inspect", 1}, {"describe", 1},
};
enum { NKEYS = sizeof keys / sizeof keys[0] };
_Static_assert(NKEYS <= 32, "one bit per key in bridge_options.overridable");

static int key_index(const char *name) {
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, name)) return i;
    return -1;
}

static uint32_t default_overridable(void) {
    uint32_t m = 0;
    for (int i = 0; i < NKEYS; i++)
        if (keys[i].query_may) m |= 1u << i;
    return m;
}

/* `overridable = a, b` (allow) or `not_overridable = a, b` (forbid). */
static int set_overridable(bridge_options *o, const char *v, int allow, char *err, size_t errlen) {
    char *copy = dup_or_die(v), *save = NULL, *item;
    int rc = 0;
    for (item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save)) {
        int k = key_index(item);
        if (k < 0 || !strcmp(item, "config")) {
            rc = fail(err, errlen, "%s: unknown key '%s'", allow ? "overridable" : "not_overridable", item);
            break;
        }
        if (allow) o->overridable |= 1u << k;
        else o->overridable &= ~(1u << k);
    }
    free(copy);
    return rc;
}

/* librdkafka properties a query may pass with -X (when the admin lets it
 * pass any): tuning of fetching and of the connection's timing only.  An
 * allowlist, because librdkafka keeps adding properties, and some run a
 * program (sasl.kerberos.kinit.cmd), load code (plugin.library.paths,
 * ssl.engine.location), read files (ssl.*.location, sasl.kerberos.keytab,
 * sasl.oauthbearer.*), carry credentials or redirect the connection
 * (bootstrap.servers, security.protocol, client.dns.lookup). */
static const char *const query_properties[] = {
    "client.id", "client.rack", "fetch.wait.max.ms", "fetch.min.bytes", "fetch.max.bytes",
    "max.partition.fetch.bytes", "fetch.message.max.bytes", "fetch.error.backoff.ms",
    "fetch.queue.backoff.ms", "queued.min.messages", "queued.max.messages.kbytes",
    "receive.message.max.bytes", "message.max.bytes", "isolation.level", "check.crcs",
    "socket.timeout.ms", "socket.connection.setup.timeout.ms", "socket.keepalive.enable",
    "socket.nagle.disable", "socket.receive.buffer.bytes", "socket.send.buffer.bytes",
    "metadata.max.age.ms", "topic.metadata.refresh.interval.ms", "reconnect.backoff.ms",
    "reconnect.backoff.max.ms", "retry.backoff.ms", "retry.backoff.max.ms",
    "broker.address.family", "connections.max.idle.ms", "api.version.request.timeout.ms",
    "request.timeout.ms", "message.timeout.ms", "linger.ms", "batch.num.messages",
    "compression.codec", "compression.type",
};

static int query_property_allowed(const char *kv) {
    size_t n = strcspn(kv, "=");
    for (size_t i = 0; i < sizeof query_properties / sizeof query_properties[0]; i++)
        if (strlen(query_properties[i]) == n && !strncmp(query_properties[i], kv, n)) return 1;
    return 0;
}

/* Whether the command line (the query) may set `name` to `v`. */
static int query_may_set(const bridge_options *o, const char *name, const char *v, char *err,
                         size_t errlen) {
    if (!strcmp(name, "property") && !query_property_allowed(v))
        return fail(err, errlen,
                    "-X %.*s: this librdkafka property cannot come from the command line, which "
                    "SQL users write; put it in a pipeline file (see README, Security)",
                    (int)strcspn(v, "="), v);
    if (!o->pipeline) {
        /* Ad-hoc runs have no admin file, so no lock path the admin chose. */
        if (!strcmp(name, "lock"))
            return fail(err, errlen, "--lock: a lock file can only be set in a pipeline file");
        return 0;
    }
    int k = key_index(name);
    if (k < 0 || !(o->overridable & (1u << k)))
        return fail(err, errlen,
                    "--%s: the pipeline does not let a query set this (its admin may list it "
                    "in `overridable`)", name);
    return 0;
}

/* Applies one option by its long name; the command line and files share
 * this, so a key in a file means exactly what the flag means. */
static int apply(bridge_options *o, const char *name, const char *v, int depth, char *err,
                 size_t errlen) {
    if (!strcmp(name, "brokers")) set_string(&o->brokers, v);
    else if (!strcmp(name, "topic")) set_string(&o->topic, v);
    else if (!strcmp(name, "columns")) set_string(&o->columns, v);
    else if (!strcmp(name, "partitions")) return set_partitions(o, v, err, errlen);
    else if (!strcmp(name, "offset")) return set_offsets(o, v, err, errlen);
    else if (!strcmp(name, "property")) return add_property(o, v, err, errlen);
    else if (!strcmp(name, "memory-budget")) return set_budget(o, v, err, errlen);
    else if (!strcmp(name, "format")) return set_format(&o->format, "--format", v, err, errlen);
    else if (!strcmp(name, "key-format")) return set_format(&o->key_format, "--key-format", v, err, errlen);
    else if (!strcmp(name, "output")) return set_output(o, v, err, errlen);
    else if (!strcmp(name, "max-rows")) {
        /* No value means "unlimited": that is the default, so 0 is a mistake. */
        if (parse_u64("--max-rows", v, &o->max_rows, err, errlen)) return -1;
        if (!o->max_rows) return fail(err, errlen, "--max-rows: must be at least 1 (leave it out for no limit)");
    } else if (!strcmp(name, "max-time")) {
        if (parse_seconds("--max-time", v, &o->max_time, err, errlen)) return -1;
        if (!(o->max_time > 0)) return fail(err, errlen, "--max-time: must be more than 0 (leave it out for no limit)");
    } else if (!strcmp(name, "idle-timeout")) {
        if (parse_seconds("--idle-timeout", v, &o->idle_timeout, err, errlen)) return -1;
        if (!(o->idle_timeout > 0)) return fail(err, errlen, "--idle-timeout: must be more than 0");
    }
    else if (!strcmp(name, "flush-interval")) return parse_ms("--flush-interval", v, &o->flush_interval_ms, err, errlen);
    else if (!strcmp(name, "timeout")) return parse_ms("--timeout", v, &o->timeout_ms, err, errlen);
    else if (!strcmp(name, "trust-exit-code")) return set_bool("--trust-exit-code", v, &o->trust_exit_code, err, errlen);
    else if (!strcmp(name, "config")) return load_file(o, v, depth + 1, err, errlen);
    else if (!strcmp(name, "overridable")) return set_overridable(o, v, 1, err, errlen);
    else if (!strcmp(name, "not_overridable")) return set_overridable(o, v, 0, err, errlen);
    else if (!strcmp(name, "offsets-from")) {
        if (strcmp(v, "stdin") != 0) return fail(err, errlen, "--offsets-from: expected stdin, got '%s'", v);
        o->offsets_from_stdin = 1;
    } else if (!strcmp(name, "on-out-of-range")) {
        if (!strcmp(v, "fail")) o->out_of_range = OUT_OF_RANGE_FAIL;
        else if (!strcmp(v, "earliest")) o->out_of_range = OUT_OF_RANGE_EARLIEST;
        else if (!strcmp(v, "latest")) o->out_of_range = OUT_OF_RANGE_LATEST;
        else return fail(err, errlen, "--on-out-of-range: expected fail, earliest or latest, got '%s'", v);
    } else if (!strcmp(name, "lock")) {
        free(o->lock_path);
        o->lock_path = strcmp(v, "none") ? dup_or_die(v) : NULL;
        o->lock_set = 1;
    } else if (!strcmp(name, "lock-grace")) {
        if (parse_seconds("--lock-grace", v, &o->lock_grace, err, errlen)) return -1;
        if (!(o->lock_grace >= 0)) return fail(err, errlen, "--lock-grace: must be 0 or more");
    } else if (!strcmp(name, "on-error")) {
        if (!strcmp(v, "fail")) o->on_error = ON_ERROR_FAIL;
        else if (!strcmp(v, "skip")) o->on_error = ON_ERROR_SKIP;
        else if (!strcmp(v, "dead-letter")) o->on_error = ON_ERROR_DEAD_LETTER;
        else if (!strcmp(v, "stream")) o->on_error = ON_ERROR_STREAM;
        else return fail(err, errlen, "--on-error: expected fail, skip, dead-letter or stream, got '%s'", v);
    } else if (!strcmp(name, "dead-letter-topic")) set_string(&o->dead_letter_topic, v);
    else if (!strcmp(name, "commit-group")) set_string(&o->commit_group, v);
    else if (!strcmp(name, "watermarks")) return set_bool("--watermarks", v, &o->watermarks, err, errlen);
    else if (!strcmp(name, "inspect")) {
        if (!strcmp(v, "watermarks")) o->watermarks = 1;
        else set_string(&o->inspect, v);
    } else if (!strcmp(name, "allow-produce")) return set_bool("allow-produce", v, &o->allow_produce, err, errlen);
    else if (!strcmp(name, "describe")) return set_bool("--describe", v, &o->describe, err, errlen);
    else if (!strcmp(name, "commit-on-exit")) return set_bool("--commit-on-exit", v, &o->commit_on_exit, err, errlen);
    else if (!strcmp(name, "shard")) {
        unsigned i, n;
        char extra;
        if (sscanf(v, "%u/%u%c", &i, &n, &extra) != 2 || n == 0 || i >= n || n > 100000)
            return fail(err, errlen, "--shard: expected I/N with 0 <= I < N, got '%s'", v);
        o->shard_index = (int)i;
        o->shard_count = (int)n;
    }
    else if (!strncmp(name, "kafka.", 6) && name[6]) {
        size_t n = strlen(name + 6) + 1 + strlen(v) + 1;
        char *kv = grow(NULL, n, 1);
        snprintf(kv, n, "%s=%s", name + 6, v);
        o->properties = grow(o->properties, o->nproperties + 1, sizeof *o->properties);
        o->properties[o->nproperties++] = kv;
    } else
        return fail(err, errlen, "unknown option '%s'", name);
    return 0;
}


/* Property names whose values are credentials: a file holding one must be
 * private to its owner. */
static int is_secret_property(const char *kv) {
    static const char *const marks[] = {"password", "secret", "ssl.key.pem", "sasl.oauthbearer.config",
                                        "ssl_key"};
    size_t n = strcspn(kv, "=");
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        const char *hit = strstr(kv, marks[i]);
        if (hit && (size_t)(hit - kv) < n) return 1;
    }
    return 0;
}

/* A `#` at the start of a value or after a blank begins a comment, so
 * that `brokers = a:1  # the test cluster` means a:1; a `#` inside a word
 * (a password, say) stays.  The blanks are trim()'s, carriage return
 * included, or a comment after one would survive as the value. */
static void strip_comment(char *s) {
    for (char *p = s; *p; p++)
        if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\r')) {
            *p = '\0';
            break;
        }
}

/* Applies a pending `name = value` of a file, with its continuation lines
 * already joined. */
static int flush_entry(bridge_options *o, const char *path, int line, char *name, char *value,
                       int depth, char *err, size_t errlen) {
    char why[400];
    /* Settings that name servers, credentials or files: never from a
     * query's command line, hence not in apply(). */
    static const char *const file_only[] = {"schema-registry", "schema-registry-user",
                                            "schema-registry-password", "schema-registry-ca",
                                            "avro-schema", "avro-subject", "avro-key-subject"};
    char **fields[] = {&o->schema_registry, &o->schema_registry_user, &o->schema_registry_password,
                       &o->schema_registry_ca, &o->avro_schema, &o->avro_subject, &o->avro_key_subject};
    for (size_t i = 0; i < sizeof file_only / sizeof *file_only; i++)
        if (!strcmp(name, file_only[i])) {
            set_string(fields[i], value);
            return 0;
        }
    if (!strcmp(name, "avro-skip-bytes")) {
        uint64_t n;
        if (parse_u64("avro-skip-bytes", value, &n, why, sizeof why) || n > 1024)
            return fail(err, errlen, "%s:%d: avro-skip-bytes: expected 0..1024, got '%s'", path, line, value);
        o->avro_skip_bytes = (size_t)n;
        return 0;
    }
    if (apply(o, name, value, depth, why, sizeof why))
        return fail(err, errlen, "%s:%d: %s", path, line, why);
    return 0;
}

#define PIPELINE_FILE_MAX (1 << 20)

static int load_file(bridge_options *o, const char *path, int depth, char *err, size_t errlen) {
    if (depth > 4) return fail(err, errlen, "%s: config files include each other too deeply", path);
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, errlen, "cannot open pipeline file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return fail(err, errlen, "cannot stat pipeline file %s: %s", path, strerror(e));
    }
    /* A pipeline file is a few lines: a device or a huge file named by
     * `config =` is a mistake, and reading it would never end. */
    if (!S_ISREG(st.st_mode) || st.st_size > PIPELINE_FILE_MAX) {
        fclose(f);
        return fail(err, errlen, "pipeline file %s: %s", path,
                    S_ISREG(st.st_mode) ? "larger than 1 MiB" : "not a regular file");
    }
    int shared = (st.st_mode & 077) != 0;
    char *line = NULL, *name = NULL, *value = NULL;
    size_t cap = 0;
    int lineno = 0, entry_line = 0, rc = 0;
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *text = line;
        if (lineno == 1 && !strncmp(text, "\xEF\xBB\xBF", 3)) text += 3; /* UTF-8 BOM */
        if ((text[0] == ' ' || text[0] == '\t') && name) {
            char *more = trim(text);
            if (*more == '#') continue; /* an indented comment, not a continuation */
            strip_comment(more);
            more = trim(more);
            if (!*more) continue;
            size_t n = strlen(value) + 1 + strlen(more) + 1;
            char *joined = grow(NULL, n, 1);
            snprintf(joined, n, "%s%s%s", value, *value ? " " : "", more);
            free(value);
            value = joined;
            continue;
        }
        char *s = trim(text);
        if (!*s || *s == '#') continue;
        if (name) {
            rc = flush_entry(o, path, entry_line, name, value, depth, err, errlen);
            free(name);
            free(value);
            name = value = NULL;
            if (rc) break;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = fail(err, errlen, "%s:%d: expected name = value", path, lineno);
            break;
        }
        *eq = '\0';
        strip_comment(eq + 1);
        name = dup_or_die(trim(s));
        value = dup_or_die(trim(eq + 1));
        entry_line = lineno;
        if (shared && (is_secret_property(name) || /* kafka.sasl.password, schema-registry-password */
                       (!strcmp(name, "property") && is_secret_property(value)))) {
            /* As ssh does for private keys: whoever can read the file can
             * use the credential, so a readable one is a leak already. */
            rc = fail(err, errlen,
                      "%s:%d: '%s' is a credential, but group or others may read this file "
                      "(mode %03o): chmod 600 it",
                      path, lineno, name, (unsigned)(st.st_mode & 0777));
            break;
        }
    }
    if (rc == 0 && name) rc = flush_entry(o, path, entry_line, name, value, depth, err, errlen);
    if (rc == 0 && ferror(f)) rc = fail(err, errlen, "cannot read %s: %s", path, strerror(errno));
    free(name);
    free(value);
    free(line);
    fclose(f);
    return rc;
}

/* The pipeline directory: $KAFKA_BRIDGE_PIPELINES, else kafka-bridge.d
 * beside the program as it was invoked (ClickHouse passes the full path in
 * its user_scripts directory; a symlink there is not resolved, so the
 * directory sits with the link).  The environment is the server's, which
 * SQL cannot set. */
static int pipeline_dir(const char *argv0, char *out, size_t outlen, char *err, size_t errlen) {
    const char *dir = getenv("KAFKA_BRIDGE_PIPELINES");
    char self[PATH_MAX];
    if (dir && *dir) {
        if ((size_t)snprintf(out, outlen, "%s", dir) >= outlen) return fail(err, errlen, "pipeline directory: path too long");
        return 0;
    }
    if (strchr(argv0, '/')) {
        snprintf(self, sizeof self, "%s", argv0);
    } else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0) return fail(err, errlen, "cannot find this program's directory");
        self[n] = '\0';
    }
    if ((size_t)snprintf(out, outlen, "%s/kafka-bridge.d", dirname(self)) >= outlen)
        return fail(err, errlen, "pipeline directory: path too long");
    return 0;
}

static int pipeline_path(const char *dir, const char *name, char *out, size_t outlen, char *err,
                         size_t errlen) {
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              (*p == '_' && p != name) || *p == '-' || (*p == '.' && p != name)))
            return fail(err, errlen, "--pipeline: invalid name '%s' (letters, digits, . _ - only; "
                                     "not starting with . or _)", name);
    if (!*name) return fail(err, errlen, "--pipeline: empty name");
    if ((size_t)snprintf(out, outlen, "%s/%s.conf", dir, name) >= outlen)
        return fail(err, errlen, "--pipeline: path too long");
    return 0;
}

/* SERVER_FILE in the pipeline directory holds the admin's server-wide
 * choices; today one: `adhoc = true` lets queries run without --pipeline. */
#define SERVER_FILE "_server.conf"

static int load_server_file(const char *dir, int *adhoc, char *err, size_t errlen) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/" SERVER_FILE, dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        return fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        char *text = line;
        if (++lineno == 1 && !strncmp(text, "\xEF\xBB\xBF", 3)) text += 3;
        strip_comment(text);
        char *s = trim(text);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = fail(err, errlen, "%s:%d: expected name = value", path, lineno);
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1), why[200];
        if (strcmp(name, "adhoc") != 0)
            rc = fail(err, errlen, "%s:%d: unknown option '%s' (known: adhoc)", path, lineno, name);
        else if (set_bool("adhoc", value, adhoc, why, sizeof why))
            rc = fail(err, errlen, "%s:%d: %s", path, lineno, why);
    }
    free(line);
    fclose(f);
    return rc;
}

static const struct option long_options[] = {
    {"brokers", required_argument, NULL, 'b'},
    {"topic", required_argument, NULL, 't'},
    {"partitions", required_argument, NULL, 'p'},
    {"offset", required_argument, NULL, 'o'},
    {"property", required_argument, NULL, 'X'},
    {"format", required_argument, NULL, 's'},
    {"output", required_argument, NULL, 'O'},
    {"max-rows", required_argument, NULL, 'c'},
    {"config", required_argument, NULL, 'F'},
    {"columns", required_argument, NULL, 0},
    {"key-format", required_argument, NULL, 0},
    {"max-time", required_argument, NULL, 0},
    {"idle-timeout", required_argument, NULL, 0},
    {"pipeline", required_argument, NULL, 0},
    {"flush-interval", required_argument, NULL, 0},
    {"timeout", required_argument, NULL, 0},
    {"trust-exit-code", no_argument, NULL, 0},
    {"offsets-from", required_argument, NULL, 0},
    {"on-out-of-range", required_argument, NULL, 0},
    {"lock", required_argument, NULL, 0},
    {"lock-grace", required_argument, NULL, 0},
    {"on-error", required_argument, NULL, 0},
    {"dead-letter-topic", required_argument, NULL, 0},
    {"commit-group", required_argument, NULL, 0},
    {"commit-on-exit", no_argument, NULL, 0},
    {"shard", required_argument, NULL, 0},
    {"watermarks", no_argument, NULL, 0},
    {"memory-budget", required_argument, NULL, 0},
    {"inspect", required_argument, NULL, 0},
    {"describe", no_argument, NULL, 0},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};
static const char short_options[] = "b:t:p:o:X:s:O:c:F:hV";

int options_parse(bridge_options *o, int argc, char **argv, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    o->with_header = 1;
    o->default_start = (offset_spec){OFFSET_BEGINNING, 0};
    o->idle_timeout = 5;
    o->lock_grace = 60;
    o->flush_interval_ms = 1000;
    o->timeout_ms = 5000;
    o->format = dup_or_die("json");

    o->overridable = default_overridable();
    char dir[PATH_MAX];
    int adhoc = 0, dir_ok = pipeline_dir(argv[0], dir, sizeof dir, err, errlen) == 0;

    /* Two passes: pipeline files first, so that flags override them
     * whatever their order on the command line. */
    for (int pass = 0; pass < 2; pass++) {
        int idx, ch;
        optind = 0; /* 0, not 1: glibc then also resets its internal state */
        opterr = 0;
        while ((ch = getopt_long(argc, argv, short_options, long_options, &idx)) != -1) {
            const char *name;
            if (ch == '?') {
                if (pass) continue;
                if (optopt) return fail(err, errlen, "unknown or incomplete option -%c (see --help)", optopt);
                return fail(err, errlen, "unknown or incomplete option %s (see --help)", argv[optind - 1]);
            }
            if (ch == 'h' || ch == 'V') {
                if (pass == 0) continue;
                fputs(ch == 'h' ? usage : "kafka-bridge " KAFKA_BRIDGE_VERSION "\n", stdout);
                return OPTIONS_EXIT;
            }
            name = ch ? NULL : long_options[idx].name;
            for (const struct option *lo = long_options; !name && lo->name; lo++)
                if (lo->val == ch) name = lo->name;
            if (!strcmp(name, "config")) {
                /* The path would come from SQL: any file the server can read. */
                if (pass == 0)
                    return fail(err, errlen, "-F/--config cannot be given on the command line, which SQL "
                                             "users write: use --pipeline NAME");
                continue;
            }
            int is_file = !strcmp(name, "pipeline");
            if (is_file != (pass == 0)) continue;
            if (!strcmp(name, "pipeline")) {
                char path[PATH_MAX + 64];
                if (o->pipeline) return fail(err, errlen, "--pipeline: given twice");
                if (!dir_ok) return -1;
                if (pipeline_path(dir, optarg, path, sizeof path, err, errlen)) return -1;
                if (load_file(o, path, 0, err, errlen)) return -1;
                o->pipeline = 1;
                if (!o->lock_set) {
                    /* Runs of one pipeline must not overlap: both would
                     * start from the same positions. */
                    size_t n = strlen(path);
                    path[n - 5] = '\0'; /* drop ".conf" */
                    free(o->lock_path);
                    o->lock_path = grow(NULL, n + 1, 1);
                    snprintf(o->lock_path, n + 1, "%s.lock", path);
                }
                continue;
            }
            const char *v = optarg ? optarg : "true";
            if (query_may_set(o, name, v, err, errlen)) return -1;
            if (!strcmp(name, "partitions") && o->npartitions) {
                /* The query's list replaces the file's, within it. */
                int32_t *allowed = o->partitions;
                size_t nallowed = o->npartitions;
                o->partitions = NULL;
                o->npartitions = 0;
                int rc = apply(o, name, v, 0, err, errlen);
                for (size_t i = 0; rc == 0 && i < o->npartitions; i++) {
                    size_t j = 0;
                    while (j < nallowed && allowed[j] != o->partitions[i]) j++;
                    if (j == nallowed)
                        rc = fail(err, errlen, "--partitions: partition %" PRId32 " is not one of the pipeline's",
                                  o->partitions[i]);
                }
                free(allowed);
                if (rc) return -1;
                continue;
            }
            if (apply(o, name, v, 0, err, errlen)) return -1;
        }
        if (pass == 0 && optind < argc)
            return fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
        if (pass == 0 && !o->pipeline) {
            if (!dir_ok) return -1;
            if (load_server_file(dir, &adhoc, err, errlen)) return -1;
            if (!adhoc) {
                /* --help must still work. */
                int help = 0;
                for (int i = 1; i < argc; i++)
                    help |= !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ||
                            !strcmp(argv[i], "-V") || !strcmp(argv[i], "--version");
                if (!help)
                    return fail(err, errlen,
                                "no --pipeline given, and runs without one are off: the admin turns "
                                "them on with `adhoc = true` in %s/" SERVER_FILE, dir);
            }
        }
    }
    if (o->native && o->inspect)
        return fail(err, errlen, "--output Native is for rows of messages: use RowBinaryWithNamesAndTypes or "
                                 "RowBinary with --inspect");
    if (o->inspect) return OPTIONS_RUN; /* its columns are fixed; a topic is optional */
    if (!o->topic) return fail(err, errlen, "no topic given (-t, or topic in a pipeline file)");
    if (o->on_error == ON_ERROR_DEAD_LETTER && !o->dead_letter_topic)
        return fail(err, errlen, "--on-error dead-letter needs --dead-letter-topic");
    /* A pipeline may offer a dead-letter topic to queries that choose it. */
    if (o->dead_letter_topic && o->on_error != ON_ERROR_DEAD_LETTER && !o->pipeline)
        return fail(err, errlen, "--dead-letter-topic is used only with --on-error dead-letter");
    if (o->shard_count && o->npartitions)
        return fail(err, errlen, "--shard and --partitions cannot be combined: choose one way to pick partitions");
    for (size_t i = 0; o->npartitions && i < o->nstarts; i++) {
        size_t j = 0;
        while (j < o->npartitions && o->partitions[j] != o->starts[i].partition) j++;
        if (j == o->npartitions)
            return fail(err, errlen, "--offset: partition %" PRId32 " is not among the partitions read",
                        o->starts[i].partition);
    }
    if (o->commit_on_exit && !o->commit_group)
        return fail(err, errlen, "--commit-on-exit needs --commit-group");
    if (o->native && o->watermarks)
        return fail(err, errlen, "--output Native is for rows of messages: use RowBinaryWithNamesAndTypes or "
                                 "RowBinary with --watermarks");
    if (o->watermarks) {
        /* The columns of this mode are fixed; a pipeline's are not used. */
        set_string(&o->columns, "partition Int32, log_start Int64, log_end Int64, start Int64, lag Int64");
        o->on_error = ON_ERROR_FAIL;
    }
    if (o->describe) return OPTIONS_RUN; /* needs the topic and the registry only */
    if (!o->columns) return fail(err, errlen, "no columns given (--columns, or columns in a pipeline file)");
    if (!o->brokers) {
        int has = 0;
        for (size_t i = 0; i < o->nproperties; i++) has |= !strncmp(o->properties[i], "bootstrap.servers=", 18);
        if (!has) return fail(err, errlen, "no brokers given (-b, or brokers in a pipeline file)");
    }
    return OPTIONS_RUN;
}

int options_load_pipeline(bridge_options *o, const char *argv0, const char *name, char *err,
                          size_t errlen) {
    char dir[PATH_MAX], path[PATH_MAX + 64];
    memset(o, 0, sizeof *o);
    o->timeout_ms = 5000;
    if (pipeline_dir(argv0, dir, sizeof dir, err, errlen) ||
        pipeline_path(dir, name, path, sizeof path, err, errlen))
        return -1;
    return load_file(o, path, 0, err, errlen);
}

void options_free(bridge_options *o) {
    free(o->brokers);
    free(o->topic);
    free(o->format);
    free(o->key_format);
    free(o->columns);
    free(o->lock_path);
    free(o->dead_letter_topic);
    free(o->commit_group);
    free(o->inspect);
    free(o->schema_registry);
    free(o->schema_registry_user);
    free(o->schema_registry_password);
    free(o->schema_registry_ca);
    free(o->avro_schema);
    free(o->avro_subject);
    free(o->avro_key_subject);
    free(o->partitions);
    free(o->starts);
    for (size_t i = 0; i < o->nproperties; i++) free(o->properties[i]);
    free(o->properties);
    memset(o, 0, sizeof *o);
}
