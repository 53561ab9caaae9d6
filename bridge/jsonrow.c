#include "buf.h"
#include "jsonrow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "fieldtree.h"
#include "json.h"
#include "jsonvalue.h"

/* The JSON decoder of one part of the message (value or key). */
typedef struct jsondec {
    const rowplan *plan;
    field_source source;
    jsonvalue values;
    buf key_text;        /* unescaped keys */
    fieldtree tree;      /* the paths of the columns of this part */
    /* The column whose key is expected next: follow[0] for the first key,
     * follow[c + 1] for the one after column c's.  It starts as the
     * columns' own order and then learns the order of the messages,
     * which producers of one topic usually keep. ncols: no guess. */
    uint32_t *follow;
} jsondec;

static jsondec *jsondec_new(const rowplan *plan, field_source source) {
    jsondec *d = kb_xcalloc(1, sizeof *d);
    d->plan = plan;
    d->source = source;
    size_t n = plan->ncols ? plan->ncols : 1;
    const chtype **types = kb_xcalloc(n, sizeof *types);
    for (size_t i = 0; i < plan->ncols; i++) types[i] = plan->cols[i].type;
    jsonvalue_init(&d->values, types, plan->ncols);
    free(types);
    buf_init(&d->key_text, 256);
    fieldtree_build(&d->tree, plan, source);
    d->follow = kb_xcalloc(plan->ncols + 1, sizeof *d->follow);
    uint32_t next = (uint32_t)plan->ncols;
    for (size_t k = plan->ncols + 1; k-- > 0;) {
        d->follow[k] = next;
        if (k > 0 && plan->cols[k - 1].meta == META_NONE && !plan->cols[k - 1].path) next = (uint32_t)(k - 1);
    }
    return d;
}

static void jsondec_free(jsondec *d) {
    if (!d) return;
    jsonvalue_free(&d->values);
    buf_free(&d->key_text);
    fieldtree_free(&d->tree);
    free(d->follow);
    free(d);
}

/* The state of one message being decoded. */
typedef struct row {
    jsondec *d;
    rowbuild *rb;
    kb_json_cursor c;
    row_error *e;
} row;

static int malformed(row *r) {
    r->e->byte = (long)(r->c.p - r->c.start);
    return kb_row_fail(r->e, "malformed JSON: %s", r->c.why);
}

/* Encodes the value at the cursor for column col: into the output when it
 * is the column due next, else into its slot. */
static int put_column(row *r, size_t col, const char *key_at) {
    jsondec *d = r->d;
    const plan_column *pc = &d->plan->cols[col];
    buf *dst = rowbuild_open(r->rb, col, r->e);
    if (!dst) { /* given twice */
        r->e->byte = (long)(key_at - r->c.start);
        return -1;
    }
    const char *at = r->c.p;
    if (jsonvalue_put(&d->values, pc->type, &r->c, dst, r->e)) {
        if (!r->c.why) { /* a bad value: point at its start */
            kb_json_cursor v = {r->c.start, at, r->c.end, NULL};
            kb_json_skip_ws(&v);
            r->c.p = v.p;
        }
        r->e->column = pc->name;
        r->e->byte = (long)(r->c.p - r->c.start);
        return -1;
    }
    return rowbuild_close(r->rb, col, r->e);
}

static int descend(row *r, uint32_t node);

/* The value at the cursor is at path node `node`: it goes to the node's
 * columns, and on down to the node's children. */
static int visit(row *r, uint32_t node, const char *key_at) {
    jsondec *d = r->d;
    kb_json_skip_ws(&r->c);
    const char *at = r->c.p;
    for (int col = d->tree.nodes[node].column; col >= 0; col = d->tree.same[col]) {
        r->c.p = at;
        if (put_column(r, (size_t)col, key_at)) return -1;
    }
    if (!d->tree.nodes[node].first_child) return 0;
    r->c.p = at;
    return descend(r, node);
}

/* Walks the object or array at the cursor, visiting the children of
 * `node` that it holds and skipping the rest. */
static int descend(row *r, uint32_t node) {
    jsondec *d = r->d;
    kb_json_cursor *c = &r->c;
    kb_json_kind kind = kb_json_peek(c);
    if (kind == KB_JSON_NULL) /* nothing below: the columns keep their defaults */
        return kb_json_literal(c, KB_JSON_NULL) ? malformed(r) : 0;
    if (kind != KB_JSON_OBJECT && kind != KB_JSON_ARRAY) {
        static const char *const names[] = {[KB_JSON_STRING] = "a string", [KB_JSON_NUMBER] = "a number",
                                            [KB_JSON_TRUE] = "a boolean", [KB_JSON_FALSE] = "a boolean",
                                            [KB_JSON_INVALID] = "invalid JSON"};
        r->e->column = d->plan->cols[d->tree.nodes[d->tree.nodes[node].first_child].any_column].name;
        r->e->byte = (long)(c->p - c->start);
        return kb_row_fail(r->e, "the column's path needs an object or an array here, got %s", names[kind]);
    }
    char close = kind == KB_JSON_OBJECT ? '}' : ']';
    c->p++;
    kb_json_skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (size_t index = 0;; index++) {
        uint32_t child;
        const char *key_at = c->p;
        if (kind == KB_JSON_OBJECT) {
            const char *key;
            size_t len;
            if (kb_json_string(c, &d->key_text, &key, &len) ||
                kb_json_expect(c, ':', "expected ':' after a key"))
                return malformed(r);
            child = fieldtree_key_child(&d->tree, node, key, len);
        } else {
            child = fieldtree_index_child(&d->tree, node, index);
        }
        if (child ? visit(r, child, key_at) : kb_json_skip(c) ? malformed(r) : 0) return -1;
        kb_json_skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return 0;
        }
        c->why = kind == KB_JSON_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'";
        return malformed(r);
    }
}

/* Whether the n bytes at a and b are equal: column names are short, and a
 * call to memcmp costs more than comparing them in place, a word at a time
 * with the last word overlapping the one before. */
static inline int same_name(const char *a, const char *b, size_t n) {
    uint64_t x, y;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) return 0;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t u, v, w, z;
        memcpy(&u, a, 4);
        memcpy(&v, b, 4);
        memcpy(&w, a + n - 4, 4);
        memcpy(&z, b + n - 4, 4);
        return u == v && w == z;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* The column a top-level key names, or -1.  The column guessed from the
 * order of earlier messages is tried first, comparing the raw key bytes in
 * place; only other keys are unescaped and looked up.  The key is
 * returned in (*key, *len) either way. */
static int match_key(row *r, size_t guess, const char **key, size_t *len) {
    const rowplan *plan = r->d->plan;
    kb_json_cursor *c = &r->c;
    if (guess < plan->ncols) {
        const plan_column *g = &plan->cols[guess];
        size_t n = g->name_len;
        if (g->plain_name && (size_t)(c->end - c->p) > n + 1 && c->p[0] == '"' &&
            c->p[n + 1] == '"' && same_name(c->p + 1, g->name, n)) {
            c->p += n + 2;
            *key = g->name;
            *len = n;
            return (int)guess;
        }
    }
    if (kb_json_string(c, &r->d->key_text, key, len)) return -2;
    return rowplan_find(plan, *key, *len);
}

/* Fills the columns of d's part from the JSON text (data, n). */
static int json_decode(void *state, rowbuild *rb, const void *data, size_t n, row_error *e) {
    jsondec *d = state;
    if (!data)
        return kb_row_fail(e, d->source == FIELD_VALUE
                           ? "message has no value (a tombstone); expected a JSON object"
                           : "message has no key; expected a JSON value");
    row r = {d, rb, {data, data, (const char *)data + n, NULL}, e};
    kb_json_cursor *c = &r.c;
    if (d->source != FIELD_VALUE) {
        /* Only columns with paths read the key: one walk from its root. */
        if (d->tree.nodes && visit(&r, 0, c->p)) return -1;
        if (!d->tree.nodes && kb_json_skip(c)) return malformed(&r);
        goto end;
    }
    size_t slot = 0; /* into d->follow */
    if (kb_json_expect(c, '{', "expected a JSON object")) return malformed(&r);
    kb_json_skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
    } else {
        for (;;) {
            kb_json_skip_ws(c);
            const char *key_at = c->p, *key;
            size_t len;
            int col = match_key(&r, d->follow[slot], &key, &len);
            if (col == -2) return malformed(&r);
            uint32_t child = d->tree.nodes ? fieldtree_key_child(&d->tree, 0, key, len) : 0;
            if (kb_json_expect(c, ':', "expected ':' after a key")) return malformed(&r);
            if (col >= 0) {
                kb_json_skip_ws(c);
                const char *at = c->p;
                if (put_column(&r, (size_t)col, key_at)) return -1;
                /* rowplan_find names only columns read by name, so the
                 * guess stays one that match_key may take. */
                if (d->follow[slot] != (uint32_t)col) d->follow[slot] = (uint32_t)col;
                slot = (size_t)col + 1;
                if (child) c->p = at; /* the value also feeds paths */
            }
            if (child) {
                if (visit(&r, child, key_at)) return -1;
            } else if (col < 0 && kb_json_skip(c)) {
                return malformed(&r);
            }
            kb_json_skip_ws(c);
            if (c->p < c->end && *c->p == ',') {
                c->p++;
                continue;
            }
            if (kb_json_expect(c, '}', "expected ',' or '}' after a field")) return malformed(&r);
            break;
        }
    }
end:
    kb_json_skip_ws(c);
    if (c->p != c->end) {
        c->why = d->source == FIELD_VALUE ? "unexpected data after the JSON object"
                                          : "unexpected data after the JSON value";
        return malformed(&r);
    }
    return 0;
}

static int json_open(void **state, const kb_decoder_config *cfg, char *err, size_t errlen) {
    if (rowplan_refuse_variant(cfg->plan, cfg->source, cfg->format, err, errlen)) return -1;
    *state = jsondec_new(cfg->plan, cfg->source);
    return 0;
}

static void json_close(void *state) { jsondec_free(state); }

const kb_decoder_ops kb_json_decoder = {
    .name = "json",
    .describe = "one JSON object per message, fields by name (JSONEachRow)",
    .open = json_open,
    .decode = json_decode,
    .close = json_close,
};

void jsonrow_init(jsonrow *d, const rowplan *plan) {
    rowbuild_init(&d->rb, plan);
    d->dec = jsondec_new(plan, FIELD_VALUE);
}

void jsonrow_free(jsonrow *d) {
    rowbuild_free(&d->rb);
    jsondec_free(d->dec);
    d->dec = NULL;
}

int jsonrow_decode(jsonrow *d, const kb_msg *m, buf *out, row_error *e) {
    if (rowbuild_begin(&d->rb, m, out, e)) return -1;
    if (json_decode(d->dec, &d->rb, m->value, m->value_len, e) || rowbuild_commit(&d->rb, e)) {
        rowbuild_cancel(&d->rb);
        return -1;
    }
    return 0;
}
