#include "jsonrow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    return p;
}

static int same_step(const fieldpath_step *a, const fieldpath_step *b) {
    if (!a->key || !b->key) return !a->key && !b->key && a->index == b->index;
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* Builds the tree of path steps: one node per distinct step sequence. */
static void build_paths(jsonrow *d) {
    const rowplan *plan = d->plan;
    size_t total = 1;
    for (size_t i = 0; i < plan->ncols; i++)
        if (plan->cols[i].path) total += plan->cols[i].path->nsteps;
    d->same_path = xcalloc(plan->ncols, sizeof *d->same_path);
    for (size_t i = 0; i < plan->ncols; i++) d->same_path[i] = -1;
    if (total == 1) return;
    d->paths = xcalloc(total, sizeof *d->paths);
    d->paths[0].column = d->paths[0].any_column = -1;
    d->npaths = 1;
    for (size_t i = 0; i < plan->ncols; i++) {
        const fieldpath *path = plan->cols[i].path;
        if (!path) continue;
        uint32_t node = 0;
        for (size_t s = 0; s < path->nsteps; s++) {
            uint32_t child = d->paths[node].first_child, last = 0;
            while (child && !same_step(d->paths[child].step, &path->steps[s])) {
                last = child;
                child = d->paths[child].next_sibling;
            }
            if (!child) {
                child = (uint32_t)d->npaths++;
                d->paths[child] = (jsonrow_path_node){&path->steps[s], -1, (int)i, 0, 0};
                if (last) d->paths[last].next_sibling = child;
                else d->paths[node].first_child = child;
            }
            node = child;
        }
        /* Columns sharing a path are chained, each encoding the value. */
        int *link = &d->paths[node].column;
        while (*link >= 0) link = &d->same_path[*link];
        *link = (int)i;
    }
}

void jsonrow_init(jsonrow *d, const rowplan *plan) {
    memset(d, 0, sizeof *d);
    d->plan = plan;
    size_t n = plan->ncols ? plan->ncols : 1;
    d->slots = xcalloc(n, sizeof *d->slots);
    d->seen = xcalloc(n, sizeof *d->seen);
    const chtype **types = xcalloc(n, sizeof *types);
    for (size_t i = 0; i < plan->ncols; i++) types[i] = plan->cols[i].type;
    jsonvalue_init(&d->values, types, plan->ncols);
    free(types);
    buf_init(&d->fields, 4096);
    buf_init(&d->key_text, 256);
    build_paths(d);
}

void jsonrow_free(jsonrow *d) {
    jsonvalue_free(&d->values);
    free(d->slots);
    free(d->seen);
    free(d->paths);
    free(d->same_path);
    buf_free(&d->fields);
    buf_free(&d->key_text);
}

__attribute__((format(printf, 2, 3)))
static int fail(row_error *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return -1;
}

/* The state of one message being decoded. */
typedef struct row {
    jsonrow *d;
    const kb_msg *m;
    json_cursor c;
    buf *out;
    size_t emitted; /* columns [0, emitted) are already in `out` */
    row_error *e;
} row;

static int malformed(row *r) {
    r->e->byte = (long)(r->c.p - r->c.start);
    return fail(r->e, "malformed JSON: %s", r->c.why);
}

/* Writes the metadata columns that stand next in column order, so that
 * the next message field in order can go straight to the output. */
static int emit_metadata(row *r) {
    const rowplan *plan = r->d->plan;
    while (r->emitted < plan->ncols && plan->cols[r->emitted].meta != META_NONE) {
        if (rowplan_put_meta(&plan->cols[r->emitted], r->m, r->out, r->e)) return -1;
        r->emitted++;
    }
    return 0;
}

/* Encodes the value at the cursor for column col: into the output when it
 * is the column due next, else into its slot. */
static int put_column(row *r, size_t col, const char *key_at) {
    jsonrow *d = r->d;
    const plan_column *pc = &d->plan->cols[col];
    if (d->seen[col] == d->generation) {
        r->e->column = pc->name;
        r->e->byte = (long)(key_at - r->c.start);
        return fail(r->e, "field given twice");
    }
    d->seen[col] = d->generation;
    const char *at = r->c.p;
    int direct = col == r->emitted;
    buf *dst = direct ? r->out : &d->fields;
    if (!direct) d->slots[col].off = d->fields.len;
    if (jsonvalue_put(&d->values, pc->type, &r->c, dst, r->e)) {
        if (!r->c.why) { /* a bad value: point at its start */
            json_cursor v = {r->c.start, at, r->c.end, NULL};
            json_skip_ws(&v);
            r->c.p = v.p;
        }
        r->e->column = pc->name;
        r->e->byte = (long)(r->c.p - r->c.start);
        return -1;
    }
    if (direct) {
        r->emitted++;
        const rowplan *plan = d->plan;
        return r->emitted < plan->ncols && plan->cols[r->emitted].meta != META_NONE ? emit_metadata(r) : 0;
    }
    d->slots[col].len = d->fields.len - d->slots[col].off;
    return 0;
}

static uint32_t find_key_child(const jsonrow *d, uint32_t node, const char *key, size_t len) {
    for (uint32_t c = d->paths[node].first_child; c; c = d->paths[c].next_sibling) {
        const fieldpath_step *s = d->paths[c].step;
        if (s->key && s->key_len == len && memcmp(s->key, key, len) == 0) return c;
    }
    return 0;
}

static uint32_t find_index_child(const jsonrow *d, uint32_t node, size_t index) {
    for (uint32_t c = d->paths[node].first_child; c; c = d->paths[c].next_sibling)
        if (!d->paths[c].step->key && d->paths[c].step->index == index) return c;
    return 0;
}

static int descend(row *r, uint32_t node);

/* The value at the cursor is at path node `node`: it goes to the node's
 * columns, and on down to the node's children. */
static int visit(row *r, uint32_t node, const char *key_at) {
    jsonrow *d = r->d;
    json_skip_ws(&r->c);
    const char *at = r->c.p;
    for (int col = d->paths[node].column; col >= 0; col = d->same_path[col]) {
        r->c.p = at;
        if (put_column(r, (size_t)col, key_at)) return -1;
    }
    if (!d->paths[node].first_child) return 0;
    r->c.p = at;
    return descend(r, node);
}

/* Walks the object or array at the cursor, visiting the children of
 * `node` that it holds and skipping the rest. */
static int descend(row *r, uint32_t node) {
    jsonrow *d = r->d;
    json_cursor *c = &r->c;
    json_kind kind = json_peek(c);
    if (kind == JSON_NULL) /* nothing below: the columns keep their defaults */
        return json_literal(c, JSON_NULL) ? malformed(r) : 0;
    if (kind != JSON_OBJECT && kind != JSON_ARRAY) {
        static const char *const names[] = {[JSON_STRING] = "a string", [JSON_NUMBER] = "a number",
                                            [JSON_TRUE] = "a boolean", [JSON_FALSE] = "a boolean",
                                            [JSON_INVALID] = "invalid JSON"};
        r->e->column = d->plan->cols[d->paths[d->paths[node].first_child].any_column].name;
        r->e->byte = (long)(c->p - c->start);
        return fail(r->e, "the column's path needs an object or an array here, got %s", names[kind]);
    }
    char close = kind == JSON_OBJECT ? '}' : ']';
    c->p++;
    json_skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (size_t index = 0;; index++) {
        uint32_t child;
        const char *key_at = c->p;
        if (kind == JSON_OBJECT) {
            const char *key;
            size_t len;
            if (json_string(c, &d->key_text, &key, &len) ||
                json_expect(c, ':', "expected ':' after a key"))
                return malformed(r);
            child = find_key_child(d, node, key, len);
        } else {
            child = find_index_child(d, node, index);
        }
        if (child ? visit(r, child, key_at) : json_skip(c) ? malformed(r) : 0) return -1;
        json_skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return 0;
        }
        c->why = kind == JSON_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'";
        return malformed(r);
    }
}

/* The column a top-level key names, or -1.  Producers usually keep one
 * field order, so the column after the last one matched is tried first,
 * comparing the raw key bytes in place; only other keys are unescaped and
 * looked up.  The key is returned in (*key, *len) either way. */
static int match_key(row *r, size_t guess, const char **key, size_t *len) {
    const rowplan *plan = r->d->plan;
    json_cursor *c = &r->c;
    if (guess < plan->ncols) {
        const plan_column *g = &plan->cols[guess];
        size_t n = g->name_len;
        if (g->plain_name && (size_t)(c->end - c->p) > n + 1 && c->p[0] == '"' &&
            c->p[n + 1] == '"' && memcmp(c->p + 1, g->name, n) == 0) {
            c->p += n + 2;
            *key = g->name;
            *len = n;
            return (int)guess;
        }
    }
    if (json_string(c, &r->d->key_text, key, len)) return -2;
    return rowplan_find(plan, *key, *len);
}

int jsonrow_decode(jsonrow *d, const kb_msg *m, buf *out, row_error *e) {
    const rowplan *plan = d->plan;
    row r = {d, m, {m->value, m->value, (const char *)m->value + m->value_len, NULL}, out, 0, e};
    json_cursor *c = &r.c;
    e->column = NULL;
    e->byte = -1;
    e->reason[0] = '\0';
    if (!m->value) return fail(e, "message has no value (a tombstone); expected a JSON object");

    if (++d->generation == 0) { /* wrapped: forget every old mark */
        memset(d->seen, 0, plan->ncols * sizeof *d->seen);
        d->generation = 1;
    }
    d->fields.len = 0;
    const size_t row_start = out->len;
    size_t guess = 0;

    if (emit_metadata(&r)) goto failed;
    if (json_expect(c, '{', "expected a JSON object")) goto malformed;
    json_skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
    } else {
        for (;;) {
            while (guess < plan->ncols && (plan->cols[guess].meta != META_NONE || plan->cols[guess].path))
                guess++;
            json_skip_ws(c);
            const char *key_at = c->p, *key;
            size_t len;
            int col = match_key(&r, guess, &key, &len);
            if (col == -2) goto malformed;
            uint32_t child = d->paths ? find_key_child(d, 0, key, len) : 0;
            if (json_expect(c, ':', "expected ':' after a key")) goto malformed;
            if (col >= 0) {
                json_skip_ws(c);
                const char *at = c->p;
                if (put_column(&r, (size_t)col, key_at)) goto failed;
                guess = (size_t)col + 1;
                if (child) c->p = at; /* the value also feeds paths */
            }
            if (child) {
                if (visit(&r, child, key_at)) goto failed;
            } else if (col < 0 && json_skip(c)) {
                goto malformed;
            }
            json_skip_ws(c);
            if (c->p < c->end && *c->p == ',') {
                c->p++;
                continue;
            }
            if (json_expect(c, '}', "expected ',' or '}' after a field")) goto malformed;
            break;
        }
    }
    json_skip_ws(c);
    if (c->p != c->end) {
        c->why = "unexpected data after the JSON object";
        goto malformed;
    }

    /* The object is complete: the columns not written yet follow. */
    for (size_t i = r.emitted; i < plan->ncols; i++) {
        const plan_column *pc = &plan->cols[i];
        if (pc->meta != META_NONE) {
            if (rowplan_put_meta(pc, m, out, e)) goto failed;
        } else if (d->seen[i] == d->generation) {
            buf_put(out, d->fields.data + d->slots[i].off, d->slots[i].len);
        } else {
            rowplan_put_default(pc->type, out);
        }
    }
    return 0;

malformed:
    malformed(&r);
failed:
    out->len = row_start; /* nothing of a failed row stays */
    return -1;
}
