/*
 * textvalue.h - values written as text (UUIDs, IP addresses, decimal
 * numbers) read into the bytes RowBinary stores for them.
 *
 * Each function reads exactly the n bytes it is given, accepts the
 * spellings ClickHouse accepts for that type, and refuses anything else
 * with a short reason.  They know nothing of JSON: the caller hands them a
 * string's contents or a number's text.
 */
#ifndef KB_TEXTVALUE_H
#define KB_TEXTVALUE_H

#include <stddef.h>
#include <stdint.h>

#include "wideint.h"

/* 8-4-4-4-12 hex digits with dashes, or 32 without; either case.  Writes
 * the 16 bytes in the order written (rbw_uuid() stores them). */
int tv_uuid(const char *s, size_t n, unsigned char out[16]);

/* Dotted quad, each part 0..255 in one to three digits. */
int tv_ipv4(const char *s, size_t n, uint32_t *out);

/* RFC 4291 text: eight groups of up to four hex digits, one "::" for a run
 * of zero groups, an optional dotted quad in place of the last two groups;
 * or a bare dotted quad, read as the IPv4-mapped address ::ffff:a.b.c.d as
 * ClickHouse reads it.  Writes the 16 bytes in network order. */
int tv_ipv6(const char *s, size_t n, unsigned char out[16]);

/* A signed integer of any length: [+-]digits.  Returns -1 with *why set
 * when the text is not one, or when it exceeds 256 bits. */
int tv_integer(const char *s, size_t n, int *negative, wideint *magnitude, const char **why);

/* A decimal number for Decimal(precision, scale): [+-]digits[.digits]
 * [e[+-]digits], with digits on at least one side of the point.  Yields
 * the value times 10^scale as sign and magnitude and returns 0; or
 * returns TV_DECIMAL_SYNTAX when the text is not a number,
 * TV_DECIMAL_RANGE when the value needs more than `precision` digits, and
 * TV_DECIMAL_SCALE when it has non-zero digits past `scale` places after
 * the point (they would be lost). */
typedef enum tv_decimal_error { TV_DECIMAL_SYNTAX = 1, TV_DECIMAL_RANGE, TV_DECIMAL_SCALE } tv_decimal_error;
int tv_decimal(const char *s, size_t n, unsigned precision, unsigned scale, int *negative,
               wideint *scaled);

#endif
