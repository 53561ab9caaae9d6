#include "rowplan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbwriter.h"

static uint64_t hash_name(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static meta_kind meta_of(const char *name) {
    if (strcmp(name, "_topic") == 0) return META_TOPIC;
    if (strcmp(name, "_partition") == 0) return META_PARTITION;
    if (strcmp(name, "_offset") == 0) return META_OFFSET;
    if (strcmp(name, "_timestamp") == 0) return META_TIMESTAMP;
    if (strcmp(name, "_key") == 0) return META_KEY;
    if (strcmp(name, "_error") == 0) return META_ERROR;
    if (strcmp(name, "_raw") == 0) return META_RAW;
    if (strcmp(name, "_headers.name") == 0) return META_HEADER_NAMES;
    if (strcmp(name, "_headers.value") == 0) return META_HEADER_VALUES;
    if (strcmp(name, "_headers") == 0) return META_HEADERS;
    return META_NONE;
}

/* Whether t is String, maybe LowCardinality, and Nullable when allowed. */
static int is_string(const chtype *t, int nullable_ok) {
    if (t->kind == CT_LOWCARDINALITY) t = t->inner;
    if (t->kind == CT_NULLABLE) {
        if (!nullable_ok) return 0;
        t = t->inner;
    }
    return t->kind == CT_STRING;
}

static int check_meta_type(const plan_column *c, char *err, size_t errlen) {
    chtype_kind k = chtype_base(c->type)->kind;
    const chtype *ty = c->type;
    const char *want = NULL;
    switch (c->meta) {
    case META_HEADER_NAMES:
        if (ty->kind != CT_ARRAY || !is_string(ty->inner, 0)) want = "Array(String)";
        break;
    case META_HEADER_VALUES:
        if (ty->kind != CT_ARRAY || !is_string(ty->inner, 1)) want = "Array(String) or Array(Nullable(String))";
        break;
    case META_HEADERS:
        if (ty->kind != CT_MAP || !is_string(ty->elems[0], 0) || !is_string(ty->elems[1], 1))
            want = "Map(String, String) or Map(String, Nullable(String))";
        break;
    case META_TOPIC:
    case META_KEY:
    case META_ERROR:
    case META_RAW:
        if (k != CT_STRING) want = "String";
        break;
    /* Wide enough for every value Kafka can give, so that a good message
     * never fails on its coordinates (a partition is an Int32, an offset
     * an Int64 that is never negative). */
    case META_PARTITION:
        if (k != CT_INT32 && k != CT_INT64 && k != CT_UINT32 && k != CT_UINT64)
            want = "Int32, UInt32, Int64 or UInt64";
        break;
    case META_OFFSET:
        if (k != CT_INT64 && k != CT_UINT64) want = "Int64 or UInt64";
        break;
    case META_TIMESTAMP:
        if (k != CT_DATETIME64 && k != CT_DATETIME) want = "DateTime64(P) or DateTime";
        break;
    case META_NONE:
        break;
    }
    if (!want) return 0;
    buf t;
    buf_init(&t, 64);
    chtype_format(c->type, &t);
    snprintf(err, errlen, "column '%s': metadata column must be %s, not %.*s", c->name, want,
             (int)t.len, (const char *)t.data);
    buf_free(&t);
    return -1;
}

int rowplan_build(rowplan *p, const chcolumns *cols, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    p->ncols = cols->n;
    p->cols = calloc(cols->n ? cols->n : 1, sizeof *p->cols);
    size_t size = 8;
    while (size < cols->n * 2) size *= 2;
    p->index = calloc(size, sizeof *p->index);
    if (!p->cols || !p->index) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    p->index_mask = size - 1;
    for (size_t i = 0; i < cols->n; i++) {
        plan_column *c = &p->cols[i];
        c->name = cols->v[i].name;
        c->name_len = strlen(c->name);
        c->plain_name = 1;
        for (const char *q = c->name; *q; q++)
            if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20) c->plain_name = 0;
        c->type = cols->v[i].type;
        c->path = cols->v[i].path;
        c->source = c->path ? c->path->source : FIELD_VALUE;
        c->meta = c->path ? META_NONE : meta_of(c->name);
        if (c->path) continue; /* found through its path, not by name */
        if (c->meta == META_NONE && !strncmp(c->name, "_headers", 8)) {
            /* Would be silently empty while messages carry headers. */
            snprintf(err, errlen,
                     "column '%s': the header columns are _headers.name, _headers.value and _headers", c->name);
            rowplan_free(p);
            return -1;
        }
        if (c->meta != META_NONE) {
            if (check_meta_type(c, err, errlen)) {
                rowplan_free(p);
                return -1;
            }
            continue;
        }
        size_t slot = hash_name(c->name, c->name_len) & p->index_mask;
        while (p->index[slot]) slot = (slot + 1) & p->index_mask;
        p->index[slot] = (uint32_t)(i + 1);
    }
    return 0;
}

void rowplan_free(rowplan *p) {
    free(p->cols);
    free(p->index);
    memset(p, 0, sizeof *p);
}

int rowplan_find(const rowplan *p, const char *name, size_t len) {
    size_t slot = hash_name(name, len) & p->index_mask;
    for (;;) {
        uint32_t v = p->index[slot];
        if (!v) return -1;
        const plan_column *c = &p->cols[v - 1];
        if (c->name_len == len && memcmp(c->name, name, len) == 0) return (int)(v - 1);
        slot = (slot + 1) & p->index_mask;
    }
}

void rowplan_header(const rowplan *p, buf *out) {
    buf t;
    buf_init(&t, 64);
    buf_leb128(out, p->ncols);
    for (size_t i = 0; i < p->ncols; i++) buf_rb_string(out, p->cols[i].name, p->cols[i].name_len);
    for (size_t i = 0; i < p->ncols; i++) {
        t.len = 0;
        chtype_format(p->cols[i].type, &t);
        buf_rb_string(out, t.data, t.len);
    }
    buf_free(&t);
}

/* The message timestamp (milliseconds) as the instant it names. */
static int put_timestamp(const chtype *t, int64_t ms, buf *out, row_error *e) {
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    uint32_t nanos = (uint32_t)((ms - s * 1000) * 1000000);
    if (rbw_time(out, t, s, nanos, e) == 0) return 0;
    buf name;
    buf_init(&name, 32);
    chtype_format(t, &name);
    snprintf(e->reason, sizeof e->reason, "message timestamp %" PRId64 " ms does not fit %.*s", ms,
             (int)name.len, (const char *)name.data);
    buf_free(&name);
    return -1;
}

/* A header value as a String or Nullable(String) element. */
static void put_header_value(const chtype *t, const kb_header *h, buf *out) {
    if (t->kind == CT_LOWCARDINALITY) t = t->inner;
    if (t->kind == CT_NULLABLE) {
        buf_u8(out, h->value ? 0 : 1);
        if (!h->value) return;
    }
    buf_rb_string(out, h->value, h->value ? h->value_len : 0);
}

/* Whether header i's name comes again later in the message.  Quadratic in
 * the header count, which is small; nothing is allocated per message. */
static int name_repeats(const kb_msg *m, size_t i) {
    const kb_header *h = &m->headers[i];
    for (size_t j = i + 1; j < m->nheaders; j++)
        if (m->headers[j].name_len == h->name_len && !memcmp(m->headers[j].name, h->name, h->name_len))
            return 1;
    return 0;
}

static void put_headers(const plan_column *col, const kb_msg *m, buf *out) {
    const chtype *t = col->type;
    switch (col->meta) {
    case META_HEADER_NAMES:
        buf_leb128(out, m->nheaders);
        for (size_t i = 0; i < m->nheaders; i++) buf_rb_string(out, m->headers[i].name, m->headers[i].name_len);
        return;
    case META_HEADER_VALUES:
        buf_leb128(out, m->nheaders);
        for (size_t i = 0; i < m->nheaders; i++) put_header_value(t->inner, &m->headers[i], out);
        return;
    default: { /* META_HEADERS */
        size_t n = 0;
        for (size_t i = 0; i < m->nheaders; i++) n += !name_repeats(m, i);
        buf_leb128(out, n);
        for (size_t i = 0; i < m->nheaders; i++) {
            if (name_repeats(m, i)) continue;
            buf_rb_string(out, m->headers[i].name, m->headers[i].name_len);
            put_header_value(t->elems[1], &m->headers[i], out);
        }
        return;
    }
    }
}

int rowplan_put_meta(const plan_column *col, const kb_msg *m, buf *out, row_error *e) {
    const chtype *t = col->type;
    if (col->meta == META_HEADER_NAMES || col->meta == META_HEADER_VALUES || col->meta == META_HEADERS) {
        put_headers(col, m, out);
        return 0;
    }
    int present = col->meta == META_KEY         ? m->key != NULL
                  : col->meta == META_TIMESTAMP ? m->has_timestamp
                  : col->meta == META_ERROR     ? m->error != NULL
                  : col->meta == META_RAW       ? m->error != NULL && m->value != NULL
                                                : 1;
    if (t->kind == CT_LOWCARDINALITY) t = t->inner;
    if (t->kind == CT_NULLABLE) {
        buf_u8(out, present ? 0 : 1);
        if (!present) return 0;
        t = t->inner;
    }
    e->column = col->name;
    switch (col->meta) {
    case META_TOPIC:
        buf_rb_string(out, m->topic, strlen(m->topic));
        return 0;
    case META_KEY:
        buf_rb_string(out, m->key, present ? m->key_len : 0);
        return 0;
    case META_ERROR:
        buf_rb_string(out, m->error, present ? strlen(m->error) : 0);
        return 0;
    case META_RAW:
        buf_rb_string(out, m->value, present ? m->value_len : 0);
        return 0;
    case META_PARTITION:
        return rbw_int(out, t, m->partition < 0, (uint64_t)(m->partition < 0 ? -(int64_t)m->partition : m->partition), e);
    case META_OFFSET:
        return rbw_int(out, t, m->offset < 0, m->offset < 0 ? (uint64_t)0 - (uint64_t)m->offset : (uint64_t)m->offset, e);
    case META_TIMESTAMP:
        return put_timestamp(t, present ? m->timestamp_ms : 0, out, e);
    case META_HEADER_NAMES:
    case META_HEADER_VALUES:
    case META_HEADERS:
    case META_NONE:
        break;
    }
    return 0;
}

int rowplan_put_error_row(const rowplan *p, const kb_msg *m, buf *out, row_error *e) {
    size_t start = out->len;
    for (size_t i = 0; i < p->ncols; i++) {
        const plan_column *c = &p->cols[i];
        if (c->meta == META_NONE) {
            rbw_default(out, c->type);
        } else if (rowplan_put_meta(c, m, out, e)) {
            out->len = start;
            return -1;
        }
    }
    return 0;
}

int rowplan_find_meta(const rowplan *p, meta_kind kind) {
    for (size_t i = 0; i < p->ncols; i++)
        if (p->cols[i].meta == kind) return (int)i;
    return -1;
}

int rowplan_reads_key(const rowplan *p) {
    for (size_t i = 0; i < p->ncols; i++)
        if (p->cols[i].source == FIELD_KEY) return 1;
    return 0;
}

int rowplan_reads_headers(const rowplan *p) {
    for (size_t i = 0; i < p->ncols; i++)
        if (p->cols[i].meta == META_HEADER_NAMES || p->cols[i].meta == META_HEADER_VALUES ||
            p->cols[i].meta == META_HEADERS)
            return 1;
    return 0;
}

int rowplan_refuse_variant(const rowplan *p, field_source source, const char *format, char *err,
                           size_t errlen) {
    for (size_t i = 0; i < p->ncols; i++) {
        const plan_column *c = &p->cols[i];
        if (c->meta != META_NONE || c->source != source || !chtype_has_variant(c->type)) continue;
        snprintf(err, errlen, "column '%s': %s %s cannot fill a Variant column (only Avro "
                              "unions of several types can)", c->name,
                 source == FIELD_KEY ? "--key-format" : "--format", format);
        return -1;
    }
    return 0;
}
