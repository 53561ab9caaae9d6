/*
 * wideint.h - the integer arithmetic behind Int128/Int256, UInt128/UInt256
 * and Decimal(P, S) with P up to 76 digits.
 *
 * A value is read as a sign and a magnitude; the magnitude lives in four
 * 64-bit limbs (least significant first), enough for any 76-digit number
 * and for every 256-bit integer.  Only the few operations decoding needs
 * are here: append a decimal digit, check a width, and store the value in
 * two's complement, little-endian, as RowBinary wants it.
 */
#ifndef KB_WIDEINT_H
#define KB_WIDEINT_H

#include <stdint.h>

#include "buf.h"

typedef struct wideint {
    uint64_t limb[4];
} wideint;

static inline void wide_zero(wideint *v) { v->limb[0] = v->limb[1] = v->limb[2] = v->limb[3] = 0; }

static inline int wide_is_zero(const wideint *v) {
    return (v->limb[0] | v->limb[1] | v->limb[2] | v->limb[3]) == 0;
}

/* v = v * 10 + digit.  Returns -1, leaving v unspecified, when the result
 * does not fit in 256 bits. */
int wide_mul10_add(wideint *v, unsigned digit);

/* Whether sign and magnitude fit an integer of `bits` bits (8..256),
 * signed or not.  Minus zero fits every type. */
int wide_fits(const wideint *magnitude, int negative, unsigned bits, int is_signed);

/* Appends the value in two's complement, little-endian, `bytes` wide (16
 * or 32 here; any multiple of 8 up to 32 works).  The caller has checked
 * that it fits. */
void wide_put_le(buf *out, const wideint *magnitude, int negative, unsigned bytes);

#endif
