#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"
#include "suites.h"

static char dir[64];

static void write_file_mode(const char *name, const char *text, mode_t mode) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void write_file(const char *name, const char *text) { write_file_mode(name, text, 0644); }

static void no_server_file(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/_server.conf", dir);
    unlink(path);
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/kb-options-XXXXXX"); /* mkdtemp rewrites it */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("KAFKA_BRIDGE_PIPELINES", dir, 1);
    /* Most tests here run ad-hoc; those about the trust model remove it. */
    write_file("_server.conf", "adhoc = true\n");
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int parse(bridge_options *o, char *err, size_t errlen, int argc, ...) {
    char *argv[32];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "kafka-bridge";
    for (int i = 1; i < argc; i++) argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;
    return options_parse(o, argc, argv, err, errlen);
}

START_TEST(pipeline_file_with_continuation_and_secrets) {
    write_file_mode("orders.conf",
               "# orders into ClickHouse\n"
               "brokers = 127.0.0.1:9092\n"
               "topic = orders\n"
               "columns = id UInt64,\n"
               "    name String,\n"
               "\tts DateTime64(3)\n"
               "kafka.sasl.password = p=a ss\n"
               "offset = 0:5, 2:end\n"
               "max-rows = 10\n", 0600);
    bridge_options o;
    char err[512];
    ck_assert_msg(parse(&o, err, sizeof err, 3, "--pipeline", "orders") == OPTIONS_RUN, "%s", err);
    ck_assert_str_eq(o.brokers, "127.0.0.1:9092");
    ck_assert_str_eq(o.topic, "orders");
    ck_assert_str_eq(o.columns, "id UInt64, name String, ts DateTime64(3)");
    ck_assert_uint_eq(o.nproperties, 1);
    ck_assert_str_eq(o.properties[0], "sasl.password=p=a ss");
    ck_assert_uint_eq(o.nstarts, 2);
    ck_assert_int_eq(o.starts[0].partition, 0);
    ck_assert_int_eq(o.starts[0].start.kind, OFFSET_ABSOLUTE);
    ck_assert_int_eq(o.starts[0].start.value, 5);
    ck_assert_int_eq(o.starts[1].start.kind, OFFSET_END);
    ck_assert_uint_eq(o.max_rows, 10);
    ck_assert_int_eq(o.with_header, 1);
    options_free(&o);
}
END_TEST

START_TEST(flags_override_the_file_whatever_their_order) {
    write_file("p.conf", "brokers = a:1\ntopic = t1\ncolumns = x:UInt8\nmax-rows = 5\n");
    bridge_options o;
    char err[512];
    ck_assert_msg(parse(&o, err, sizeof err, 7, "-c", "9", "--pipeline", "p", "-O", "RowBinary") == OPTIONS_RUN, "%s", err);
    ck_assert_uint_eq(o.max_rows, 9);
    ck_assert_int_eq(o.with_header, 0);
    options_free(&o);
}
END_TEST

START_TEST(kcat_style_flags) {
    bridge_options o;
    char err[512];
    ck_assert_msg(parse(&o, err, sizeof err, 13, "-b", "h:1", "-t", "t", "-p", "0,2-4", "-o", "-10",
                        "-X", "fetch.wait.max.ms=5", "--columns=a:UInt8", "-c7") == OPTIONS_RUN,
                  "%s", err);
    ck_assert_uint_eq(o.npartitions, 4);
    ck_assert_int_eq(o.partitions[3], 4);
    ck_assert_int_eq(o.default_start.kind, OFFSET_FROM_END);
    ck_assert_int_eq(o.default_start.value, 10);
    ck_assert_str_eq(o.properties[0], "fetch.wait.max.ms=5");
    ck_assert_uint_eq(o.max_rows, 7);
    options_free(&o);
}
END_TEST

START_TEST(errors_say_what_and_where) {
    bridge_options o;
    char err[512];
    write_file("bad.conf", "topic = t\nbogus = 1\n");
    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "--pipeline", "bad"), OPTIONS_ERROR);
    char want[300];
    snprintf(want, sizeof want, "%s/bad.conf:2: unknown option 'bogus'", dir);
    ck_assert_str_eq(err, want);
    options_free(&o);

    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "--pipeline", "../etc/passwd"), OPTIONS_ERROR);
    ck_assert_str_eq(err, "--pipeline: invalid name '../etc/passwd' (letters, digits, . _ - only; not starting with . or _)");
    options_free(&o);

    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "--pipeline", "missing"), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "missing.conf: No such file or directory"));
    options_free(&o);

    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "-t", "x", "-o", "soon"), OPTIONS_ERROR);
    ck_assert_str_eq(err, "invalid offset 'soon' (expected beginning, end, N, -N or s@TIMESTAMP_MS)");
    options_free(&o);

    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "-p", "1,1"), OPTIONS_ERROR);
    ck_assert_str_eq(err, "partition 1 is listed twice");
    options_free(&o);

    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "-b", "h:1", "--columns=a:UInt8", "x"), OPTIONS_ERROR);
    ck_assert_str_eq(err, "unexpected argument 'x' (see --help)");
    options_free(&o);

    ck_assert_int_eq(parse(&o, err, sizeof err, 4, "-b", "h:1", "--columns=a:UInt8"), OPTIONS_ERROR);
    ck_assert_str_eq(err, "no topic given (-t, or topic in a pipeline file)");
    options_free(&o);

    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "-O", "JSON"), OPTIONS_ERROR);
    ck_assert_str_eq(err, "--output: expected Native, RowBinaryWithNamesAndTypes or RowBinary, got 'JSON'");
    options_free(&o);

    ck_assert_int_eq(parse(&o, err, sizeof err, 2, "--nope"), OPTIONS_ERROR);
    ck_assert_str_eq(err, "unknown or incomplete option --nope (see --help)");
    options_free(&o);
}
END_TEST

/* Finding 1: -X from SQL ran programs (sasl.kerberos.kinit.cmd) or could
 * load code; only an allowlist of tuning properties passes. */
START_TEST(query_properties_are_an_allowlist) {
    static const char *const refused[] = {
        "sasl.kerberos.kinit.cmd=head${IFS}-3${IFS}/etc/passwd", "plugin.library.paths=/tmp/x.so",
        "ssl.engine.location=/tmp/e.so", "ssl.ca.location=/etc/passwd", "sasl.password=x",
        "security.protocol=SASL_PLAINTEXT", "bootstrap.servers=evil:1", "sasl.kerberos.keytab=/k",
        "sasl.oauthbearer.token.endpoint.url=http://evil/", "debug=all", "enable.partition.eof=false",
    };
    bridge_options o;
    char err[512];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_int_eq(parse(&o, err, sizeof err, 10, "-b", "h:1", "-t", "t", "--columns=a:String", "-X",
                               refused[i], "-o", "beginning"), OPTIONS_ERROR);
        ck_assert_msg(strstr(err, "cannot come from the command line"), "%s: %s", refused[i], err);
        /* The name only: a value may be a secret. */
        ck_assert_ptr_null(strstr(err, strchr(refused[i], '=') + 1));
        options_free(&o);
    }
    ck_assert_msg(parse(&o, err, sizeof err, 10, "-b", "h:1", "-t", "t", "--columns=a:String", "-X",
                        "fetch.wait.max.ms=5", "-X", "isolation.level=read_uncommitted") == OPTIONS_RUN, "%s", err);
    options_free(&o);
}
END_TEST

/* Finding 2: --lock from SQL truncated any file. */
START_TEST(query_cannot_choose_a_lock_file) {
    char victim[256];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    write_file("victim", "precious\n");
    write_file("p.conf", "brokers = a:1\ntopic = t\ncolumns = x:UInt8\n");
    bridge_options o;
    char err[512];
    ck_assert_int_eq(parse(&o, err, sizeof err, 7, "-b", "h:1", "-t", "t", "--columns=a:String", "--lock", victim),
                     OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "--lock"));
    options_free(&o);
    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "--pipeline", "p", "--lock", victim), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "--lock: the pipeline does not let a query set this"));
    options_free(&o);
    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "--pipeline", "p", "--lock", "none"), OPTIONS_ERROR);
    options_free(&o);
}
END_TEST

/* Finding 3: -b sent a secure pipeline's credentials to the query's host. */
START_TEST(pipeline_connection_settings_stay_the_admins) {
    write_file_mode("secure.conf",
                    "brokers = good:9092\ntopic = t\ncolumns = x:UInt8\npartitions = 0,1\n"
                    "kafka.security.protocol = SASL_PLAINTEXT\nkafka.sasl.mechanisms = PLAIN\n"
                    "kafka.sasl.username = u\nkafka.sasl.password = hunter2\n", 0600);
    static const char *const refused[][2] = {
        {"-b", "relay:1"}, {"-t", "other"}, {"--columns", "y:String"}, {"-X", "fetch.wait.max.ms=5"},
        {"--dead-letter-topic", "dlq"}, {"--commit-group", "g"}, {"-s", "json"},
    };
    bridge_options o;
    char err[512];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_int_eq(parse(&o, err, sizeof err, 5, "--pipeline", "secure", refused[i][0], refused[i][1]),
                         OPTIONS_ERROR);
        ck_assert_msg(strstr(err, "the pipeline does not let a query set this"), "%s: %s", refused[i][0], err);
        ck_assert_ptr_null(strstr(err, "hunter2"));
        options_free(&o);
    }
    /* What a query may set by default. */
    ck_assert_msg(parse(&o, err, sizeof err, 15, "--pipeline", "secure", "-o", "1:7", "-c", "10", "--max-time", "3",
                        "--idle-timeout", "2", "-p", "1", "-O", "RowBinary", "--on-error", "skip") == OPTIONS_RUN,
                  "%s", err);
    ck_assert_uint_eq(o.npartitions, 1); /* the query's subset replaces the file's list */
    ck_assert_int_eq(o.partitions[0], 1);
    ck_assert_str_eq(o.brokers, "good:9092");
    options_free(&o);
    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "--pipeline", "secure", "-p", "2"), OPTIONS_ERROR);
    ck_assert_str_eq(err, "--partitions: partition 2 is not one of the pipeline's");
    options_free(&o);

    /* The admin widens and narrows. */
    write_file("open.conf", "brokers = a:1\ntopic = t\ncolumns = x:UInt8\n"
                            "overridable = brokers, topic\nnot_overridable = max-rows\n");
    ck_assert_msg(parse(&o, err, sizeof err, 7, "--pipeline", "open", "-b", "b:2", "-t", "u") == OPTIONS_RUN, "%s", err);
    ck_assert_str_eq(o.brokers, "b:2");
    options_free(&o);
    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "--pipeline", "open", "-c", "5"), OPTIONS_ERROR);
    options_free(&o);
    write_file("typo.conf", "topic = t\noverridable = brokerz\n");
    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "--pipeline", "typo"), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "overridable: unknown key 'brokerz'"));
    options_free(&o);
}
END_TEST

/* Finding 4: -F read any file and echoed its first key. */
START_TEST(query_cannot_name_a_config_file) {
    write_file("p.conf", "brokers = a:1\ntopic = t\ncolumns = x:UInt8\n");
    bridge_options o;
    char err[512];
    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "-F", "/etc/passwd"), OPTIONS_ERROR);
    ck_assert_ptr_null(strstr(err, "root"));
    ck_assert_ptr_nonnull(strstr(err, "-F/--config cannot be given on the command line"));
    options_free(&o);
    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "--pipeline", "p", "--config=/etc/passwd"), OPTIONS_ERROR);
    ck_assert_ptr_null(strstr(err, "root"));
    options_free(&o);
}
END_TEST

START_TEST(adhoc_runs_need_the_admins_consent) {
    no_server_file();
    bridge_options o;
    char err[512];
    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "-b", "h:1", "-t", "t", "--columns=a:String"), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "runs without one are off"));
    ck_assert_ptr_nonnull(strstr(err, "adhoc = true"));
    options_free(&o);
    write_file("_server.conf", "\xEF\xBB\xBF# server-wide\nadhoc = no  # not yet\n");
    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "-b", "h:1", "-t", "t", "--columns=a:String"), OPTIONS_ERROR);
    options_free(&o);
    write_file("_server.conf", "adhoc = maybe\n");
    ck_assert_int_eq(parse(&o, err, sizeof err, 5, "-b", "h:1", "-t", "t", "--columns=a:String"), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "_server.conf:1:"));
    options_free(&o);
    /* The server file is not a pipeline. */
    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "--pipeline", "_server"), OPTIONS_ERROR);
    options_free(&o);
}
END_TEST

/* As ssh refuses a private key others can read. */
START_TEST(a_readable_file_with_a_secret_is_refused) {
    write_file("leaky.conf", "brokers = a:1\ntopic = t\ncolumns = x:UInt8\nkafka.sasl.password = hunter2\n");
    bridge_options o;
    char err[512];
    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "--pipeline", "leaky"), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "leaky.conf:4: 'kafka.sasl.password' is a credential"));
    ck_assert_ptr_nonnull(strstr(err, "mode 644"));
    ck_assert_ptr_null(strstr(err, "hunter2"));
    options_free(&o);
    write_file("fine.conf", "brokers = a:1\ntopic = t\ncolumns = x:UInt8\nkafka.sasl.username = u\n");
    ck_assert_msg(parse(&o, err, sizeof err, 3, "--pipeline", "fine") == OPTIONS_RUN, "%s", err);
    options_free(&o);
}
END_TEST

/* Finding 9: options that conflict or would be ignored are errors. */
START_TEST(conflicting_or_ignored_options_are_errors) {
    static const struct {
        int argc;
        const char *argv[6];
        const char *want;
    } cases[] = {
        {4, {"--shard", "0/2", "-p", "1"}, "--shard and --partitions cannot be combined"},
        {4, {"-p", "0,1", "-o", "7:100"}, "--offset: partition 7 is not among the partitions read"},
        {2, {"--dead-letter-topic", "dlq"}, "--dead-letter-topic is used only with --on-error dead-letter"},
        {2, {"--max-rows", "0"}, "--max-rows: must be at least 1"},
        {2, {"--max-time", "0"}, "--max-time: must be more than 0"},
        {2, {"--idle-timeout", "0"}, "--idle-timeout: must be more than 0"},
    };
    bridge_options o;
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[16] = {"kafka-bridge", "-b", "h:1", "-t", "t", "--columns=a:String"};
        int argc = 6;
        for (int j = 0; j < cases[i].argc; j++) argv[argc++] = (char *)cases[i].argv[j];
        argv[argc] = NULL;
        ck_assert_int_eq(options_parse(&o, argc, argv, err, sizeof err), OPTIONS_ERROR);
        ck_assert_msg(strstr(err, cases[i].want), "%s", err);
        options_free(&o);
    }
}
END_TEST

/* Finding 15: comments and a BOM in pipeline files. */
START_TEST(pipeline_file_comments_and_bom) {
    write_file("c.conf", "\xEF\xBB\xBF" "brokers = a:1   # the test cluster\n"
                         "topic = t#1\n"
                         "columns = x UInt8,\n"
                         "    # y String, (dropped for now)\n"
                         "    z String  # trailing\n");
    bridge_options o;
    char err[512];
    ck_assert_msg(parse(&o, err, sizeof err, 3, "--pipeline", "c") == OPTIONS_RUN, "%s", err);
    ck_assert_str_eq(o.brokers, "a:1");
    ck_assert_str_eq(o.topic, "t#1"); /* a # inside a word stays */
    ck_assert_str_eq(o.columns, "x UInt8, z String");
    options_free(&o);

    /* Found by fuzz-pipeline: carriage returns before a value were kept. */
    write_file("cr.conf", "brokers =\r\r 127.0.0.1:9092\r\ntopic = t\r\ncolumns = x UInt8\r\n");
    ck_assert_msg(parse(&o, err, sizeof err, 3, "--pipeline", "cr") == OPTIONS_RUN, "%s", err);
    ck_assert_str_eq(o.brokers, "127.0.0.1:9092");
    ck_assert_str_eq(o.topic, "t");
    options_free(&o);

    /* Found by fuzz-pipeline: a comment after a carriage return became the value. */
    write_file("crc.conf", "brokers = a:1\r# the cluster\ntopic = t\ncolumns = x UInt8\n");
    ck_assert_msg(parse(&o, err, sizeof err, 3, "--pipeline", "crc") == OPTIONS_RUN, "%s", err);
    ck_assert_str_eq(o.brokers, "a:1");
    options_free(&o);
}
END_TEST

START_TEST(an_include_must_be_a_small_regular_file) {
    /* `config = /dev/zero` would be read forever. */
    write_file("dev.conf", "brokers = a:1\ntopic = t\ncolumns = x:UInt8\nconfig = /dev/zero\n");
    bridge_options o;
    char err[512];
    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "--pipeline", "dev"), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "dev.conf:4: pipeline file /dev/zero: not a regular file"));
    options_free(&o);

    char big[PATH_MAX];
    snprintf(big, sizeof big, "%s/big.inc", dir);
    FILE *f = fopen(big, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 2 << 20, SEEK_SET), 0);
    fputc('\n', f);
    fclose(f);
    char conf[PATH_MAX + 128];
    snprintf(conf, sizeof conf, "brokers = a:1\ntopic = t\ncolumns = x:UInt8\nconfig = %s\n", big);
    write_file("huge.conf", conf);
    ck_assert_int_eq(parse(&o, err, sizeof err, 3, "--pipeline", "huge"), OPTIONS_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "big.inc: larger than 1 MiB"));
    options_free(&o);
}
END_TEST

Suite *options_suite(void) {
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pipeline_file_with_continuation_and_secrets);
    tcase_add_test(tc, flags_override_the_file_whatever_their_order);
    tcase_add_test(tc, kcat_style_flags);
    tcase_add_test(tc, errors_say_what_and_where);
    tcase_add_test(tc, query_properties_are_an_allowlist);
    tcase_add_test(tc, query_cannot_choose_a_lock_file);
    tcase_add_test(tc, pipeline_connection_settings_stay_the_admins);
    tcase_add_test(tc, query_cannot_name_a_config_file);
    tcase_add_test(tc, adhoc_runs_need_the_admins_consent);
    tcase_add_test(tc, a_readable_file_with_a_secret_is_refused);
    tcase_add_test(tc, conflicting_or_ignored_options_are_errors);
    tcase_add_test(tc, pipeline_file_comments_and_bom);
    tcase_add_test(tc, an_include_must_be_a_small_regular_file);
    suite_add_tcase(s, tc);
    return s;
}
