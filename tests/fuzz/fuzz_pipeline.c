/*
 * fuzz_pipeline - the pipeline-file parser (options.c, through
 * options_load_pipeline as the UDF programs call it).
 *
 * Each input is written as a pipeline file, mode 0600, in a directory of
 * its own, and loaded.  A file that loads must leave values as the admin
 * meant them: no leading or trailing blanks, no comment glued on; a file
 * that is refused must say where (its path, and a line for what is in
 * it).  Loading the same file twice must give the same answer.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

static char dir[64];
static char path[128];

static void fail_check(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_pipeline: %s: '%s'\n", what, detail ? detail : "");
    abort();
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/fuzz-pipeline-XXXXXX");
    if (!mkdtemp(dir)) fail_check("mkdtemp", strerror(0));
    setenv("KAFKA_BRIDGE_PIPELINES", dir, 1);
    snprintf(path, sizeof path, "%s/p.conf", dir);
}

static void check_value(const char *v) {
    if (!v) return;
    size_t n = strlen(v);
    if (n && (strchr(" \t\r\n", v[0]) || strchr(" \t\r\n", v[n - 1])))
        fail_check("a value keeps blanks around it", v);
    if (strstr(v, " #") || strstr(v, "\t#") || v[0] == '#') fail_check("a comment glued to a value", v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) setup();
    if (size > 8192) return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) fail_check("cannot write the file", path);
    close(fd);

    bridge_options o, again;
    char err[600] = "", err2[600] = "";
    int rc = options_load_pipeline(&o, "kafka-bridge", "p", err, sizeof err);
    int rc2 = options_load_pipeline(&again, "kafka-bridge", "p", err2, sizeof err2);
    if (rc != rc2 || strcmp(err, err2)) fail_check("two loads of one file disagree", err);
    if (rc) {
        /* An include (`config = FILE`) may fail in that file instead. */
        if (!strstr(err, "pipeline file") && !strstr(err, path) && !strstr(err, "config"))
            fail_check("a refusal that does not name the file", err);
    } else {
        const char *values[] = {o.brokers, o.topic, o.format, o.key_format, o.columns, o.lock_path,
                                o.dead_letter_topic, o.commit_group, o.schema_registry,
                                o.schema_registry_user, o.schema_registry_password};
        for (size_t i = 0; i < sizeof values / sizeof *values; i++) check_value(values[i]);
    }
    options_free(&o);
    options_free(&again);
    return 0;
}
