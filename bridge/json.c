#include "json.h"

#include <stdint.h>

static int fail(kb_json_cursor *c, const char *why) {
    c->why = why;
    return -1;
}

kb_json_kind kb_json_peek(kb_json_cursor *c) {
    kb_json_skip_ws(c);
    if (c->p >= c->end) return KB_JSON_INVALID;
    switch (*c->p) {
    case '{': return KB_JSON_OBJECT;
    case '[': return KB_JSON_ARRAY;
    case '"': return KB_JSON_STRING;
    case 't': return KB_JSON_TRUE;
    case 'f': return KB_JSON_FALSE;
    case 'n': return KB_JSON_NULL;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return KB_JSON_NUMBER;
    default: return KB_JSON_INVALID;
    }
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
 * finds that without branching per byte. */
static inline uint64_t zero_bytes(uint64_t x) {
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

const char *kb_json_scan_string(const char *p, const char *end) {
    const uint64_t quotes = 0x2222222222222222ull, backslashes = 0x5c5c5c5c5c5c5c5cull;
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        if (zero_bytes(x ^ quotes) | zero_bytes(x ^ backslashes)) break;
        p += 8;
    }
    while (p < end && *p != '"' && *p != '\\') p++;
    return p;
}

int kb_json_string(kb_json_cursor *c, buf *scratch, const char **s, size_t *n) {
    kb_json_skip_ws(c);
    if (c->p >= c->end || *c->p != '"') return fail(c, "expected a string");
    const char *begin = ++c->p;
    const char *p = kb_json_scan_string(begin, c->end);
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

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

int kb_json_number(kb_json_cursor *c, const char **s, size_t *n) {
    kb_json_skip_ws(c);
    const char *begin = c->p, *p = c->p, *end = c->end;
    if (p < end && *p == '-') p++;
    if (p >= end || !is_digit(*p)) {
        c->p = p;
        return fail(c, "expected a number");
    }
    if (*p == '0') p++;
    else
        while (p < end && is_digit(*p)) p++;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) {
            c->p = p;
            return fail(c, "expected digits after '.' in a number");
        }
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !is_digit(*p)) {
            c->p = p;
            return fail(c, "expected digits in a number's exponent");
        }
        while (p < end && is_digit(*p)) p++;
    }
    *s = begin;
    *n = (size_t)(p - begin);
    c->p = p;
    return 0;
}

int kb_json_literal(kb_json_cursor *c, kb_json_kind kind) {
    static const char *const text[] = {[KB_JSON_TRUE] = "true", [KB_JSON_FALSE] = "false",
                                       [KB_JSON_NULL] = "null"};
    kb_json_skip_ws(c);
    const char *t = text[kind];
    size_t len = kind == KB_JSON_FALSE ? 5 : 4;
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, t, len) != 0)
        return fail(c, "invalid literal (expected true, false or null)");
    c->p += len;
    return 0;
}

/* Strings are skipped without unescaping: only the closing quote matters,
 * and a backslash always escapes exactly the next byte for that purpose. */
static int skip_string(kb_json_cursor *c) {
    const char *p = c->p + 1;
    while ((p = kb_json_scan_string(p, c->end)) < c->end) {
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
