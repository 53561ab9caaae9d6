/*
 * timeparse.h - dates and times as text, turned into the numbers RowBinary
 * stores.
 *
 * Accepted forms (the same for every date/time column):
 *     YYYY-MM-DD
 *     YYYY-MM-DD hh:mm:ss[.fraction]
 *     YYYY-MM-DDThh:mm:ss[.fraction][Z | +hh:mm | -hh:mm | +hhmm | +hh]
 * Times without an offset are UTC.  The fraction may have any number of
 * digits; digits past nanoseconds are dropped, and the caller drops those
 * past its column's precision, as ClickHouse does.
 *
 * Everything is integer arithmetic on the proleptic Gregorian calendar, so
 * no libc time zone state is touched.
 */
#ifndef KB_TIMEPARSE_H
#define KB_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Days since 1970-01-01 of a valid civil date. */
int64_t tp_days_from_civil(int64_t year, unsigned month, unsigned day);

/* Parses one of the forms above.  On success fills *seconds (since the
 * epoch, may be negative) and *nanos (0..999999999), returns 0.  On failure
 * returns -1 and points *why at a static description. */
int tp_parse(const char *s, size_t n, int64_t *seconds, uint32_t *nanos, const char **why);

/* Parses a decimal number of seconds such as "1700000000" or
 * "1700000000.25" exactly (no floating point).  Same conventions. */
int tp_parse_unix(const char *s, size_t n, int64_t *seconds, uint32_t *nanos, const char **why);

#endif
