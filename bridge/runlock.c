#include "runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A record names each partition once: far below this even for topics of
 * tens of thousands of partitions.  A bigger file is not ours. */
#define RECORD_MAX (16u << 20)

int runlock_acquire(const char *path, int *fd, char *err, size_t errlen) {
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) {
        snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[32] = "";
        ssize_t n = pread(f, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(f);
        if (e == EWOULDBLOCK)
            snprintf(err, errlen, "another run holds %s%s%s: runs of one pipeline must not overlap",
                     path, holder[0] ? ", pid " : "", holder);
        else
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        return -1;
    }
    *fd = f;
    return 0;
}

int runlock_read_record(int fd, char **out, char *err, size_t errlen) {
    struct stat st;
    *out = NULL;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > RECORD_MAX) {
        snprintf(err, errlen, "lock file: cannot read it (%s)",
                 st.st_size > 0 ? "larger than a run record can be" : strerror(errno));
        return -1;
    }
    char *text = malloc((size_t)st.st_size + 1);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, text + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(err, errlen, "lock file: cannot read it: %s", strerror(errno));
            free(text);
            return -1;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    text[got] = '\0';
    char *nl = strchr(text, '\n');
    size_t skip = nl ? (size_t)(nl - text) + 1 : got;
    memmove(text, text + skip, got - skip + 1);
    *out = text;
    return 0;
}

int runlock_write(int fd, const char *record, char *err, size_t errlen) {
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    size_t rlen = strlen(record);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len ||
        (rlen && pwrite(fd, record, rlen, len) != (ssize_t)rlen)) {
        snprintf(err, errlen, "lock file: cannot write it: %s", strerror(errno));
        return -1;
    }
    return 0;
}
