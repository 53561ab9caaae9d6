#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chtype.h"
#include "native.h"
#include "output.h"
#include "rowplan.h"
#include "suites.h"
#include "../common/nativecheck.h"

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
    /* One assertion: each of Check's costs a message to its runner. */
    unsigned char *want = malloc(FLUSH);
    ck_assert_ptr_nonnull(want);
    for (size_t i = 0; i < FLUSH; i++) want[i] = (uint8_t)(i * 7 + i / 251);
    ck_assert_mem_eq(got, want, FLUSH);
    free(want);
    free(got);
    output_free(&o);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* A file of no name: it goes when its descriptor is closed. */
static int scratch_file(void) {
    char path[] = "/tmp/kb-output-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    return fd;
}

/* A file or a terminal is no pipe: nothing to widen, and no error. */
START_TEST(a_file_is_left_alone) {
    int fd = scratch_file();
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

/* The reader of the Native test below: slow, in small reads, so that the
 * writer blocks on a full pipe again and again. */
typedef struct slow_reader {
    int fd;
    buf got;
} slow_reader;

static void *read_slowly(void *arg) {
    slow_reader *r = arg;
    unsigned char chunk[3001];
    for (size_t reads = 0;; reads++) {
        ssize_t n = read(r->fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf_put(&r->got, chunk, (size_t)n);
        if (reads % 16 == 0) nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    return NULL;
}

/* A signal caught without SA_RESTART cuts a blocked writev short. */
static void on_signal(int sig) { (void)sig; }

typedef struct interrupter {
    pthread_t target;
    volatile sig_atomic_t stop;
} interrupter;

static void *interrupt_often(void *arg) {
    interrupter *in = arg;
    while (!in->stop) {
        pthread_kill(in->target, SIGUSR1);
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    return NULL;
}

/* Native blocks leave from their columns (writev) through a pipe that
 * fills, with writes that signals cut short: the reader must get exactly
 * the blocks native_encode makes of the same rows at the same limits, and
 * a block must ask for its flush (output_wants_flush) once full. */
START_TEST(native_blocks_leave_whole_through_partial_writes) {
    static const char columns[] = "id UInt64, s String, n Nullable(Int32), a Array(String), "
                                  "m Map(String, UInt16), t Tuple(x Float64, y Nullable(String)), "
                                  "v Variant(Int64, String), fs FixedString(5)";
    chcolumns cols;
    rowplan plan;
    char err[512] = "";
    ck_assert_msg(chcolumns_parse(columns, &cols, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rowplan_build(&plan, &cols, err, sizeof err) == 0, "%s", err);

    /* About two and a half blocks of rows, and where each row ends. */
    enum { NOISE = 1 << 22 };
    unsigned char *noise = malloc(NOISE);
    ck_assert_ptr_nonnull(noise);
    srand(11);
    for (size_t i = 0; i < NOISE; i++) noise[i] = (unsigned char)rand();
    nativecheck_src src = {noise, NOISE};
    buf rows, ends, want;
    buf_init(&rows, 1 << 20);
    buf_init(&ends, 1 << 16);
    buf_init(&want, 1 << 20);
    while (rows.len < 5 * OUTPUT_NATIVE_BLOCK_BYTES / 2) {
        nativecheck_row(&plan, &src, &rows);
        buf_put(&ends, &rows.len, sizeof rows.len);
    }
    size_t nrows = ends.len / sizeof(size_t);
    native *ref = native_open(&plan, OUTPUT_NATIVE_BLOCK_ROWS, OUTPUT_NATIVE_BLOCK_BYTES);
    size_t want_blocks;
    ck_assert_msg(native_encode(ref, rows.data, rows.len, &want, &want_blocks, err, sizeof err) == 0, "%s", err);
    native_close(ref);
    ck_assert_uint_ge(want_blocks, 2);

    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    slow_reader reader = {.fd = p[0]};
    buf_init(&reader.got, 1 << 20);
    pthread_t reader_thread, interrupter_thread;
    ck_assert_int_eq(pthread_create(&reader_thread, NULL, read_slowly, &reader), 0);
    struct sigaction sa = {.sa_handler = on_signal}, old;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
    interrupter in = {.target = pthread_self()};
    ck_assert_int_eq(pthread_create(&interrupter_thread, NULL, interrupt_often, &in), 0);

    /* Row by row, as messages, through the error-row path (RowBinary rows
     * taken into the columns); flushed whenever the output asks. */
    output o;
    output_init(&o, p[1], FLUSH, 0, NULL);
    output_native(&o, &plan);
    size_t from = 0, flushes = 0;
    int rc = OUTPUT_OK; /* one assertion after the loop: Check's are dear */
    for (size_t r = 0; r < nrows && rc == OUTPUT_OK; r++) {
        size_t to;
        memcpy(&to, ends.data + r * sizeof to, sizeof to);
        buf_put(&o.rows, rows.data + from, to - from);
        from = to;
        rc = output_added(&o, 0, err, sizeof err);
        if (rc == OUTPUT_OK && output_wants_flush(&o)) {
            rc = output_flush(&o, err, sizeof err);
            flushes++;
        }
    }
    if (rc == OUTPUT_OK) rc = output_flush(&o, err, sizeof err);
    in.stop = 1;
    pthread_join(interrupter_thread, NULL);
    sigaction(SIGUSR1, &old, NULL);
    close(p[1]);
    pthread_join(reader_thread, NULL);
    close(p[0]);

    ck_assert_msg(rc == OUTPUT_OK, "%s", err);
    ck_assert_uint_eq(flushes, want_blocks - 1); /* the last block is not full */
    ck_assert_uint_eq(reader.got.len, want.len);
    ck_assert_mem_eq(reader.got.data, want.data, want.len);
    output_free(&o);
    buf_free(&reader.got);
    buf_free(&rows);
    buf_free(&ends);
    buf_free(&want);
    free(noise);
    rowplan_free(&plan);
    chcolumns_free(&cols);
}
END_TEST

/* A full block must be flushed before more rows come: a caller that adds
 * rows anyway gets an internal error, and what was buffered still goes
 * out whole with the flush that the failing run makes. */
START_TEST(rows_for_a_full_block_are_refused) {
    chcolumns cols;
    rowplan plan;
    char err[512] = "";
    ck_assert_msg(chcolumns_parse("s String", &cols, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(rowplan_build(&plan, &cols, err, sizeof err) == 0, "%s", err);
    int fd = scratch_file();
    output o;
    output_init(&o, fd, FLUSH, 0, NULL);
    output_native(&o, &plan);
    /* One row of a String longer than a block's bytes fills it. */
    size_t len = OUTPUT_NATIVE_BLOCK_BYTES;
    unsigned char *s = calloc(1, len);
    ck_assert_ptr_nonnull(s);
    buf_rb_string(&o.rows, (const char *)s, len);
    ck_assert_msg(output_added(&o, 0, err, sizeof err) == OUTPUT_OK, "%s", err);
    ck_assert(output_wants_flush(&o));
    buf_rb_string(&o.rows, "x", 1);
    ck_assert_int_eq(output_added(&o, 0, err, sizeof err), OUTPUT_ERROR);
    ck_assert_msg(strstr(err, "full Native block") != NULL, "%s", err);
    ck_assert_msg(output_flush(&o, err, sizeof err) == OUTPUT_OK, "%s", err);
    ck_assert(!output_wants_flush(&o));
    off_t size = lseek(fd, 0, SEEK_END);
    ck_assert_int_gt(size, (off_t)len);
    buf back;
    buf_init(&back, 1024);
    unsigned char *written = malloc((size_t)size);
    ck_assert_ptr_nonnull(written);
    ck_assert_int_eq(pread(fd, written, (size_t)size, 0), size);
    size_t nrows, nblocks;
    ck_assert_msg(nativecheck_read(&plan, written, (size_t)size, &back, &nrows, &nblocks, NULL, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_uint_eq(nblocks, 1);
    ck_assert_uint_eq(nrows, 2);
    ck_assert_uint_eq(back.len, 3 + len + 2); /* both rows, whole */
    free(written);
    free(s);
    buf_free(&back);
    output_free(&o);
    close(fd);
    rowplan_free(&plan);
    chcolumns_free(&cols);
}
END_TEST

Suite *output_suite(void) {
    Suite *s = suite_create("output");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, a_flush_fits_in_the_pipe);
    tcase_add_test(tc, a_file_is_left_alone);
    tcase_add_test(tc, native_blocks_leave_whole_through_partial_writes);
    tcase_add_test(tc, rows_for_a_full_block_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
