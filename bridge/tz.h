/*
 * tz.h - time zones from the system's TZif files, for reading local times.
 *
 * A DateTime('Europe/Berlin') column stores seconds since the epoch; the
 * zone matters to the bridge only when a message gives a time without an
 * offset ("2024-03-31 12:00:00"), which is a local time of the column's
 * zone and must be turned into an instant.
 *
 * A zone is loaded once, when the column list is parsed, from
 * $TZDIR/NAME (default /usr/share/zoneinfo/NAME): the 64-bit transition
 * table of the TZif file (RFC 8536, versions 2 and later) and, for instants
 * after its last transition, the POSIX TZ rule in the file's footer, so
 * that dates up to DateTime64's year 2299 follow the zone's current rules.
 * Nothing of libc's time zone state (TZ, tzset, localtime) is used.
 *
 * Local times that do not exist (the hour skipped when clocks go forward)
 * or exist twice (the hour repeated when they go back) are resolved as
 * ClickHouse resolves them: with the larger of the two UTC offsets, which
 * is the offset after a forward jump and the one before a backward jump.
 */
#ifndef KB_TZ_H
#define KB_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct tz_zone tz_zone;

/* Loads zone `name` ("UTC", "Europe/Berlin").  On failure returns -1 and
 * writes why into err. */
int tz_load(const char *name, tz_zone **out, char *err, size_t errlen);

/* The zone ClickHouse uses by default for columns without one, found the
 * way ClickHouse finds it when its configuration names none: the TZ
 * environment variable, else /etc/localtime, else UTC. */
int tz_load_default(tz_zone **out, char *err, size_t errlen);

void tz_free(tz_zone *z);

/* UTC offset in seconds in effect at instant t (seconds since the epoch). */
int32_t tz_offset_at(const tz_zone *z, int64_t t);

/* The instant of local time `local` (seconds since 1970-01-01 00:00 of
 * the local calendar), resolved as described above. */
int64_t tz_local_to_utc(const tz_zone *z, int64_t local);

/* Whether the zone is a fixed offset (UTC, Etc/GMT+5): lets callers skip
 * the lookups. */
int tz_is_fixed(const tz_zone *z, int32_t *offset);

#endif
