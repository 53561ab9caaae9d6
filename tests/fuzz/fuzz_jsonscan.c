/*
 * fuzz_jsonscan - the JSON scanner's fast paths (json.h) against plain
 * byte-at-a-time readings of the same bytes, written here from the JSON
 * grammar and the rules of json.h, not from json.c.
 *
 * Checked, for every input:
 *   - kb_json_scan_string (SSE2 where built with it) and
 *     kb_json_scan_string_portable (eight bytes a word) stop where a loop
 *     over the bytes stops;
 *   - kb_json_string, and kb_json_skip over a string, accept and refuse
 *     the same strings as the reference, with the same bytes, the same
 *     error text and the cursor left at the same byte;
 *   - kb_json_number_read and kb_json_number give the reference's token
 *     or error, and the one-pass value (mantissa, power of ten, integer
 *     or not) is the token's exact value whenever they say it is;
 *   - a number a column reads through the one-pass path gives the same
 *     RowBinary bytes, or the same error text, as the same token read as
 *     text (jsonvalue_put_scalar), for integers, floats, decimals and
 *     Bool; and a float is what strtod/strtof make of the token;
 *   - literals and whitespace as the reference reads them.
 * The fast paths read words; so that ASan sees a read past the end, each
 * check runs on its own heap copy of exactly the bytes it may read, and
 * the copies start at each offset of the first 34 bytes and end at each
 * of the last 34, putting every byte at every place in an 8, 16 or
 * 32-byte block and every distance from the end.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chtype.h"
#include "json.h"
#include "jsonvalue.h"
#include "message.h"

#define SHIFTS 34

static void fail_check(const char *what) {
    fprintf(stderr, "fuzz_jsonscan: %s\n", what);
    abort();
}

static char *exact_copy(const char *s, size_t n) {
    char *p = malloc(n ? n : 1);
    if (!p) abort();
    if (n) memcpy(p, s, n);
    return p;
}

/* ---- references -------------------------------------------------------- */

static const char *ref_scan(const char *p, const char *end) {
    while (p < end && *p != '"' && *p != '\\') p++;
    return p;
}

static int ref_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

static const char *ref_skip_ws(const char *p, const char *end) {
    while (p < end && ref_ws(*p)) p++;
    return p;
}

static int ref_hex(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Four hex digits at *p, or an error naming what is wrong (*p unmoved). */
static const char *ref_hex4(const char **p, const char *end, unsigned *v) {
    if (end - *p < 4) return "truncated \\u escape";
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int h = ref_hex((*p)[i]);
        if (h < 0) return "invalid \\u escape";
        *v = *v << 4 | (unsigned)h;
    }
    *p += 4;
    return NULL;
}

static void ref_utf8(buf *b, unsigned cp) {
    if (cp < 0x80) {
        buf_u8(b, (uint8_t)cp);
    } else if (cp < 0x800) {
        buf_u8(b, (uint8_t)(0xC0 | cp >> 6));
        buf_u8(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        buf_u8(b, (uint8_t)(0xE0 | cp >> 12));
        buf_u8(b, (uint8_t)(0x80 | (cp >> 6 & 0x3F)));
        buf_u8(b, (uint8_t)(0x80 | (cp & 0x3F)));
    } else {
        buf_u8(b, (uint8_t)(0xF0 | cp >> 18));
        buf_u8(b, (uint8_t)(0x80 | (cp >> 12 & 0x3F)));
        buf_u8(b, (uint8_t)(0x80 | (cp >> 6 & 0x3F)));
        buf_u8(b, (uint8_t)(0x80 | (cp & 0x3F)));
    }
}

/* A string from its opening quote at p: 0 with the unescaped bytes in out
 * and *stop after the closing quote, or -1 with *why and *stop at the
 * byte json.h's rules blame. */
static int ref_string(const char *p, const char *end, buf *out, const char **stop, const char **why) {
    out->len = 0;
    p++;
    for (;;) {
        if (p >= end) {
            *stop = p;
            *why = "unterminated string";
            return -1;
        }
        char ch = *p++;
        if (ch == '"') break;
        if (ch != '\\') {
            buf_u8(out, (uint8_t)ch);
            continue;
        }
        if (p >= end) {
            *stop = p;
            *why = "truncated escape";
            return -1;
        }
        char e = *p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            buf_u8(out, (uint8_t)"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]);
            continue;
        }
        if (e != 'u') {
            *stop = p - 1;
            *why = "invalid escape in string";
            return -1;
        }
        unsigned cp, lo;
        if ((*why = ref_hex4(&p, end, &cp))) {
            *stop = p;
            return -1;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u') {
                *stop = p;
                *why = "a \\u escape of a high surrogate must be followed by a low one";
                return -1;
            }
            const char *second = p;
            p += 2;
            if ((*why = ref_hex4(&p, end, &lo))) {
                *stop = p;
                return -1;
            }
            if (lo < 0xDC00 || lo > 0xDFFF) {
                *stop = second;
                *why = "a high surrogate followed by something other than a low surrogate";
                return -1;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        ref_utf8(out, cp);
    }
    *stop = p;
    return 0;
}

/* Skipping a string: a backslash hides the byte after it. */
static int ref_skip_string(const char *p, const char *end, const char **stop) {
    for (p++; p < end; p++) {
        if (*p == '"') {
            *stop = p + 1;
            return 0;
        }
        if (*p == '\\') p++;
    }
    *stop = end;
    return -1;
}

static int ref_digit(const char *p, const char *end) { return p < end && *p >= '0' && *p <= '9'; }

/* What the reference makes of a number token. */
typedef struct ref_num {
    const char *s, *stop, *why;
    size_t n;
    int negative, has_fraction, has_exponent;
    size_t significant, fraction; /* digits from the first non-zero one; digits after '.' */
    uint64_t mantissa;            /* the significant digits, when at most 19 */
} ref_num;

static int ref_number(const char *p, const char *end, ref_num *r) {
    memset(r, 0, sizeof *r);
    p = ref_skip_ws(p, end);
    r->s = p;
    if (p < end && *p == '-') {
        r->negative = 1;
        p++;
    }
    if (!ref_digit(p, end)) {
        r->stop = p;
        r->why = "expected a number";
        return -1;
    }
    int seen = 0; /* a non-zero digit */
    for (int first = 1; ref_digit(p, end); first = 0) {
        if (!first && !seen) break; /* after a leading 0 the number has ended */
        if (*p != '0') seen = 1;
        if (seen) {
            r->significant++;
            if (r->significant <= 19) r->mantissa = r->mantissa * 10 + (uint64_t)(*p - '0');
        }
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (!ref_digit(p, end)) {
            r->stop = p;
            r->why = "expected digits after '.' in a number";
            return -1;
        }
        r->has_fraction = 1;
        for (; ref_digit(p, end); p++) {
            r->fraction++;
            if (*p != '0') seen = 1;
            if (seen) {
                r->significant++;
                if (r->significant <= 19) r->mantissa = r->mantissa * 10 + (uint64_t)(*p - '0');
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!ref_digit(p, end)) {
            r->stop = p;
            r->why = "expected digits in a number's exponent";
            return -1;
        }
        r->has_exponent = 1;
        while (ref_digit(p, end)) p++;
    }
    r->stop = p;
    r->n = (size_t)(p - r->s);
    return 0;
}

/* ---- checks ------------------------------------------------------------ */

static void check_scan(const char *b, size_t n) {
    const char *want = ref_scan(b, b + n);
    if (kb_json_scan_string(b, b + n) != want) fail_check("kb_json_scan_string stops elsewhere");
    if (kb_json_scan_string_portable(b, b + n) != want) fail_check("kb_json_scan_string_portable stops elsewhere");
}

static int same_why(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* b[0] is '"'. */
static void check_string(const char *b, size_t n, buf *scratch, buf *want) {
    const char *stop, *why = NULL;
    int rc = ref_string(b, b + n, want, &stop, &why);
    kb_json_cursor c = {b, b, b + n, NULL};
    const char *s;
    size_t len;
    int got = kb_json_string(&c, scratch, &s, &len);
    if (got != rc) fail_check(rc ? "kb_json_string accepts a bad string" : "kb_json_string refuses a good string");
    if (c.p != stop) fail_check("kb_json_string leaves the cursor elsewhere");
    if (rc) {
        if (!same_why(c.why, why)) fail_check("kb_json_string gives another reason");
    } else if (len != want->len || (len && memcmp(s, want->data, len) != 0)) {
        fail_check("kb_json_string gives other bytes");
    }
    kb_json_cursor k = {b, b, b + n, NULL};
    rc = ref_skip_string(b, b + n, &stop);
    if (kb_json_skip(&k) != rc) fail_check("kb_json_skip and the reference disagree on a string");
    if (k.p != stop) fail_check("kb_json_skip leaves the cursor elsewhere after a string");
}

static void check_number(const char *b, size_t n) {
    ref_num r;
    int rc = ref_number(b, b + n, &r);
    kb_json_cursor c = {b, b, b + n, NULL};
    kb_json_num num;
    int got = kb_json_number_read(&c, &num);
    if (got != rc) fail_check(rc ? "kb_json_number_read accepts a bad number" : "kb_json_number_read refuses a number");
    if (c.p != r.stop) fail_check("kb_json_number_read leaves the cursor elsewhere");
    if (rc && !same_why(c.why, r.why)) fail_check("kb_json_number_read gives another reason");
    kb_json_cursor t = {b, b, b + n, NULL};
    const char *s;
    size_t len;
    if (kb_json_number(&t, &s, &len) != rc || t.p != c.p) fail_check("kb_json_number and kb_json_number_read differ");
    if (rc) {
        if (!same_why(t.why, r.why)) fail_check("kb_json_number gives another reason");
        return;
    }
    if (num.s != r.s || num.n != r.n || s != r.s || len != r.n) fail_check("another token");
    if (num.negative != r.negative) fail_check("another sign");
    int exact = !r.has_exponent && r.significant <= 19 && r.fraction <= 1000;
    if (num.exact != exact) fail_check("exact wrongly set");
    if (num.integer != (exact && !r.has_fraction)) fail_check("integer wrongly set");
    if (exact) {
        if (num.mantissa != r.mantissa) fail_check("another mantissa");
        if (num.exp10 != -(int)r.fraction) fail_check("another power of ten");
    }
    if (num.integer) {
        errno = 0;
        char text[32];
        size_t digits = r.n - (size_t)r.negative;
        memcpy(text, r.s + r.negative, digits);
        text[digits] = '\0';
        if (strtoull(text, NULL, 10) != num.mantissa || errno) fail_check("the integer is not its digits");
    }
}

static void check_literals(const char *b, size_t n) {
    static const kb_json_kind kinds[] = {KB_JSON_TRUE, KB_JSON_FALSE, KB_JSON_NULL};
    static const char *const words[] = {"true", "false", "null"};
    const char *p = ref_skip_ws(b, b + n);
    kb_json_cursor w = {b, b, b + n, NULL};
    kb_json_skip_ws(&w);
    if (w.p != p) fail_check("kb_json_skip_ws stops elsewhere");
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(words[i]);
        int ok = (size_t)(b + n - p) >= len && memcmp(p, words[i], len) == 0;
        kb_json_cursor c = {b, b, b + n, NULL};
        int rc = kb_json_literal(&c, kinds[i]);
        if ((rc == 0) != ok) fail_check("kb_json_literal and the reference disagree");
        if (c.p != (ok ? p + len : p)) fail_check("kb_json_literal leaves the cursor elsewhere");
    }
}

/* Column types whose numbers take the one-pass path. */
static const char *const number_types[] = {"Int8", "UInt8", "Int16", "Int32", "UInt32", "Int64", "UInt64",
                                           "Float32", "Float64", "BFloat16", "Decimal(18, 4)", "Bool",
                                           "Nullable(Int64)", "String"};
#define NTYPES (sizeof number_types / sizeof *number_types)
static chtype *types[NTYPES];
static jsonvalue values;
static buf scratch, want, dst_cursor, dst_text;

static void setup(void) {
    char err[256];
    for (size_t i = 0; i < NTYPES; i++)
        if (chtype_parse(number_types[i], &types[i], err, sizeof err)) fail_check(err);
    jsonvalue_init(&values, (const chtype *const *)types, NTYPES);
    buf_init(&scratch, 64);
    buf_init(&want, 64);
    buf_init(&dst_cursor, 64);
    buf_init(&dst_text, 64);
}

/* A number token read by a column from the message, and the same text
 * handed over as a scalar (no cursor, so the text path). */
static void check_values(const char *b, size_t n) {
    ref_num r;
    if (ref_number(b, b + n, &r)) return;
    for (size_t i = 0; i < NTYPES; i++) {
        const chtype *t = types[i];
        row_error ec = {0}, et = {0};
        dst_cursor.len = dst_text.len = 0;
        kb_json_cursor c = {b, b, b + n, NULL};
        int a = jsonvalue_put(&values, t, &c, &dst_cursor, &ec);
        /* jsonvalue_put_scalar takes the type without Nullable; the
         * cursor's path writes the Nullable's marker byte first. */
        const chtype *bare = t->kind == CT_NULLABLE ? t->inner : t;
        if (bare != t) buf_u8(&dst_text, 0);
        int z = jsonvalue_put_scalar(&values, bare, KB_JSON_NUMBER, r.s, r.n, &dst_text, &et);
        if (a != z) fail_check("a column accepts what the text path refuses, or the reverse");
        if (a) {
            if (strcmp(ec.reason, et.reason) != 0) fail_check("another error for a number");
            continue;
        }
        if (c.p != r.stop) fail_check("the column leaves the cursor elsewhere");
        if (dst_cursor.len != dst_text.len || memcmp(dst_cursor.data, dst_text.data, dst_cursor.len) != 0)
            fail_check("other bytes for a number");
        if (bare->kind == CT_FLOAT64 || bare->kind == CT_FLOAT32) {
            char text[4200];
            if (r.n >= sizeof text) continue;
            memcpy(text, r.s, r.n);
            text[r.n] = '\0';
            if (bare->kind == CT_FLOAT64) {
                double d = strtod(text, NULL), got;
                memcpy(&got, dst_cursor.data + (bare != t), 8);
                if (memcmp(&d, &got, 8) != 0) fail_check("Float64 differs from strtod");
            } else {
                float f = strtof(text, NULL), got;
                memcpy(&got, dst_cursor.data + (bare != t), 4);
                if (memcmp(&f, &got, 4) != 0) fail_check("Float32 differs from strtof");
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    const char *in = (const char *)data;
    for (size_t cut = 0; cut <= size && cut < SHIFTS; cut++) {
        /* Starting at each of the first bytes, ending at the input's end;
         * and starting at the first byte, ending short of the end. */
        for (int side = 0; side < 2; side++) {
            if (side && !cut) continue;
            size_t from = side ? 0 : cut, n = size - cut;
            char *b = exact_copy(in + from, n);
            check_scan(b, n);
            check_number(b, n);
            check_literals(b, n);
            check_values(b, n);
            free(b);
            /* The same bytes as a string's contents. */
            char *q = malloc(n + 1);
            if (!q) abort();
            q[0] = '"';
            memcpy(q + 1, in + from, n);
            check_string(q, n + 1, &scratch, &want);
            free(q);
        }
    }
    return 0;
}
