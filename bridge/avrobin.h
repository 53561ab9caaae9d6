/*
 * avrobin.h - Avro's binary encoding, read: zigzag varints, IEEE floats
 * little-endian, length-prefixed bytes.  Every read checks the end of the
 * input and the encoding's own limits (a varint of more than 10 bytes, an
 * int outside 32 bits, a negative length), so a truncated or corrupt
 * datum is an error at a known byte, never a read past the end.
 */
#ifndef KB_AVROBIN_H
#define KB_AVROBIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct av_in {
    const uint8_t *p, *start, *end;
} av_in;

static inline void av_in_init(av_in *in, const void *data, size_t n) {
    in->start = in->p = data;
    in->end = in->p + n;
}

static inline long av_pos(const av_in *in) { return (long)(in->p - in->start); }

/* The 7-bit groups of the varint that starts in the low byte of x, whose
 * last byte is the first without the high bit (stops: x's clear high bits).
 * Returns its byte count; the groups, packed in three steps, in *u. */
static inline unsigned av_varint_word(uint64_t x, uint64_t stops, uint64_t *u) {
    unsigned bits = (unsigned)__builtin_ctzll(stops) + 1; /* through the last byte */
    x &= ~(uint64_t)0 >> (64 - bits);
    x = (x & 0x007f007f007f007full) | (x & 0x7f007f007f007f00ull) >> 1;
    x = (x & 0x00003fff00003fffull) | (x & 0x3fff00003fff0000ull) >> 2;
    x = (x & 0x000000000fffffffull) | (x & 0x0fffffff00000000ull) >> 4;
    *u = x;
    return bits / 8;
}

static inline uint64_t av_load_le64(const uint8_t *p) {
    uint64_t x = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&x, p, 8);
#else
    for (int i = 7; i >= 0; i--) x = x << 8 | p[i];
#endif
    return x;
}

/* A long of more than one byte: the rest of av_long, out of line.  A
 * varint of up to eight bytes is found in one 64-bit word: the eight bytes
 * from p when there are eight left, else the datum's last eight (when it
 * has eight), shifted so that p's byte comes first.  The bytes shifted in
 * are zeros, which read as a stop: a varint that stops there has run past
 * the end.  Longer varints and short datums take the loop. */
static __attribute__((noinline, unused)) int av_long_long(av_in *in, int64_t *v) {
    uint64_t u = 0;
    const uint8_t *p = in->p;
    size_t left = (size_t)(in->end - p);
    if (left >= 8 || (left && in->end - in->start >= 8)) {
        uint64_t x = left >= 8 ? av_load_le64(p) : av_load_le64(in->end - 8) >> (8 * (8 - left));
        uint64_t stops = ~x & 0x8080808080808080ull;
        if (stops) {
            unsigned len = av_varint_word(x, stops, &u);
            if (len > left) return -1;
            in->p = p + len;
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p == in->end) return -1;
        uint8_t b = *p++;
        if (shift == 63 && (b & 0x7e)) return -1; /* more than 64 bits */
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            in->p = p;
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    return -1;
}

/* A long: zigzag varint of at most 10 bytes.  Returns 0 or -1.  One byte
 * (lengths, counts, union branches, small numbers) is the inlined case. */
static inline __attribute__((always_inline)) int av_long(av_in *in, int64_t *v) {
    if (in->p != in->end && !(*in->p & 0x80)) {
        uint64_t u = *in->p++;
        *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return 0;
    }
    return av_long_long(in, v);
}

/* av_long with av_long_long's word read inlined too, for loops that read
 * many longs of a few bytes (timestamps, ids): no call unless the datum
 * is shorter than eight bytes or the varint longer than eight. */
static inline __attribute__((always_inline)) int av_long_inline(av_in *in, int64_t *v) {
    const uint8_t *p = in->p;
    size_t left = (size_t)(in->end - p);
    uint64_t x, u;
    if (left >= 8) x = av_load_le64(p);
    else if (left && in->end - in->start >= 8) x = av_load_le64(in->end - 8) >> (8 * (8 - left));
    else return av_long(in, v);
    uint64_t stops = ~x & 0x8080808080808080ull;
    if (!stops) return av_long_long(in, v);
    unsigned len;
    if (stops & 0x80) {
        u = x & 0x7f;
        len = 1;
    } else {
        len = av_varint_word(x, stops, &u);
        if (len > left) return -1;
    }
    in->p = p + len;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

/* An int: a long that must fit 32 bits. */
static inline int av_int(av_in *in, int32_t *v) {
    int64_t l;
    if (av_long(in, &l) || l < INT32_MIN || l > INT32_MAX) return -1;
    *v = (int32_t)l;
    return 0;
}

static inline int av_float(av_in *in, float *v) {
    if (in->end - in->p < 4) return -1;
    uint32_t u = (uint32_t)in->p[0] | (uint32_t)in->p[1] << 8 | (uint32_t)in->p[2] << 16 |
                 (uint32_t)in->p[3] << 24;
    memcpy(v, &u, 4);
    in->p += 4;
    return 0;
}

static inline int av_double(av_in *in, double *v) {
    if (in->end - in->p < 8) return -1;
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = u << 8 | in->p[i];
    memcpy(v, &u, 8);
    in->p += 8;
    return 0;
}

/* Bytes or string: a long length, then the bytes, left in place. */
static inline int av_bytes(av_in *in, const uint8_t **s, size_t *n) {
    int64_t len;
    if (av_long(in, &len) || len < 0 || len > in->end - in->p) return -1;
    *s = in->p;
    *n = (size_t)len;
    in->p += len;
    return 0;
}

static inline int av_fixed(av_in *in, size_t size, const uint8_t **s) {
    if ((size_t)(in->end - in->p) < size) return -1;
    *s = in->p;
    in->p += size;
    return 0;
}

/* The count of the next block of an array or map: a negative count is
 * followed by the block's size in bytes, which is not needed here.
 * Returns 0 with *count 0 at the end of the blocks. */
static inline int av_block(av_in *in, uint64_t *count) {
    int64_t c;
    if (av_long(in, &c)) return -1;
    if (c < 0) {
        int64_t size;
        if (c == INT64_MIN || av_long(in, &size) || size < 0) return -1;
        c = -c;
    }
    *count = (uint64_t)c;
    return 0;
}

#endif
