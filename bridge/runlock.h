/*
 * runlock.h - one run at a time per lock file.
 *
 * Two runs that start from the same stored positions would both write the
 * same messages.  A run holds an exclusive flock(2) on its lock file until
 * it exits (the kernel drops it even after kill -9), and a second run fails
 * at once instead of waiting, naming the holder's pid.
 */
#ifndef KB_RUNLOCK_H
#define KB_RUNLOCK_H

#include <stddef.h>

/* Takes the lock; on success *fd holds it until closed or the process
 * ends.  Returns -1 with err filled when it is held or cannot be made. */
int runlock_acquire(const char *path, int *fd, char *err, size_t errlen);

#endif
