#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "suites.h"

enum { FLUSH = 1 << 20 };

/* Whether this kernel lets an unprivileged process give a pipe FLUSH
 * bytes at all (fs.pipe-max-size, the user's pipe pages); when it does
 * not, the output is right to leave its pipe as it is. */
static int kernel_allows_wide_pipes(void) {
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    int ok = fcntl(p[1], F_SETPIPE_SZ, FLUSH) >= FLUSH;
    close(p[0]);
    close(p[1]);
    return ok;
}

/* A whole flush must fit in the pipe: written into a non-blocking pipe
 * nobody reads yet, it goes in at once (a 64 KiB pipe gives EAGAIN), and
 * the reader then finds every byte in order. */
START_TEST(a_flush_fits_in_the_pipe) {
    if (!kernel_allows_wide_pipes()) return;
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    output o;
    output_init(&o, p[1], FLUSH, 0, NULL);
    ck_assert_int_ge(fcntl(p[1], F_GETPIPE_SZ), FLUSH);
    ck_assert_int_eq(fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK), 0);
    for (size_t i = 0; i < FLUSH; i++) buf_u8(&o.rows, (uint8_t)(i * 7 + i / 251));
    char err[256] = "";
    ck_assert_msg(output_flush(&o, err, sizeof err) == OUTPUT_OK, "%s", err);
    unsigned char *got = malloc(FLUSH);
    ck_assert_ptr_nonnull(got);
    size_t have = 0;
    while (have < FLUSH) {
        ssize_t n = read(p[0], got + have, FLUSH - have);
        ck_assert_int_gt(n, 0);
        have += (size_t)n;
    }
    for (size_t i = 0; i < FLUSH; i++) ck_assert_uint_eq(got[i], (uint8_t)(i * 7 + i / 251));
    free(got);
    output_free(&o);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* A file or a terminal is no pipe: nothing to widen, and no error. */
START_TEST(a_file_is_left_alone) {
    char path[] = "/tmp/kb-output-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    output o;
    output_init(&o, fd, FLUSH, 0, NULL);
    buf_put(&o.rows, "abc", 3);
    char err[256] = "";
    ck_assert_msg(output_flush(&o, err, sizeof err) == OUTPUT_OK, "%s", err);
    ck_assert_int_eq(lseek(fd, 0, SEEK_END), 3);
    output_free(&o);
    close(fd);
}
END_TEST

Suite *output_suite(void) {
    Suite *s = suite_create("output");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, a_flush_fits_in_the_pipe);
    tcase_add_test(tc, a_file_is_left_alone);
    suite_add_tcase(s, tc);
    return s;
}
