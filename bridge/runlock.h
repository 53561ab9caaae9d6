/*
 * runlock.h - one run at a time per lock file.
 *
 * Two runs that start from the same stored positions would both write the
 * same messages.  A run holds an exclusive flock(2) on its lock file until
 * it exits (the kernel drops it even after kill -9), and a second run fails
 * at once instead of waiting, naming the holder's pid.
 *
 * The file's first line is the holder's pid; what follows is the record a
 * finished run leaves for the next one (handover.h).  Taking the lock
 * changes nothing in the file, so a run that refuses to go on leaves the
 * record as it found it.
 */
#ifndef KB_RUNLOCK_H
#define KB_RUNLOCK_H

#include <stddef.h>

/* Takes the lock; on success *fd holds it until closed or the process
 * ends.  Returns -1 with err filled when it is held or cannot be made. */
int runlock_acquire(const char *path, int *fd, char *err, size_t errlen);

/* The file's text after the pid line, as left by the previous holder, in
 * a malloc'd string (*out; "" when there is none).  Returns -1 with err
 * filled if it cannot be read. */
int runlock_read_record(int fd, char **out, char *err, size_t errlen);

/* Replaces the file's text with this process's pid line followed by
 * `record` (may be ""). */
int runlock_write(int fd, const char *record, char *err, size_t errlen);

#endif
