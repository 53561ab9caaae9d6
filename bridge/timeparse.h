/*
 * timeparse.h - dates and times as text, turned into the numbers RowBinary
 * stores.
 *
 * Dates (for Date and Date32):
 *     YYYY-MM-DD   (month and day may have one digit, as ClickHouse allows)
 *     YYYYMMDD
 *
 * Times (for DateTime and DateTime64):
 *     YYYY-MM-DD
 *     YYYY-MM-DD hh:mm[:ss[.fraction]]
 *     YYYY-MM-DDThh:mm[:ss[.fraction]]
 *     either followed by a zone: Z, +hh:mm, -hh:mm, +hhmm or +hh, with or
 *     without one space before it
 *     YYYYMMDD, YYYYMMDDhhmmss (exactly 8 or 14 digits)
 * A time without a zone is a local time: the caller turns it into an
 * instant with its column's time zone.
 *
 * Unix times (a number, or the same digits quoted): the unit follows from
 * the count of digits before any fraction, as ClickHouse's best-effort
 * parser chooses it for quoted numbers:
 *     up to 10 digits   seconds       1700000000
 *     13 digits         milliseconds  1700000000123
 *     16 digits         microseconds  1700000000123456
 *     19 digits         nanoseconds   1700000000123456789
 * Other counts (11, 12, 14 ...) are refused rather than guessed at, and
 * so are quoted numbers of fewer than 9 digits (see tp_parse_unix).  A
 * fraction may follow ("1700000000.25" is a quarter past), and a minus
 * sign counts back from the epoch.
 *
 * A fraction may have any number of digits; digits past nanoseconds are
 * dropped, and the caller drops those past its column's precision, as
 * ClickHouse does.  Everything is integer arithmetic on the proleptic
 * Gregorian calendar.
 */
#ifndef KB_TIMEPARSE_H
#define KB_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Days since 1970-01-01 of a valid civil date. */
int64_t tp_days_from_civil(int64_t year, unsigned month, unsigned day);

/* Parses a date.  On success sets *days (since 1970-01-01) and returns 0;
 * on failure returns -1 and points *why at a static description. */
int tp_parse_date(const char *s, size_t n, int64_t *days, const char **why);

/* Parses a time in one of the text forms above.  On success fills
 * *seconds (since the epoch, counting the time as written as if it were
 * UTC, minus the zone's offset when one was given), *nanos (0..999999999)
 * and *has_zone, and returns 0.  On failure returns -1 and points *why at
 * a static description. */
int tp_parse(const char *s, size_t n, int64_t *seconds, uint32_t *nanos, int *has_zone,
             const char **why);

/* Parses a Unix time as above, exactly (no floating point).  Same
 * conventions; the result is always an instant.  A quoted one (`quoted`)
 * needs 9 digits or more: ClickHouse reads shorter digit strings as parts
 * of a date ("12" as the 12th of this month), which the bridge refuses to
 * guess at. */
int tp_parse_unix(const char *s, size_t n, int quoted, int64_t *seconds, uint32_t *nanos,
                  const char **why);

/* Whether s is all digits (with at least one). */
int tp_all_digits(const char *s, size_t n);

#endif
