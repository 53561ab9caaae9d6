#include "json.h"

#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static int fail(kb_json_cursor *c, const char *why) {
    c->why = why;
    return -1;
}

/* The kind each first byte starts, stored as kind ^ KB_JSON_INVALID so
 * that the bytes left out of the table (zero) read as invalid: a load
 * instead of a switch, for every value of every message. */
#define KIND(k) ((unsigned char)((k) ^ KB_JSON_INVALID))
static const unsigned char first_byte_kind[256] = {
    ['{'] = KIND(KB_JSON_OBJECT), ['['] = KIND(KB_JSON_ARRAY), ['"'] = KIND(KB_JSON_STRING),
    ['t'] = KIND(KB_JSON_TRUE),   ['f'] = KIND(KB_JSON_FALSE), ['n'] = KIND(KB_JSON_NULL),
    ['-'] = KIND(KB_JSON_NUMBER), ['0'] = KIND(KB_JSON_NUMBER), ['1'] = KIND(KB_JSON_NUMBER),
    ['2'] = KIND(KB_JSON_NUMBER), ['3'] = KIND(KB_JSON_NUMBER), ['4'] = KIND(KB_JSON_NUMBER),
    ['5'] = KIND(KB_JSON_NUMBER), ['6'] = KIND(KB_JSON_NUMBER), ['7'] = KIND(KB_JSON_NUMBER),
    ['8'] = KIND(KB_JSON_NUMBER), ['9'] = KIND(KB_JSON_NUMBER),
};
#undef KIND

kb_json_kind kb_json_peek(kb_json_cursor *c) {
    kb_json_skip_ws(c);
    if (c->p >= c->end) return KB_JSON_INVALID;
    return (kb_json_kind)(first_byte_kind[(unsigned char)*c->p] ^ KB_JSON_INVALID);
}

int kb_json_expect(kb_json_cursor *c, char ch, const char *why) {
    kb_json_skip_ws(c);
    if (c->p >= c->end || *c->p != ch) return fail(c, why);
    c->p++;
    return 0;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int hex4(kb_json_cursor *c, unsigned *out) {
    if (c->end - c->p < 4) return fail(c, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(c->p[i]);
        if (h < 0) return fail(c, "invalid \\u escape");
        v = v << 4 | (unsigned)h;
    }
    c->p += 4;
    *out = v;
    return 0;
}

static void put_utf8(buf *b, unsigned cp) {
    buf_reserve(b, 4);
    unsigned char *o = b->data + b->len;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        b->len += 1;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        b->len += 2;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        b->len += 3;
    } else {
        o[0] = (unsigned char)(0xF0 | cp >> 18);
        o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        b->len += 4;
    }
}

static int unescape(kb_json_cursor *c, buf *out) {
    /* c->p is just past the backslash. */
    if (c->p >= c->end) return fail(c, "truncated escape");
    char e = *c->p++;
    switch (e) {
    case '"': buf_u8(out, '"'); return 0;
    case '\\': buf_u8(out, '\\'); return 0;
    case '/': buf_u8(out, '/'); return 0;
    case 'b': buf_u8(out, '\b'); return 0;
    case 'f': buf_u8(out, '\f'); return 0;
    case 'n': buf_u8(out, '\n'); return 0;
    case 'r': buf_u8(out, '\r'); return 0;
    case 't': buf_u8(out, '\t'); return 0;
    case 'u': break;
    default: c->p--; return fail(c, "invalid escape in string");
    }
    unsigned cp;
    if (hex4(c, &cp)) return -1;
    /* A high surrogate must be followed by a low one, as ClickHouse
     * requires (input_format_json_throw_on_bad_escape_sequence); a lone
     * low surrogate is written as its three-byte form, as ClickHouse
     * writes it. */
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo;
        if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u')
            return fail(c, "a \\u escape of a high surrogate must be followed by a low one");
        c->p += 2;
        if (hex4(c, &lo)) return -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
            c->p -= 6;
            return fail(c, "a high surrogate followed by something other than a low surrogate");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    put_utf8(out, cp);
    return 0;
}

/* Eight bytes at a time: a byte of x equals ch exactly when the same byte
 * of x ^ (ch * 0x01..01) is zero, and the classic "has a zero byte" test
 * finds that without branching per byte.  Its flags are exact up to the
 * first zero byte (a borrow can only set flags above a real one), so the
 * lowest flag, on a little-endian machine the first byte in memory, is
 * the first match. */
static inline uint64_t zero_bytes(uint64_t x) {
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

static inline const char *scan_words(const char *p, const char *end) {
    const uint64_t quotes = 0x2222222222222222ull, backslashes = 0x5c5c5c5c5c5c5c5cull;
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t hits = zero_bytes(x ^ quotes) | zero_bytes(x ^ backslashes);
        if (hits) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(hits) >> 3);
#else
            break;
#endif
        }
        p += 8;
    }
    while (p < end && *p != '"' && *p != '\\') p++;
    return p;
}

const char *kb_json_scan_string_portable(const char *p, const char *end) { return scan_words(p, end); }

#ifdef __SSE2__
static inline __m128i stops(__m128i x) {
    return _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
}

/* Sixteen bytes per comparison: two blocks a round for the first two
 * rounds, which end most strings (keys, names, short values), then four,
 * whose hits are tested together, for the long ones (a message body, a
 * URL) that are most of the bytes of many messages. */
static inline const char *scan(const char *p, const char *end) {
    for (int round = 0; round < 2 && end - p >= 32; round++) {
        __m128i a = stops(_mm_loadu_si128((const __m128i *)(const void *)p));
        __m128i b = stops(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        unsigned hits = (unsigned)_mm_movemask_epi8(a) | (unsigned)_mm_movemask_epi8(b) << 16;
        if (hits) return p + __builtin_ctz(hits);
        p += 32;
    }
    while (end - p >= 64) {
        __m128i a = stops(_mm_loadu_si128((const __m128i *)(const void *)p));
        __m128i b = stops(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        __m128i c = stops(_mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        __m128i d = stops(_mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)))) {
            uint64_t all = (uint64_t)(unsigned)_mm_movemask_epi8(a) |
                           (uint64_t)(unsigned)_mm_movemask_epi8(b) << 16 |
                           (uint64_t)(unsigned)_mm_movemask_epi8(c) << 32 |
                           (uint64_t)(unsigned)_mm_movemask_epi8(d) << 48;
            return p + __builtin_ctzll(all);
        }
        p += 64;
    }
    while (end - p >= 16) {
        unsigned hits = (unsigned)_mm_movemask_epi8(stops(_mm_loadu_si128((const __m128i *)(const void *)p)));
        if (hits) return p + __builtin_ctz(hits);
        p += 16;
    }
    return scan_words(p, end);
}
#else
static inline const char *scan(const char *p, const char *end) { return scan_words(p, end); }
#endif

const char *kb_json_scan_string(const char *p, const char *end) { return scan(p, end); }

/* A string with escapes, from its first backslash at p: unescaped into
 * scratch.  Out of line, so that the common string without any costs
 * only the scan. */
__attribute__((noinline))
static int unescape_string(kb_json_cursor *c, const char *begin, const char *p, buf *scratch, const char **s,
                           size_t *n) {
    scratch->len = 0;
    buf_put(scratch, begin, (size_t)(p - begin));
    c->p = p;
    for (;;) {
        if (c->p >= c->end) return fail(c, "unterminated string");
        char ch = *c->p++;
        if (ch == '"') break;
        if (ch == '\\') {
            if (unescape(c, scratch)) return -1;
            continue;
        }
        const char *run = c->p - 1;
        c->p = kb_json_scan_string(c->p, c->end);
        buf_put(scratch, run, (size_t)(c->p - run));
    }
    *s = (const char *)scratch->data;
    *n = scratch->len;
    return 0;
}

int kb_json_string(kb_json_cursor *c, buf *scratch, const char **s, size_t *n) {
    /* Whitespace only when the quote is not already there: callers have
     * mostly looked (kb_json_peek) and skipped it. */
    if (c->p >= c->end || *c->p != '"') {
        kb_json_skip_ws(c);
        if (c->p >= c->end || *c->p != '"') return fail(c, "expected a string");
    }
    const char *begin = ++c->p;
    const char *p = scan(begin, c->end);
    if (p >= c->end) {
        c->p = p;
        return fail(c, "unterminated string");
    }
    if (*p == '"') {
        *s = begin;
        *n = (size_t)(p - begin);
        c->p = p + 1;
        return 0;
    }
    return unescape_string(c, begin, p, scratch, s, n);
}

static int is_digit(char ch) { return (unsigned char)(ch - '0') < 10; }

/* The run of digits at p: returns its end, with *m * 10^length + the
 * run's value in *m (wrapping past 19 digits; the caller counts them). */
static inline const char *digit_run(const char *p, const char *end, uint64_t *m) {
    uint64_t v = *m;
    unsigned d;
    while (p < end && (d = (unsigned)(unsigned char)*p - '0') < 10) {
        v = v * 10 + d;
        p++;
    }
    *m = v;
    return p;
}

/* The rest of kb_json_number_read() from a '.', 'e' or 'E' after the
 * integer part: out of line, as most numbers end before one. */
static int number_tail(kb_json_cursor *c, kb_json_num *num, const char *p, uint64_t m, size_t significant) {
    const char *end = c->end;
    size_t fraction = 0;
    int exact = 1;
    if (*p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) {
            c->p = p;
            return fail(c, "expected digits after '.' in a number");
        }
        const char *first = p;
        if (!significant)
            while (p < end && *p == '0') p++; /* 0.000123: zeros that only place the point */
        const char *digits = p;
        p = digit_run(p, end, &m);
        significant += (size_t)(p - digits);
        fraction = (size_t)(p - first);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !is_digit(*p)) {
            c->p = p;
            return fail(c, "expected digits in a number's exponent");
        }
        while (p < end && is_digit(*p)) p++;
        exact = 0;
    }
    /* A fraction of over a thousand digits is no exact case either, and
     * keeps exp10 far from int's limits. */
    exact = exact && significant <= 19 && fraction <= 1000;
    num->n = (size_t)(p - num->s);
    num->mantissa = m;
    num->exp10 = exact ? -(int)fraction : 0;
    num->exact = (unsigned char)exact;
    num->integer = 0;
    c->p = p;
    return 0;
}

int kb_json_number_read(kb_json_cursor *c, kb_json_num *num) {
    kb_json_skip_ws(c);
    const char *p = c->p, *end = c->end;
    int negative = p < end && *p == '-';
    num->s = p;
    num->negative = (unsigned char)negative;
    p += negative;
    const char *digits = p;
    uint64_t m = 0;
    p = digit_run(p, end, &m);
    size_t significant = (size_t)(p - digits); /* m wraps past 19 of them; exact says so */
    if (!significant) {
        c->p = digits;
        return fail(c, "expected a number");
    }
    if (*digits == '0') { /* a lone 0: any digits after it are not this number's */
        p = digits + 1;
        m = 0;
        significant = 0;
    }
    if (p < end && (*p == '.' || (*p | 0x20) == 'e')) return number_tail(c, num, p, m, significant);
    num->n = (size_t)(p - num->s);
    num->mantissa = m;
    num->exp10 = 0;
    num->exact = num->integer = significant <= 19;
    c->p = p;
    return 0;
}

int kb_json_number(kb_json_cursor *c, const char **s, size_t *n) {
    kb_json_num num;
    if (kb_json_number_read(c, &num)) return -1;
    *s = num.s;
    *n = num.n;
    return 0;
}

/* Compared in place, a word at a time: memcmp is a call for four bytes. */
int kb_json_literal(kb_json_cursor *c, kb_json_kind kind) {
    kb_json_skip_ws(c);
    const char *t = kind == KB_JSON_TRUE ? "true" : kind == KB_JSON_FALSE ? "false" : "null";
    size_t len = kind == KB_JSON_FALSE ? 5 : 4;
    if ((size_t)(c->end - c->p) >= len) {
        uint32_t want, got;
        memcpy(&want, t, 4);
        memcpy(&got, c->p, 4);
        if (got == want && (len == 4 || c->p[4] == 'e')) {
            c->p += len;
            return 0;
        }
    }
    return fail(c, "invalid literal (expected true, false or null)");
}

/* Strings are skipped without unescaping: only the closing quote matters,
 * and a backslash always escapes exactly the next byte for that purpose. */
static int skip_string(kb_json_cursor *c) {
    const char *p = c->p + 1;
    while ((p = scan(p, c->end)) < c->end) {
        if (*p == '"') {
            c->p = p + 1;
            return 0;
        }
        p += 2;
    }
    c->p = c->end;
    return fail(c, "unterminated string");
}

int kb_json_skip(kb_json_cursor *c) {
    /* Containers are tracked with a stack of bits (1 = object) instead of
     * recursion, so a deeply nested message cannot exhaust the C stack. */
    uint64_t in_object[KB_JSON_MAX_DEPTH / 64];
    size_t depth = 0;
    for (;;) {
        const char *s;
        size_t n;
        kb_json_kind kind = kb_json_peek(c);
        switch (kind) {
        case KB_JSON_OBJECT:
        case KB_JSON_ARRAY:
            if (depth == KB_JSON_MAX_DEPTH) return fail(c, "nesting too deep");
            if (kind == KB_JSON_OBJECT) in_object[depth / 64] |= (uint64_t)1 << (depth % 64);
            else in_object[depth / 64] &= ~((uint64_t)1 << (depth % 64));
            depth++;
            c->p++;
            kb_json_skip_ws(c);
            if (c->p < c->end && *c->p == (kind == KB_JSON_OBJECT ? '}' : ']')) {
                c->p++;
                depth--;
                break;
            }
            if (kind == KB_JSON_OBJECT) {
                if (kb_json_peek(c) != KB_JSON_STRING) return fail(c, "expected a key string");
                if (skip_string(c) || kb_json_expect(c, ':', "expected ':' after a key")) return -1;
            }
            continue;
        case KB_JSON_STRING:
            if (skip_string(c)) return -1;
            break;
        case KB_JSON_NUMBER:
            if (kb_json_number(c, &s, &n)) return -1;
            break;
        case KB_JSON_TRUE:
        case KB_JSON_FALSE:
        case KB_JSON_NULL:
            if (kb_json_literal(c, kind)) return -1;
            break;
        case KB_JSON_INVALID:
            return fail(c, c->p >= c->end ? "unexpected end of message" : "expected a value");
        }
        /* A value is complete: close finished containers, then either stop
         * or step over ',' (and the next key, inside an object). */
        for (;;) {
            if (depth == 0) return 0;
            int object = (int)(in_object[(depth - 1) / 64] >> ((depth - 1) % 64) & 1);
            kb_json_skip_ws(c);
            if (c->p >= c->end) return fail(c, "unexpected end of message");
            if (*c->p == (object ? '}' : ']')) {
                c->p++;
                depth--;
                continue;
            }
            if (*c->p != ',') return fail(c, object ? "expected ',' or '}'" : "expected ',' or ']'");
            c->p++;
            if (object) {
                if (kb_json_peek(c) != KB_JSON_STRING) return fail(c, "expected a key string");
                if (skip_string(c) || kb_json_expect(c, ':', "expected ':' after a key")) return -1;
            }
            break;
        }
    }
}
