/*
 * rbwriter.h - RowBinary values from plain C values: the one place that
 * knows how ClickHouse stores each type and which values each type can
 * hold.
 *
 * Decoders (JSON, MessagePack, Avro, raw) find a value in their own
 * encoding, turn it into the C value that names it (an integer as sign and
 * magnitude, a date as days since the epoch, a time as seconds and
 * nanoseconds, a UUID as its 16 bytes), and hand it here.  Every range
 * rule lives in this module: Date and Date32 bounds, DateTime's 32 bits,
 * DateTime64's calendar range and tick overflow, integer widths, Decimal
 * digits, FixedString length, Enum membership.  No value is truncated,
 * wrapped or rounded into range silently.
 *
 * Conventions:
 *   - `t` is the column's type with Nullable and LowCardinality already
 *     removed: call rbw_present() first for a value that is there, or
 *     rbw_default() for one that is absent or null;
 *   - functions that can refuse a value return 0, or -1 with e->reason set
 *     to a sentence naming the value and the type (e->column and e->byte
 *     are the caller's).  A caller that can show the value as the user
 *     wrote it may replace e->reason; the decision stays here;
 *   - on failure `out` may hold part of a value: the row assembler cuts
 *     the whole row back (rowbuild.h);
 *   - a function is only called for the kinds it names; anything else is
 *     a programming error and is refused with an "internal error" reason.
 *
 * Nothing here allocates except through buf, which grows once and is
 * reused.
 */
#ifndef KB_RBWRITER_H
#define KB_RBWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "chtype.h"
#include "message.h"
#include "wideint.h"

/* ---- presence ----------------------------------------------------------- */

/* For a value that is present: skips LowCardinality, writes the "not
 * NULL" byte of a Nullable, and returns the type the value itself is
 * written as. */
static inline const chtype *rbw_present(buf *out, const chtype *t) {
    if (t->kind == CT_LOWCARDINALITY) t = t->inner;
    if (t->kind == CT_NULLABLE) {
        buf_u8(out, 0);
        t = t->inner;
    }
    return t;
}

/* The "not NULL" byte alone, for a decoder that settled once, when it
 * compiled its plan, that the column is Nullable (what rbw_present asks
 * per value). */
static inline void rbw_not_null(buf *out) { buf_u8(out, 0); }

/* For a value that is missing or null: NULL in a Nullable, else the
 * type's default as ClickHouse defines it (zero, empty, the epoch, an
 * Enum's first element by value; a Tuple's elements each theirs).  This is
 * ClickHouse's input_format_null_as_default = 1. */
void rbw_default(buf *out, const chtype *t);

/* ---- numbers ------------------------------------------------------------ */

/* Any integer type up to 64 bits (Int8..Int64, UInt8..UInt64) from sign
 * and magnitude: refused when it does not fit.  -0 is 0. */
int rbw_int(buf *out, const chtype *t, int negative, uint64_t magnitude, row_error *e);

/* Any integer type of any width, Int128/Int256/UInt128/UInt256 included. */
int rbw_wide(buf *out, const chtype *t, int negative, const wideint *magnitude, row_error *e);

/* Shorthands over rbw_int/rbw_wide for decoders that hold C integers; t
 * may be any integer kind, wide ones included. */
int rbw_i64(buf *out, const chtype *t, int64_t v, row_error *e);
int rbw_u64(buf *out, const chtype *t, uint64_t v, row_error *e);

/* What an integer type of at most 64 bits holds: its width in bytes and
 * its least and greatest value, for a decoder that checks a C integer
 * against them per value and writes the in-range ones with buf_le (the
 * same bytes rbw_int writes); out of range it calls rbw_i64 for the
 * refusal.  Returns 0 for a wider or a non-integer type. */
unsigned rbw_int_range(const chtype *t, int64_t *min, uint64_t *max);

/* Float32, Float64 and BFloat16.  rbw_f32 keeps a value already rounded
 * to single precision (BFloat16 keeps its upper 16 bits, truncated, as
 * ClickHouse converts); rbw_f64 rounds a double to the column's width
 * (Float32 and BFloat16 go through float, as ClickHouse's cast does).
 * Never refuses: overflow to infinity is the IEEE value of such a number. */
void rbw_f32(buf *out, const chtype *t, float v);
void rbw_f64(buf *out, const chtype *t, double v);

/* Bool: 0 or 1. */
static inline void rbw_bool(buf *out, int v) { buf_u8(out, v ? 1 : 0); }

/* Decimal(P, S) from the value times 10^S as sign and magnitude: refused
 * when it needs more than P digits.  Bringing a value to scale S (and
 * refusing digits that would be lost) is the decoder's part, because only
 * it knows the source's scale; tv_decimal() does it for text. */
int rbw_decimal(buf *out, const chtype *t, int negative, const wideint *scaled, row_error *e);

/* ---- strings and bytes -------------------------------------------------- */

/* String: any bytes. */
static inline __attribute__((always_inline)) void rbw_string(buf *out, const void *s, size_t n) {
    buf_rb_string(out, s, n);
}

/* FixedString(N): at most N bytes, padded with zero bytes; longer is
 * refused. */
int rbw_fixedstring(buf *out, const chtype *t, const void *s, size_t n, row_error *e);

/* UUID from its 16 bytes in the usual (RFC 4122, big-endian) order, as a
 * binary UUID travels in MessagePack, Avro fixed(16) or tv_uuid()'s
 * output.  ClickHouse stores it as two little-endian 64-bit halves. */
void rbw_uuid(buf *out, const unsigned char bytes[16]);

/* IPv4 from the address as a number (192.168.0.1 is 0xC0A80001). */
static inline void rbw_ipv4(buf *out, uint32_t addr) { buf_le(out, addr, 4); }

/* IPv6 from its 16 bytes in network order. */
static inline void rbw_ipv6(buf *out, const unsigned char bytes[16]) { buf_put(out, bytes, 16); }

/* Enum8/Enum16 by element value (refused when no element has it) or by
 * element name. */
int rbw_enum_value(buf *out, const chtype *t, long value, row_error *e);
int rbw_enum_name(buf *out, const chtype *t, const char *s, size_t n, row_error *e);

/* ---- dates and times ---------------------------------------------------- */

/* Date (1970-01-01..2149-06-06, days 0..65535) and Date32
 * (1900-01-01..2299-12-31, days -25567..120529) from days since
 * 1970-01-01. */
int rbw_days(buf *out, const chtype *t, int64_t days, row_error *e);

/* DateTime and DateTime64(P) from a UTC instant: seconds since the epoch
 * (floor) and 0..999999999 nanoseconds after it.  DateTime holds
 * 1970-01-01 00:00:00..2106-02-07 06:28:15 and drops the fraction, as
 * ClickHouse does; DateTime64 holds 1900-01-01..2299-12-31 and keeps P
 * digits of the fraction, truncated, within Int64 ticks (at P >= 7 the
 * ticks end before 2299).  Decoders turn local times into UTC with
 * tz_local_to_utc() and the column's zone first. */
int rbw_time(buf *out, const chtype *t, int64_t seconds, uint32_t nanos, row_error *e);

/* The shortcut around rbw_time for a decoder whose numbers count units of
 * 1/per_second s (a power of ten, no finer than the column): values in
 * [*lo, *hi] go into DateTime64 column t as the 8 bytes of value * *mult,
 * exactly what rbw_time would write for them; the rest (out of range, for
 * its message) still go through rbw_time.  Returns -1, with nothing set,
 * where there is no such shortcut (DateTime, a finer unit). */
int rbw_ticks_range(const chtype *t, int64_t per_second, int64_t *lo, int64_t *hi, int64_t *mult);

/* ---- composites ----------------------------------------------------------- */

/* Array, Map and Nested: the element count, then the elements (a Map's
 * are key, value, key, value...; Nested's are Tuples).  When the count is
 * known before the elements (MessagePack, Avro blocks summed up front),
 * write it with rbw_count; when it is only known after (JSON), reserve
 * with rbw_count_begin and fill with rbw_count_end, which moves the
 * elements if the count needs more than one byte. */
static inline void rbw_count(buf *out, uint64_t n) { buf_leb128(out, n); }
static inline size_t rbw_count_begin(buf *out) {
    size_t at = out->len;
    buf_u8(out, 0);
    return at;
}
void rbw_count_end(buf *out, size_t at, uint64_t n);

/* A Tuple's elements are written in the type's order.  A decoder that
 * meets them in another order (by name, like a JSON object or a
 * MessagePack map) writes each where it comes and records where it went;
 * rbw_tuple_order then puts them in order, with defaults for those never
 * given.  span[2*i] is element i's offset from `base`, span[2*i+1] its
 * length, or RBW_UNSET when the element was not given.  `scratch` is a
 * caller's reusable buffer. */
#define RBW_UNSET SIZE_MAX
void rbw_tuple_order(buf *out, size_t base, const chtype *t, const size_t *span, buf *scratch);

/* Variant: one byte, the discriminator, then the value in the encoding of
 * the type it names.  The discriminator is the type's index in t->elems,
 * which chtype keeps sorted as ClickHouse sorts them; NULL is 255 and
 * nothing follows it (also rbw_default's value for a Variant).
 * rbw_variant returns the type the value is then written as; i must be
 * below t->nelems, which the decoder settled when it compiled its plan. */
#define RBW_VARIANT_NULL 255
static inline const chtype *rbw_variant(buf *out, const chtype *t, unsigned i) {
    buf_u8(out, (uint8_t)i);
    return t->elems[i];
}
static inline void rbw_variant_null(buf *out) { buf_u8(out, RBW_VARIANT_NULL); }

/* ---- messages ------------------------------------------------------------- */

/* The refusals above show the value as this module sees it ("value 300 is
 * out of range for UInt8", "expected a date in ..., got day 70000").  A
 * decoder that holds the value as the user wrote it (a JSON text, say)
 * puts that in its place: `shown` replaces the value after "value " or
 * after ", got " (quoted there). */
void rbw_restate(row_error *e, const char *shown);

/* Enum element already found (chtype_enum_by_name/by_value). */
static inline void rbw_enum_item(buf *out, const chtype *t, const chtype_enum_item *it) {
    buf_le(out, (uint64_t)(int64_t)it->value, t->kind == CT_ENUM8 ? 1 : 2);
}

#endif
