#include "startpos.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "chtype.h"

/* Start positions are a few bytes per partition; anything this large is
 * not the offsets query the user meant to pass. */
#define STARTPOS_MAX_INPUT (64u << 20)

typedef struct reader {
    const unsigned char *p, *end;
    char *err;
    size_t errlen;
} reader;

__attribute__((format(printf, 2, 3)))
static int fail(reader *r, const char *fmt, ...) {
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "input query: %s", what);
    return -1;
}

static int read_leb128(reader *r, uint64_t *out, const char *what) {
    uint64_t v = 0;
    *out = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return fail(r, "the input ends inside %s", what);
        unsigned char b = *r->p++;
        if (shift == 63 && (b & 0x7e)) break; /* bits past 64 */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return fail(r, "%s is not a valid length", what);
}

static int read_string(reader *r, const unsigned char **s, size_t *n, const char *what) {
    uint64_t len;
    if (read_leb128(r, &len, what)) return -1;
    if (len > (uint64_t)(r->end - r->p)) return fail(r, "the input ends inside %s", what);
    *s = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

/* One column of the header: an integer type, possibly Nullable. */
typedef struct intcol {
    int nullable;
    int is_signed;
    unsigned bytes;
} intcol;

static int parse_column_type(reader *r, const unsigned char *name, size_t name_len,
                             const unsigned char *type, size_t type_len, const char *role,
                             intcol *out) {
    char text[128], why[256];
    if (type_len >= sizeof text) return fail(r, "column '%.*s' has an unexpected type", (int)name_len, name);
    memcpy(text, type, type_len);
    text[type_len] = '\0';
    chtype *t;
    if (chtype_parse(text, &t, why, sizeof why) == 0) {
        const chtype *base = chtype_base(t);
        out->nullable = t->kind == CT_NULLABLE;
        out->bytes = (unsigned)chtype_fixed_size(base);
        out->is_signed = base->kind <= CT_INT64;
        int ok = base->kind <= CT_UINT64;
        chtype_free(t);
        if (ok) return 0;
    }
    return fail(r, "the %s column '%.*s' has type %s, expected an integer type", role,
                (int)name_len, name, text);
}

/* Reads one value; *is_null is set for a NULL.  The value is returned as
 * sign and magnitude so that no width is lost. */
static int read_int(reader *r, const intcol *c, int *is_null, int *negative, uint64_t *magnitude) {
    *is_null = 0;
    if (c->nullable) {
        if (r->p >= r->end) return fail(r, "the input ends inside a row");
        if (*r->p++) {
            *is_null = 1;
            return 0;
        }
    }
    if ((size_t)(r->end - r->p) < c->bytes) return fail(r, "the input ends inside a row");
    uint64_t v = 0;
    for (unsigned i = 0; i < c->bytes; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += c->bytes;
    *negative = 0;
    if (c->is_signed && c->bytes < 8 && (v >> (8 * c->bytes - 1) & 1)) {
        v = ((uint64_t)1 << (8 * c->bytes)) - v; /* two's complement of the width */
        *negative = 1;
    } else if (c->is_signed && c->bytes == 8 && (v >> 63)) {
        v = (uint64_t)0 - v;
        *negative = 1;
    }
    *magnitude = v;
    return 0;
}

int partition_start_cmp(const void *a, const void *b) {
    int32_t x = ((const partition_start *)a)->partition, y = ((const partition_start *)b)->partition;
    return (x > y) - (x < y);
}

int startpos_parse(const unsigned char *data, size_t len, partition_start **out, size_t *n,
                   char *err, size_t errlen) {
    reader r = {data, data + len, err, errlen};
    *out = NULL;
    *n = 0;
    if (len == 0)
        return fail(&r, "nothing arrived on stdin (--offsets-from stdin needs an input query, "
                        "e.g. (SELECT _partition, max(_offset) + 1 FROM t GROUP BY _partition))");
    uint64_t ncols;
    if (read_leb128(&r, &ncols, "the header")) return -1;
    if (ncols != 2)
        return fail(&r, "expected 2 columns (partition, next offset) in RowBinaryWithNamesAndTypes, "
                        "got %" PRIu64 " (the input of executable() must use that format)", ncols);
    const unsigned char *names[2], *types[2];
    size_t name_len[2], type_len[2];
    for (int i = 0; i < 2; i++)
        if (read_string(&r, &names[i], &name_len[i], "the header")) return -1;
    for (int i = 0; i < 2; i++)
        if (read_string(&r, &types[i], &type_len[i], "the header")) return -1;
    intcol cols[2];
    if (parse_column_type(&r, names[0], name_len[0], types[0], type_len[0], "partition", &cols[0]) ||
        parse_column_type(&r, names[1], name_len[1], types[1], type_len[1], "offset", &cols[1]))
        return -1;

    size_t cap = 0;
    for (uint64_t row = 1; r.p < r.end; row++) {
        int pnull, onull, pneg, oneg;
        uint64_t p, o;
        if (read_int(&r, &cols[0], &pnull, &pneg, &p) || read_int(&r, &cols[1], &onull, &oneg, &o))
            goto bad;
        if (pnull || onull) {
            /* A NULL is no position; skipping it would restart that
             * partition at --offset, which is what a mistake looks like. */
            fail(&r, "row %" PRIu64 ": NULL %s (filter NULLs out in the input query, or give a start)",
                 row, pnull ? "partition" : "offset");
            goto bad;
        }
        if (pneg || p > INT32_MAX) {
            fail(&r, "row %" PRIu64 ": partition %s%" PRIu64 " is out of range", row, pneg ? "-" : "", p);
            goto bad;
        }
        if (oneg || o > INT64_MAX) {
            fail(&r, "row %" PRIu64 ": offset %s%" PRIu64 " for partition %" PRIu64 " is out of range",
                 row, oneg ? "-" : "", o, p);
            goto bad;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            partition_start *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                fail(&r, "out of memory");
                goto bad;
            }
            *out = v;
        }
        (*out)[(*n)++] = (partition_start){(int32_t)p, {OFFSET_ABSOLUTE, (int64_t)o}};
    }
    /* Sorted by partition: duplicates are found in n log n rather than n^2
     * (80k partitions took seconds), and the consumer looks starts up by
     * binary search. */
    if (*n) qsort(*out, *n, sizeof **out, partition_start_cmp);
    for (size_t i = 1; i < *n; i++)
        if ((*out)[i].partition == (*out)[i - 1].partition) {
            fail(&r, "partition %" PRId32 " is given twice (GROUP BY the partition)", (*out)[i].partition);
            goto bad;
        }
    return 0;
bad:
    free(*out);
    *out = NULL;
    *n = 0;
    return -1;
}

int startpos_read(int fd, int timeout_ms, partition_start **out, size_t *n, char *err,
                  size_t errlen) {
    buf in;
    buf_init(&in, 4096);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) {
            snprintf(err, errlen,
                     "input query: nothing arrived on stdin for %d ms; --offsets-from stdin needs "
                     "an input query, e.g. (SELECT _partition, max(_offset) + 1 FROM t GROUP BY "
                     "_partition) as the last argument of executable()",
                     timeout_ms);
            buf_free(&in);
            return -1;
        }
        buf_reserve(&in, 65536);
        ssize_t got = read(fd, in.data + in.len, in.cap - in.len);
        if (got < 0) {
            if (errno == EINTR) continue;
            snprintf(err, errlen, "input query: cannot read stdin: %s", strerror(errno));
            buf_free(&in);
            return -1;
        }
        if (got == 0) break;
        in.len += (size_t)got;
        if (in.len > STARTPOS_MAX_INPUT) {
            snprintf(err, errlen, "input query: more than %u MiB on stdin; expected one row per partition",
                     STARTPOS_MAX_INPUT >> 20);
            buf_free(&in);
            return -1;
        }
    }
    int rc = startpos_parse(in.data, in.len, out, n, err, errlen);
    buf_free(&in);
    return rc;
}
