#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

#include "options.h"
#include "suites.h"

static char dir[64];

static void write_file(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/kb-options-XXXXXX"); /* mkdtemp rewrites it */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("KAFKA_BRIDGE_PIPELINES", dir, 1);
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
    write_file("orders.conf",
               "# orders into ClickHouse\n"
               "brokers = 127.0.0.1:9092\n"
               "topic = orders\n"
               "columns = id UInt64,\n"
               "    name String,\n"
               "\tts DateTime64(3)\n"
               "kafka.sasl.password = p=a ss\n"
               "offset = 0:5, 2:end\n"
               "max-rows = 10\n");
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
    write_file("p.conf", "brokers = a:1\ntopic = t1\ncolumns = x:UInt8\n");
    bridge_options o;
    char err[512];
    ck_assert_msg(parse(&o, err, sizeof err, 7, "-t", "t2", "--pipeline", "p", "-O", "RowBinary") == OPTIONS_RUN, "%s", err);
    ck_assert_str_eq(o.topic, "t2");
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
    ck_assert_str_eq(err, "--pipeline: invalid name '../etc/passwd' (letters, digits, . _ - only)");
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
    ck_assert_str_eq(err, "--output: expected RowBinaryWithNamesAndTypes or RowBinary, got 'JSON'");
    options_free(&o);

    ck_assert_int_eq(parse(&o, err, sizeof err, 2, "--nope"), OPTIONS_ERROR);
    ck_assert_str_eq(err, "unknown or incomplete option --nope (see --help)");
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
    suite_add_tcase(s, tc);
    return s;
}
