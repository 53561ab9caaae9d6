/*
 * buf.h - a growable byte buffer and the little-endian writers that
 * RowBinary is made of.
 *
 * The same type serves as the output buffer (filled with whole rows, then
 * written to stdout) and as scratch space reused from one message to the
 * next.  Once a buffer has grown to the size a workload needs it never
 * shrinks, so the steady state allocates nothing.
 *
 * Writers never fail: they call buf_reserve(), which aborts the process
 * when memory is exhausted.  Running out of memory is not an input error a
 * caller could report per message; there is nothing sensible to continue
 * with, and every caller checking it would bury the encoding logic.
 */
#ifndef KB_BUF_H
#define KB_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct buf {
    unsigned char *data;
    size_t len;
    size_t cap;
} buf;

void buf_init(buf *b, size_t initial_capacity);
void buf_free(buf *b);
/* Slow path of buf_reserve: grows the capacity to at least len + extra. */
void buf_grow(buf *b, size_t extra);

static inline void buf_reserve(buf *b, size_t extra) {
    if (b->cap - b->len < extra) buf_grow(b, extra);
}

static inline void buf_put(buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline __attribute__((always_inline)) void buf_u8(buf *b, uint8_t v) {
    buf_reserve(b, 1);
    b->data[b->len++] = v;
}

/* Stores the low n bytes of v little-endian (n is 1, 2, 4 or 8).  On a
 * little-endian host that is one store of a fixed width; elsewhere the
 * shifts spell the order out. */
static inline void buf_le(buf *b, uint64_t v, unsigned n) {
    buf_reserve(b, 8);
    unsigned char *p = b->data + b->len;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    switch (n) {
    case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
    case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
#else
    for (unsigned i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
#endif
    b->len += n;
}

static inline void buf_leb128(buf *b, uint64_t v) {
    buf_reserve(b, 10);
    unsigned char *p = b->data + b->len;
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (unsigned char)v;
    b->len += i;
}

/* n <= 32 bytes from s to d, inline: two fixed-size copies that overlap
 * in the middle, reading and writing nothing outside the n bytes.  Short
 * strings are most strings in messages, and a call to memcpy with a
 * variable length costs more than the copy. */
static inline __attribute__((always_inline)) void buf_copy_short(unsigned char *d, const unsigned char *s,
                                                                 size_t n) {
    if (n >= 16) {
        memcpy(d, s, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

/* A RowBinary String: LEB128 length, then the bytes; up to 32 bytes with
 * one reservation and no call. */
static inline __attribute__((always_inline)) void buf_rb_string(buf *b, const void *p, size_t n) {
    if (n <= 32) {
        buf_reserve(b, 1 + 32);
        unsigned char *d = b->data + b->len;
        d[0] = (unsigned char)n;
        buf_copy_short(d + 1, p, n);
        b->len += 1 + n;
        return;
    }
    buf_leb128(b, n);
    buf_put(b, p, n);
}

/* calloc that never returns NULL: running out of memory ends the process
 * with one line on stderr, the rule every module of the bridge follows.
 * A zero count still gets a unique pointer. */
void *kb_xcalloc(size_t n, size_t size);

#endif
