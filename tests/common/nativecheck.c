#include "nativecheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chtype.h"

/* One column's values in RowBinary, value i at data[at[i] .. at[i+1]). */
typedef struct vals {
    buf data;
    size_t *at;
    size_t n;
} vals;

static void vals_init(vals *v, size_t n) {
    buf_init(&v->data, 64);
    v->at = kb_xcalloc(n + 1, sizeof *v->at);
    v->n = n;
}

static void vals_free(vals *v) {
    buf_free(&v->data);
    free(v->at);
}

static int failf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int leb(const unsigned char **p, const unsigned char *end, uint64_t *v) {
    uint64_t x = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        unsigned char b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static uint64_t u64le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int decode(const chtype *t, size_t n, const unsigned char **p, const unsigned char *end, vals *out,
                  char *err, size_t errlen);

/* Offsets of an Array or Map: n cumulative counts. */
static int offsets(size_t n, const unsigned char **p, const unsigned char *end, uint64_t **off, char *err,
                   size_t errlen) {
    if ((size_t)(end - *p) / 8 < n) return failf(err, errlen, "offsets cut short");
    *off = kb_xcalloc(n + 1, sizeof **off);
    for (size_t i = 0; i < n; i++) {
        (*off)[i + 1] = u64le(*p + 8 * i);
        if ((*off)[i + 1] < (*off)[i] || (*off)[i + 1] > (uint64_t)(end - *p))
            return failf(err, errlen, "offset %zu is %llu after %llu", i, (unsigned long long)(*off)[i + 1],
                         (unsigned long long)(*off)[i]);
    }
    *p += 8 * n;
    return 0;
}

static int decode_elems(const chtype *t, size_t n, const unsigned char **p, const unsigned char *end,
                        vals *elems, char *err, size_t errlen) {
    for (size_t e = 0; e < t->nelems; e++) vals_init(&elems[e], n);
    for (size_t e = 0; e < t->nelems; e++)
        if (decode(t->elems[e], n, p, end, &elems[e], err, errlen)) return -1;
    return 0;
}

static int decode(const chtype *t, size_t n, const unsigned char **p, const unsigned char *end, vals *out,
                  char *err, size_t errlen) {
    switch (t->kind) {
    case CT_LOWCARDINALITY:
        return failf(err, errlen, "LowCardinality in a block");
    case CT_STRING:
        for (size_t i = 0; i < n; i++) {
            const unsigned char *start = *p;
            uint64_t len;
            if (leb(p, end, &len) || len > (uint64_t)(end - *p)) return failf(err, errlen, "string cut short");
            *p += len;
            out->at[i] = out->data.len;
            buf_put(&out->data, start, (size_t)(*p - start));
        }
        break;
    case CT_NULLABLE: {
        if ((size_t)(end - *p) < n) return failf(err, errlen, "null map cut short");
        const unsigned char *map = *p;
        *p += n;
        vals inner;
        vals_init(&inner, n);
        int rc = decode(t->inner, n, p, end, &inner, err, errlen);
        for (size_t i = 0; !rc && i < n; i++) {
            if (map[i] > 1) rc = failf(err, errlen, "null map byte %u", map[i]);
            out->at[i] = out->data.len;
            buf_u8(&out->data, map[i]);
            if (!map[i]) buf_put(&out->data, inner.data.data + inner.at[i], inner.at[i + 1] - inner.at[i]);
        }
        vals_free(&inner);
        if (rc) return -1;
        break;
    }
    case CT_ARRAY:
    case CT_MAP:
    case CT_NESTED: {
        uint64_t *off = NULL;
        if (offsets(n, p, end, &off, err, errlen)) {
            free(off);
            return -1;
        }
        size_t total = (size_t)off[n], parts = t->kind == CT_ARRAY ? 1 : t->nelems;
        vals *elems = kb_xcalloc(parts, sizeof *elems);
        int rc;
        if (t->kind == CT_ARRAY) {
            vals_init(&elems[0], total);
            rc = decode(t->inner, total, p, end, &elems[0], err, errlen);
        } else {
            rc = decode_elems(t, total, p, end, elems, err, errlen);
        }
        for (size_t i = 0; !rc && i < n; i++) {
            out->at[i] = out->data.len;
            buf_leb128(&out->data, off[i + 1] - off[i]);
            for (uint64_t j = off[i]; j < off[i + 1]; j++)
                for (size_t e = 0; e < parts; e++)
                    buf_put(&out->data, elems[e].data.data + elems[e].at[j], elems[e].at[j + 1] - elems[e].at[j]);
        }
        for (size_t e = 0; e < parts; e++)
            if (elems[e].at) vals_free(&elems[e]);
        free(elems);
        free(off);
        if (rc) return -1;
        break;
    }
    case CT_TUPLE: {
        vals *elems = kb_xcalloc(t->nelems, sizeof *elems);
        int rc = decode_elems(t, n, p, end, elems, err, errlen);
        for (size_t i = 0; !rc && i < n; i++) {
            out->at[i] = out->data.len;
            for (size_t e = 0; e < t->nelems; e++)
                buf_put(&out->data, elems[e].data.data + elems[e].at[i], elems[e].at[i + 1] - elems[e].at[i]);
        }
        for (size_t e = 0; e < t->nelems; e++)
            if (elems[e].at) vals_free(&elems[e]);
        free(elems);
        if (rc) return -1;
        break;
    }
    case CT_VARIANT: {
        /* Discriminators for every row, then each type's own rows. */
        if ((size_t)(end - *p) < n) return failf(err, errlen, "discriminators cut short");
        const unsigned char *discr = *p;
        *p += n;
        size_t *count = kb_xcalloc(t->nelems, sizeof *count), *next = kb_xcalloc(t->nelems, sizeof *next);
        int rc = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            if (discr[i] == 255) continue;
            if (discr[i] >= t->nelems) rc = failf(err, errlen, "discriminator %u of %zu types", discr[i], t->nelems);
            else count[discr[i]]++;
        }
        vals *parts = kb_xcalloc(t->nelems, sizeof *parts);
        for (size_t e = 0; e < t->nelems && !rc; e++) {
            vals_init(&parts[e], count[e]);
            rc = decode(t->elems[e], count[e], p, end, &parts[e], err, errlen);
        }
        for (size_t i = 0; !rc && i < n; i++) {
            out->at[i] = out->data.len;
            buf_u8(&out->data, discr[i]);
            if (discr[i] == 255) continue;
            const vals *v = &parts[discr[i]];
            size_t j = next[discr[i]]++;
            buf_put(&out->data, v->data.data + v->at[j], v->at[j + 1] - v->at[j]);
        }
        for (size_t e = 0; e < t->nelems; e++)
            if (parts[e].at) vals_free(&parts[e]);
        free(parts);
        free(count);
        free(next);
        if (rc) return -1;
        break;
    }
    default: {
        size_t w = chtype_fixed_size(t);
        if (!w || (size_t)(end - *p) / w < n) return failf(err, errlen, "fixed-width values cut short");
        for (size_t i = 0; i < n; i++) {
            out->at[i] = out->data.len;
            buf_put(&out->data, *p + i * w, w);
        }
        *p += n * w;
        break;
    }
    }
    out->at[n] = out->data.len;
    return 0;
}

/* The states a column's data starts with: one per Variant, outermost
 * and first-listed first, each the UInt64 mode of its discriminators,
 * which must be 0 (basic: one byte per row). */
static int prefixes(const chtype *t, const unsigned char **p, const unsigned char *end, char *err,
                    size_t errlen) {
    if (t->kind == CT_VARIANT) {
        if ((size_t)(end - *p) < 8) return failf(err, errlen, "Variant prefix cut short");
        if (u64le(*p)) return failf(err, errlen, "Variant discriminators mode %llu, not basic", (unsigned long long)u64le(*p));
        *p += 8;
    }
    if (t->inner && prefixes(t->inner, p, end, err, errlen)) return -1;
    for (size_t i = 0; i < t->nelems; i++)
        if (prefixes(t->elems[i], p, end, err, errlen)) return -1;
    return 0;
}

int nativecheck_read(const rowplan *plan, const unsigned char *p, size_t len, buf *rows, size_t *nrows,
                     size_t *nblocks, size_t *max_block_rows, char *err, size_t errlen) {
    const unsigned char *end = p + len;
    size_t total_rows = 0, blocks = 0, biggest = 0;
    while (p < end) {
        uint64_t ncols, n;
        if (leb(&p, end, &ncols) || leb(&p, end, &n)) return failf(err, errlen, "block header cut short");
        if (ncols != plan->ncols) return failf(err, errlen, "block has %llu columns", (unsigned long long)ncols);
        if (n > len) return failf(err, errlen, "block claims %llu rows", (unsigned long long)n);
        vals *cols = kb_xcalloc(plan->ncols ? plan->ncols : 1, sizeof *cols);
        int rc = 0;
        for (size_t c = 0; !rc && c < plan->ncols; c++) {
            uint64_t l;
            if (leb(&p, end, &l) || l > (uint64_t)(end - p) || l != plan->cols[c].name_len ||
                memcmp(p, plan->cols[c].name, l)) {
                rc = failf(err, errlen, "column %zu: wrong name", c);
                break;
            }
            p += l;
            if (leb(&p, end, &l) || l > (uint64_t)(end - p)) {
                rc = failf(err, errlen, "column %zu: type name cut short", c);
                break;
            }
            char *name = kb_xcalloc(l + 1, 1);
            memcpy(name, p, l);
            p += l;
            chtype *t = NULL;
            char why[256];
            if (chtype_parse(name, &t, why, sizeof why)) {
                rc = failf(err, errlen, "column %zu: type '%s': %s", c, name, why);
            } else if (prefixes(t, &p, end, err, errlen)) {
                rc = -1;
            } else {
                vals_init(&cols[c], (size_t)n);
                rc = decode(t, (size_t)n, &p, end, &cols[c], err, errlen);
            }
            chtype_free(t);
            free(name);
        }
        for (size_t i = 0; !rc && i < n; i++)
            for (size_t c = 0; c < plan->ncols; c++)
                buf_put(rows, cols[c].data.data + cols[c].at[i], cols[c].at[i + 1] - cols[c].at[i]);
        for (size_t c = 0; c < plan->ncols; c++)
            if (cols[c].at) vals_free(&cols[c]);
        free(cols);
        if (rc) return -1;
        total_rows += (size_t)n;
        if (n > biggest) biggest = (size_t)n;
        blocks++;
    }
    if (nrows) *nrows = total_rows;
    if (nblocks) *nblocks = blocks;
    if (max_block_rows) *max_block_rows = biggest;
    return 0;
}

static unsigned char entropy(nativecheck_src *s) {
    if (!s->len) return 0;
    s->len--;
    return *s->p++;
}

static void gen(const chtype *t, nativecheck_src *s, buf *out, int depth) {
    switch (t->kind) {
    case CT_LOWCARDINALITY:
        gen(t->inner, s, out, depth);
        return;
    case CT_STRING: {
        size_t n = entropy(s) % 12;
        buf_leb128(out, n);
        for (size_t i = 0; i < n; i++) buf_u8(out, entropy(s));
        return;
    }
    case CT_NULLABLE: {
        int null = entropy(s) & 1;
        buf_u8(out, (uint8_t)null);
        if (!null) gen(t->inner, s, out, depth + 1);
        return;
    }
    case CT_ARRAY:
    case CT_MAP:
    case CT_NESTED: {
        unsigned char b = entropy(s);
        size_t n = depth > 3 ? b % 2 : b == 255 ? 200 : b % 5;
        buf_leb128(out, n);
        for (size_t i = 0; i < n; i++) {
            if (t->kind == CT_ARRAY) gen(t->inner, s, out, depth + 1);
            else
                for (size_t e = 0; e < t->nelems; e++) gen(t->elems[e], s, out, depth + 1);
        }
        return;
    }
    case CT_TUPLE:
        for (size_t e = 0; e < t->nelems; e++) gen(t->elems[e], s, out, depth + 1);
        return;
    case CT_VARIANT: {
        size_t d = entropy(s) % (t->nelems + 1);
        if (d == t->nelems) {
            buf_u8(out, 255);
            return;
        }
        buf_u8(out, (uint8_t)d);
        gen(t->elems[d], s, out, depth + 1);
        return;
    }
    default: {
        size_t w = chtype_fixed_size(t);
        for (size_t i = 0; i < w; i++) buf_u8(out, entropy(s));
        return;
    }
    }
}

void nativecheck_row(const rowplan *plan, nativecheck_src *src, buf *out) {
    for (size_t c = 0; c < plan->ncols; c++) gen(plan->cols[c].type, src, out, 0);
}
