#include "wideint.h"

int wide_mul10_add(wideint *v, unsigned digit) {
    unsigned __int128 carry = digit;
    for (int i = 0; i < 4; i++) {
        unsigned __int128 t = (unsigned __int128)v->limb[i] * 10 + carry;
        v->limb[i] = (uint64_t)t;
        carry = t >> 64;
    }
    return carry ? -1 : 0;
}

/* Number of significant bits of the magnitude: 0 for zero. */
static unsigned bit_length(const wideint *v) {
    for (int i = 3; i >= 0; i--)
        if (v->limb[i]) return (unsigned)(64 * i + 64 - __builtin_clzll(v->limb[i]));
    return 0;
}

/* Whether the magnitude is exactly 2^k. */
static int is_power_of_two(const wideint *v, unsigned k) {
    for (unsigned i = 0; i < 4; i++) {
        uint64_t want = i == k / 64 ? (uint64_t)1 << (k % 64) : 0;
        if (v->limb[i] != want) return 0;
    }
    return 1;
}

int wide_fits(const wideint *magnitude, int negative, unsigned bits, int is_signed) {
    unsigned len = bit_length(magnitude);
    if (len == 0) return 1;
    if (!is_signed) return !negative && len <= bits;
    /* Signed: up to 2^(bits-1) - 1, or exactly 2^(bits-1) when negative. */
    if (len < bits) return 1;
    return negative && len == bits && is_power_of_two(magnitude, bits - 1);
}

void wide_put_le(buf *out, const wideint *magnitude, int negative, unsigned bytes) {
    uint64_t limb[4];
    unsigned carry = 1;
    for (int i = 0; i < 4; i++) {
        limb[i] = magnitude->limb[i];
        if (negative) { /* two's complement: invert, then add one */
            limb[i] = ~limb[i] + carry;
            carry = carry && limb[i] == 0;
        }
    }
    buf_reserve(out, bytes);
    for (unsigned i = 0; i < bytes; i++) out->data[out->len + i] = (unsigned char)(limb[i / 8] >> (8 * (i % 8)));
    out->len += bytes;
}
