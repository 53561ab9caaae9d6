#include "rbread.h"

#include <errno.h>
#include <string.h>

/* ClickHouse refuses longer strings on input by default
 * (format_binary_max_string_size); refusing them here too keeps a corrupt
 * length from asking for terabytes. */
#define MAX_STRING ((uint64_t)1 << 30)
#define MAX_BLOCK_ROWS ((uint64_t)1 << 32)

void rbread_init(rbread *r, FILE *in) {
    memset(r, 0, sizeof *r);
    r->in = in;
}

static int cut_short(rbread *r, const char *what) {
    if (ferror(r->in))
        snprintf(r->err, sizeof r->err, "block %llu: cannot read input: %s", (unsigned long long)r->block,
                 strerror(errno));
    else
        snprintf(r->err, sizeof r->err, "block %llu: input ends inside %s", (unsigned long long)r->block, what);
    return RB_ERROR;
}

int rbread_block(rbread *r, uint64_t *rows) {
    uint64_t n = 0;
    int digits = 0, c;
    while ((c = getc_unlocked(r->in)) >= '0' && c <= '9') {
        if (n > (MAX_BLOCK_ROWS - 9) / 10) {
            snprintf(r->err, sizeof r->err, "block %llu: row count too large", (unsigned long long)r->block + 1);
            return RB_ERROR;
        }
        n = n * 10 + (uint64_t)(c - '0');
        digits++;
    }
    if (c == EOF && !digits && !ferror(r->in)) return RB_EOF;
    r->block++;
    if (c != '\n' || !digits) {
        if (c == EOF) return cut_short(r, "the row count");
        snprintf(r->err, sizeof r->err,
                 "block %llu: expected a row count line (is send_chunk_header = 1 set?), got byte 0x%02x",
                 (unsigned long long)r->block, (unsigned)c);
        return RB_ERROR;
    }
    *rows = n;
    return RB_OK;
}

int rbread_count(rbread *r, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        int c = getc_unlocked(r->in);
        if (c == EOF) return cut_short(r, "a length");
        if (shift > 56) {
            snprintf(r->err, sizeof r->err, "block %llu: malformed length", (unsigned long long)r->block);
            return RB_ERROR;
        }
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) break;
    }
    *out = v;
    return RB_OK;
}

int rbread_string(rbread *r, buf *into, rbspan *out) {
    uint64_t n;
    if (rbread_count(r, &n)) return RB_ERROR;
    if (n > MAX_STRING) {
        snprintf(r->err, sizeof r->err, "block %llu: a string of %llu bytes (the limit is %llu)",
                 (unsigned long long)r->block, (unsigned long long)n, (unsigned long long)MAX_STRING);
        return RB_ERROR;
    }
    buf_reserve(into, (size_t)n);
    if (n && fread(into->data + into->len, 1, (size_t)n, r->in) != (size_t)n) return cut_short(r, "a string");
    out->off = into->len;
    out->len = (size_t)n;
    into->len += (size_t)n;
    return RB_OK;
}

int rbread_nullable_string(rbread *r, buf *into, rbspan *out) {
    int c = getc_unlocked(r->in);
    if (c == EOF) return cut_short(r, "a value");
    if (c == 1) {
        out->off = 0;
        out->len = RB_NULL;
        return RB_OK;
    }
    if (c != 0) {
        snprintf(r->err, sizeof r->err, "block %llu: bad Nullable marker 0x%02x", (unsigned long long)r->block,
                 (unsigned)c);
        return RB_ERROR;
    }
    return rbread_string(r, into, out);
}
