/*
 * msgpack-unpack-bench - the two ways msgpack-c's C API can parse one
 * message, timed on the same framed file (format-bench's input):
 *
 *   reused zone   msgpack_unpack() into one zone, cleared between messages
 *                 (what formats/msgpack.c does);
 *   per message   msgpack_unpack_next() into a msgpack_unpacked that is
 *                 created and destroyed for each message (a zone each).
 *
 * Parsing only; the walk over the tree is the same either way.
 *
 *     msgpack-unpack-bench FILE [ROUNDS]
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: msgpack-unpack-bench FILE [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    size_t n = 0;
    for (long pos = 0; pos + 4 <= size;) {
        size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8 | (size_t)data[pos + 2] << 16 |
                     (size_t)data[pos + 3] << 24;
        pos += 4 + (long)len;
        n++;
    }
    double best[2] = {1e30, 1e30};
    for (int r = 0; r < rounds; r++) {
        for (int way = 0; way < 2; way++) {
            msgpack_zone zone;
            msgpack_zone_init(&zone, 8192);
            double t0 = cpu_seconds();
            for (long pos = 0; pos + 4 <= size;) {
                size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8 | (size_t)data[pos + 2] << 16 |
                             (size_t)data[pos + 3] << 24;
                const char *msg = (const char *)data + pos + 4;
                size_t off = 0;
                if (way == 0) {
                    msgpack_object o;
                    msgpack_zone_clear(&zone);
                    while (off < len && msgpack_unpack(msg, len, &off, &zone, &o) >= 0) {}
                } else {
                    msgpack_unpacked u;
                    msgpack_unpacked_init(&u);
                    while (off < len && msgpack_unpack_next(&u, msg, len, &off) == MSGPACK_UNPACK_SUCCESS) {}
                    msgpack_unpacked_destroy(&u);
                }
                pos += 4 + (long)len;
            }
            double t = cpu_seconds() - t0;
            if (t < best[way]) best[way] = t;
            msgpack_zone_destroy(&zone);
        }
    }
    printf("{\"messages\": %zu, \"reused_zone_ns\": %.1f, \"zone_per_message_ns\": %.1f}\n", n,
           best[0] * 1e9 / n, best[1] * 1e9 / n);
    free(data);
    return 0;
}
