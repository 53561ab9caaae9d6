#include "native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* The shapes a value can have once types are reduced to their streams.
 * N_FIXED and N_STRING alone at a column's root make a direct column (its
 * buffer is its stream); every other kind is a composite, split at block
 * close.  A new composite type is one kind more here, and one case more in
 * compile, put_default, take and skip. */
typedef enum node_kind { N_FIXED, N_STRING, N_NULLABLE, N_ARRAY, N_TUPLE, N_VARIANT } node_kind;

/* One node per type node, numbered depth first, so that a column's streams
 * are its nodes' buffers in index order. */
typedef struct node {
    node_kind kind;
    size_t width;       /* N_FIXED: bytes per value */
    uint32_t child;     /* N_NULLABLE, N_ARRAY: the element's node */
    uint32_t *elems;    /* N_TUPLE: the elements' nodes; N_VARIANT: its types' */
    size_t nelems;
    uint64_t count;     /* N_ARRAY: elements so far in this block */
    buf stream;         /* null map, offsets, discriminators or values */
} node;

struct native {
    const rowplan *plan;
    size_t ncols;       /* plan's, kept: native_close may come after the plan is gone */
    size_t max_rows, max_bytes;
    node *nodes;
    size_t nnodes, cap;
    uint32_t *root;     /* per column: its first node; root[ncols] = nnodes */
    size_t *variants;   /* per column: its Variant nodes, each one prefix (put_pieces) */
    buf *type_names;    /* per column: the type as the block names it */
    /* The block being filled.  Per column, its values in RowBinary: for a
     * direct column (one node, fixed-width or String) that is already the
     * column's one stream; any other is split into its nodes' streams
     * when the block is closed (split_column). */
    buf *cols;
    unsigned char *direct; /* per column: 1 when cols[c] is the stream */
    size_t rows;        /* whole rows in cols */
    size_t *marks;      /* per column: its length before the row append_row is at */
    /* The block closed by native_block_pieces: head holds its counts and
     * each column's name, type and Variant prefixes; pieces are those
     * bytes and the columns' streams in order, for writev. */
    buf head;
    struct iovec *pieces; /* room for a head piece per column and every stream */
    size_t npieces;
};

static uint32_t add_node(native *n, node_kind kind) {
    if (n->nnodes == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 16;
        node *grown = realloc(n->nodes, n->cap * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "kafka-bridge: out of memory\n");
            abort();
        }
        n->nodes = grown;
    }
    node *nd = &n->nodes[n->nnodes];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    buf_init(&nd->stream, 256);
    return (uint32_t)n->nnodes++;
}

/* Nodes for t, LowCardinality dropped.  Array, Map and Nested share one
 * shape: offsets, then the elements (a Map's are Tuple(K, V)). */
static uint32_t compile(native *n, const chtype *t) {
    while (t->kind == CT_LOWCARDINALITY) t = t->inner;
    uint32_t id;
    switch (t->kind) {
    case CT_STRING:
        return add_node(n, N_STRING);
    case CT_NULLABLE: {
        id = add_node(n, N_NULLABLE);
        uint32_t child = compile(n, t->inner);
        n->nodes[id].child = child;
        return id;
    }
    case CT_ARRAY: {
        id = add_node(n, N_ARRAY);
        uint32_t child = compile(n, t->inner);
        n->nodes[id].child = child;
        return id;
    }
    case CT_VARIANT: {
        id = add_node(n, N_VARIANT);
        uint32_t *elems = kb_xcalloc(t->nelems, sizeof *elems);
        for (size_t i = 0; i < t->nelems; i++) elems[i] = compile(n, t->elems[i]);
        n->nodes[id].elems = elems;
        n->nodes[id].nelems = t->nelems;
        return id;
    }
    case CT_MAP:
    case CT_NESTED:
    case CT_TUPLE: {
        uint32_t outer = 0;
        if (t->kind != CT_TUPLE) outer = add_node(n, N_ARRAY);
        id = add_node(n, N_TUPLE);
        uint32_t *elems = kb_xcalloc(t->nelems, sizeof *elems);
        for (size_t i = 0; i < t->nelems; i++) elems[i] = compile(n, t->elems[i]);
        n->nodes[id].elems = elems;
        n->nodes[id].nelems = t->nelems;
        if (t->kind == CT_TUPLE) return id;
        n->nodes[outer].child = id;
        return outer;
    }
    default:
        id = add_node(n, N_FIXED);
        n->nodes[id].width = chtype_fixed_size(t);
        return id;
    }
}

/* A shallow copy of t without LowCardinality anywhere, for its name only:
 * the copies borrow names, zones and items from t.  Freed by unstrip. */
static chtype *strip(const chtype *t) {
    while (t->kind == CT_LOWCARDINALITY) t = t->inner;
    chtype *c = kb_xcalloc(1, sizeof *c);
    *c = *t;
    if (t->inner) c->inner = strip(t->inner);
    if (t->elems) {
        c->elems = kb_xcalloc(t->nelems, sizeof *c->elems);
        for (size_t i = 0; i < t->nelems; i++) c->elems[i] = strip(t->elems[i]);
    }
    return c;
}

static void unstrip(chtype *c) {
    if (c->inner) unstrip(c->inner);
    for (size_t i = 0; c->elems && i < c->nelems; i++) unstrip(c->elems[i]);
    free(c->elems);
    free(c);
}

native *native_open(const rowplan *plan, size_t max_rows, size_t max_bytes) {
    native *n = kb_xcalloc(1, sizeof *n);
    n->plan = plan;
    n->ncols = plan->ncols;
    n->max_rows = max_rows ? max_rows : 1;
    n->max_bytes = max_bytes ? max_bytes : 1;
    n->root = kb_xcalloc(plan->ncols + 1, sizeof *n->root);
    n->variants = kb_xcalloc(plan->ncols ? plan->ncols : 1, sizeof *n->variants);
    n->type_names = kb_xcalloc(plan->ncols ? plan->ncols : 1, sizeof *n->type_names);
    n->cols = kb_xcalloc(plan->ncols ? plan->ncols : 1, sizeof *n->cols);
    n->direct = kb_xcalloc(plan->ncols ? plan->ncols : 1, 1);
    n->marks = kb_xcalloc(plan->ncols ? plan->ncols : 1, sizeof *n->marks);
    buf_init(&n->head, 256);
    for (size_t c = 0; c < plan->ncols; c++) {
        n->root[c] = compile(n, plan->cols[c].type);
        node_kind k = n->nodes[n->root[c]].kind;
        n->direct[c] = k == N_FIXED || k == N_STRING;
        buf_init(&n->cols[c], 4096);
        chtype *s = strip(plan->cols[c].type);
        buf_init(&n->type_names[c], 32);
        chtype_format(s, &n->type_names[c]);
        unstrip(s);
    }
    n->root[plan->ncols] = (uint32_t)n->nnodes;
    n->pieces = kb_xcalloc(plan->ncols + n->nnodes, sizeof *n->pieces);
    for (size_t c = 0; c < plan->ncols; c++)
        for (uint32_t i = n->root[c]; i < n->root[c + 1]; i++) n->variants[c] += n->nodes[i].kind == N_VARIANT;
    return n;
}

void native_close(native *n) {
    if (!n) return;
    for (size_t i = 0; i < n->nnodes; i++) {
        buf_free(&n->nodes[i].stream);
        free(n->nodes[i].elems);
    }
    for (size_t c = 0; c < n->ncols; c++) {
        buf_free(&n->type_names[c]);
        buf_free(&n->cols[c]);
    }
    free(n->type_names);
    free(n->variants);
    free(n->cols);
    free(n->direct);
    free(n->marks);
    buf_free(&n->head);
    free(n->pieces);
    free(n->root);
    free(n->nodes);
    free(n);
}

/* Reads a LEB128 number of at most 64 bits from [*p, end), in its
 * shortest form: the writers (rbwriter.h) make no other, and a longer one
 * would not come out of the split as the same bytes (counts become
 * offsets, and are written back short). */
static int read_leb(const unsigned char **p, const unsigned char *end, uint64_t *v) {
    uint64_t x = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        unsigned char b = *(*p)++;
        if (shift == 63 && b > 1) return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (!b && shift) return -1; /* a zero last byte: longer than needed */
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Passes over one RowBinary String (its length, then its bytes) in
 * [*p, end).  Returns -1 when the bytes cannot be one. */
static int pass_string(const unsigned char **p, const unsigned char *end) {
    uint64_t len;
    if (read_leb(p, end, &len) || len > (uint64_t)(end - *p)) return -1;
    *p += len;
    return 0;
}

/* A value in a slot the row left empty: under a NULL, or an element of
 * an array that the row does not have (never: arrays hold what they
 * count).  Any bytes would do; these are ClickHouse's defaults. */
static void put_default(native *n, uint32_t id) {
    node *nd = &n->nodes[id];
    switch (nd->kind) {
    case N_FIXED:
        buf_reserve(&nd->stream, nd->width);
        memset(nd->stream.data + nd->stream.len, 0, nd->width);
        nd->stream.len += nd->width;
        return;
    case N_STRING:
        buf_u8(&nd->stream, 0);
        return;
    case N_NULLABLE:
        buf_u8(&nd->stream, 1);
        put_default(n, nd->child);
        return;
    case N_ARRAY:
        buf_le(&nd->stream, nd->count, 8);
        return;
    case N_TUPLE:
        for (size_t i = 0; i < nd->nelems; i++) put_default(n, nd->elems[i]);
        return;
    case N_VARIANT: /* NULL: no type's column gets a row */
        buf_u8(&nd->stream, 255);
        return;
    }
}

/* One value of a fixed-width or String node from [*p, end) to its
 * stream (the same bytes in RowBinary and Native). */
static inline int take_direct(node *nd, const unsigned char **p, const unsigned char *end) {
    size_t k = nd->width;
    if (nd->kind == N_STRING) {
        const unsigned char *q = *p;
        if (pass_string(&q, end)) return -1;
        k = (size_t)(q - *p);
    } else if ((size_t)(end - *p) < k) {
        return -1;
    }
    buf_reserve(&nd->stream, k);
    unsigned char *o = nd->stream.data + nd->stream.len;
    if (k <= 32) buf_copy_short(o, *p, k);
    else memcpy(o, *p, k);
    nd->stream.len += k;
    *p += k;
    return 0;
}

/* Moves one RowBinary value of node id from [*p, end) to the node's
 * streams.  Returns -1 when the bytes cannot be such a value. */
static int take(native *n, uint32_t id, const unsigned char **p, const unsigned char *end) {
    node *nd = &n->nodes[id];
    switch (nd->kind) {
    case N_FIXED:
    case N_STRING:
        return take_direct(nd, p, end);
    case N_NULLABLE: {
        if (*p == end || **p > 1) return -1;
        unsigned char is_null = *(*p)++;
        buf_u8(&nd->stream, is_null);
        if (is_null) {
            put_default(n, nd->child);
            return 0;
        }
        return take(n, nd->child, p, end);
    }
    case N_ARRAY: {
        uint64_t count;
        /* Every value takes a byte at least, which bounds the count. */
        if (read_leb(p, end, &count) || count > (uint64_t)(end - *p)) return -1;
        nd->count += count;
        buf_le(&nd->stream, nd->count, 8);
        /* Elements of a fixed width, or Strings, are in RowBinary the
         * bytes of their Native stream: the whole array in one copy. */
        node *el = &n->nodes[nd->child];
        const unsigned char *start = *p;
        if (el->kind == N_FIXED) {
            if (el->width && count > (uint64_t)(end - *p) / el->width) return -1;
            *p += count * el->width;
        } else if (el->kind == N_STRING) {
            for (uint64_t i = 0; i < count; i++)
                if (pass_string(p, end)) return -1;
        } else {
            for (uint64_t i = 0; i < count; i++)
                if (take(n, nd->child, p, end)) return -1;
            return 0;
        }
        buf_put(&el->stream, start, (size_t)(*p - start));
        return 0;
    }
    case N_TUPLE:
        for (size_t i = 0; i < nd->nelems; i++)
            if (take(n, nd->elems[i], p, end)) return -1;
        return 0;
    case N_VARIANT: {
        /* The discriminator as it came (ClickHouse's global one); only the
         * named type's column gets the value. */
        if (*p == end) return -1;
        unsigned char d = *(*p)++;
        buf_u8(&nd->stream, d);
        if (d == 255) return 0;
        if (d >= nd->nelems) return -1;
        return take(n, nd->elems[d], p, end);
    }
    }
    return -1;
}

/* Passes over one RowBinary value of node id in [*p, end), checking it as
 * take() would.  Returns -1 when the bytes cannot be such a value. */
static int skip(const native *n, uint32_t id, const unsigned char **p, const unsigned char *end) {
    const node *nd = &n->nodes[id];
    switch (nd->kind) {
    case N_FIXED:
        if ((size_t)(end - *p) < nd->width) return -1;
        *p += nd->width;
        return 0;
    case N_STRING:
        return pass_string(p, end);
    case N_NULLABLE:
        if (*p == end || **p > 1) return -1;
        return *(*p)++ ? 0 : skip(n, nd->child, p, end);
    case N_ARRAY: {
        uint64_t count;
        if (read_leb(p, end, &count) || count > (uint64_t)(end - *p)) return -1;
        for (uint64_t i = 0; i < count; i++)
            if (skip(n, nd->child, p, end)) return -1;
        return 0;
    }
    case N_TUPLE:
        for (size_t i = 0; i < nd->nelems; i++)
            if (skip(n, nd->elems[i], p, end)) return -1;
        return 0;
    case N_VARIANT: {
        if (*p == end) return -1;
        unsigned char d = *(*p)++;
        if (d == 255) return 0;
        if (d >= nd->nelems) return -1;
        return skip(n, nd->elems[d], p, end);
    }
    }
    return -1;
}

/* split_column for Nullable of a fixed width or of String, the usual
 * composite: one pass writing the null map and the values, into room
 * reserved once for the block, where take() would reserve per byte.  A
 * value's stream holds at most what the column's RowBinary holds (String:
 * a NULL's empty string takes the place of its flag) or a value per row
 * (fixed). */
static int split_nullable(native *n, size_t c) {
    node *nd = &n->nodes[n->root[c]], *v = &n->nodes[nd->child];
    const unsigned char *p = n->cols[c].data, *end = p + n->cols[c].len;
    size_t rows = n->rows, w = v->width;
    if (v->kind == N_FIXED && w && rows > SIZE_MAX / w) return -1;
    buf_reserve(&nd->stream, rows);
    buf_reserve(&v->stream, v->kind == N_FIXED ? rows * w : n->cols[c].len);
    unsigned char *map = nd->stream.data + nd->stream.len, *o = v->stream.data + v->stream.len;
    for (size_t r = 0; r < rows; r++) {
        if (p == end || *p > 1) return -1;
        unsigned char is_null = *p++;
        map[r] = is_null;
        if (v->kind == N_FIXED) {
            if (is_null) memset(o, 0, w);
            else if ((size_t)(end - p) < w) return -1;
            else {
                if (w <= 32) buf_copy_short(o, p, w);
                else memcpy(o, p, w);
                p += w;
            }
            o += w;
        } else if (is_null) {
            *o++ = 0;
        } else {
            const unsigned char *start = p;
            if (pass_string(&p, end)) return -1;
            size_t k = (size_t)(p - start);
            if (k <= 32) buf_copy_short(o, start, k);
            else memcpy(o, start, k);
            o += k;
        }
    }
    nd->stream.len += rows;
    v->stream.len = (size_t)(o - v->stream.data);
    return p == end ? 0 : -1;
}

/* Whether node id is a Tuple of fixed-width and String elements only. */
static int flat_tuple(const native *n, uint32_t id) {
    const node *nd = &n->nodes[id];
    if (nd->kind != N_TUPLE) return 0;
    for (size_t i = 0; i < nd->nelems; i++)
        if (n->nodes[nd->elems[i]].kind != N_FIXED && n->nodes[nd->elems[i]].kind != N_STRING) return 0;
    return 1;
}

/* split_column for a Tuple of fixed-width and String elements, or an
 * array of such tuples (Map and Nested of scalars, the usual ones): the
 * elements in one loop, where take() recurses into each. */
static int split_flat(native *n, size_t c) {
    node *root = &n->nodes[n->root[c]];
    node *arr = root->kind == N_ARRAY ? root : NULL;
    const node *tuple = arr ? &n->nodes[arr->child] : root;
    const unsigned char *p = n->cols[c].data, *end = p + n->cols[c].len;
    for (size_t r = 0; r < n->rows; r++) {
        uint64_t count = 1;
        if (arr) {
            /* Every tuple takes a byte at least, which bounds the count. */
            if (read_leb(&p, end, &count) || count > (uint64_t)(end - p)) return -1;
            arr->count += count;
            buf_le(&arr->stream, arr->count, 8);
        }
        for (uint64_t i = 0; i < count; i++)
            for (size_t e = 0; e < tuple->nelems; e++)
                if (take_direct(&n->nodes[tuple->elems[e]], &p, end)) return -1;
    }
    return p == end ? 0 : -1;
}

/* A composite column's RowBinary values, n->rows of them, into its
 * nodes' streams.  Returns -1 when they do not parse as such (a writer
 * broke rbwriter.h's rules: a programming error). */
static int split_column(native *n, size_t c) {
    const node *root = &n->nodes[n->root[c]];
    if (root->kind == N_NULLABLE) {
        node_kind inner = n->nodes[root->child].kind;
        if (inner == N_FIXED || inner == N_STRING) return split_nullable(n, c);
    }
    if (flat_tuple(n, n->root[c]) || (root->kind == N_ARRAY && flat_tuple(n, root->child)))
        return split_flat(n, c);
    const unsigned char *p = n->cols[c].data, *end = p + n->cols[c].len;
    for (size_t r = 0; r < n->rows; r++)
        if (take(n, n->root[c], &p, end)) return -1;
    return p == end ? 0 : -1;
}

/* n->pieces has room for every piece a block can have (native_open). */
static void add_piece(native *n, const void *p, size_t len) {
    if (len) n->pieces[n->npieces++] = (struct iovec){(void *)p, len};
}

/* The closed block as pieces: the small parts are written to n->head,
 * reserved in full first so that the pieces pointing into it stay valid;
 * the columns' bytes are pointed at where they are, not copied. */
static void put_pieces(native *n) {
    const rowplan *plan = n->plan;
    size_t room = 2 * 10;
    for (size_t c = 0; c < plan->ncols; c++)
        room += 2 * 10 + plan->cols[c].name_len + n->type_names[c].len + 8 * n->variants[c];
    n->head.len = 0;
    n->npieces = 0;
    buf_reserve(&n->head, room);
    size_t from = 0;
    buf_leb128(&n->head, plan->ncols);
    buf_leb128(&n->head, n->rows);
    for (size_t c = 0; c < plan->ncols; c++) {
        buf_rb_string(&n->head, plan->cols[c].name, plan->cols[c].name_len);
        buf_rb_string(&n->head, n->type_names[c].data, n->type_names[c].len);
        /* Before any stream, each Variant's prefix, in node order (which
         * is the order ClickHouse reads prefixes in): the discriminators'
         * mode, a UInt64, 0 = basic (one byte per row, 255 NULL). */
        for (size_t v = 0; v < n->variants[c]; v++) buf_le(&n->head, 0, 8);
        add_piece(n, n->head.data + from, n->head.len - from);
        from = n->head.len;
        if (n->direct[c]) add_piece(n, n->cols[c].data, n->cols[c].len);
        else
            for (uint32_t i = n->root[c]; i < n->root[c + 1]; i++)
                add_piece(n, n->nodes[i].stream.data, n->nodes[i].stream.len);
    }
}

static void reset(native *n) {
    for (size_t i = 0; i < n->nnodes; i++) {
        n->nodes[i].stream.len = 0;
        n->nodes[i].count = 0;
    }
    for (size_t c = 0; c < n->ncols; c++) n->cols[c].len = 0;
    n->rows = 0;
}

buf *native_columns(native *n) { return n->cols; }

size_t native_rows(const native *n) { return n->rows; }

int native_added(native *n, size_t rows) {
    n->rows += rows;
    if (n->rows >= n->max_rows) return 1;
    size_t bytes = 0;
    for (size_t c = 0; c < n->ncols; c++) bytes += n->cols[c].len;
    return bytes >= n->max_bytes;
}

int native_block_pieces(native *n, struct iovec **pieces, size_t *npieces, char *err, size_t errlen) {
    *pieces = NULL;
    *npieces = 0;
    if (!n->rows) return 0;
    if (!n->ncols) { /* no columns: nothing to count rows by */
        snprintf(err, errlen, "internal error: Native output without columns");
        reset(n);
        return -1;
    }
    for (size_t c = 0; c < n->ncols; c++) {
        if (n->direct[c] || !split_column(n, c)) continue;
        snprintf(err, errlen, "internal error: Native output: column '%s' of the block does not parse as RowBinary",
                 n->plan->cols[c].name);
        reset(n);
        return -1;
    }
    put_pieces(n);
    *pieces = n->pieces;
    *npieces = n->npieces;
    return 0;
}

void native_block_done(native *n) {
    n->npieces = 0;
    reset(n);
}

int native_flush_block(native *n, buf *out, char *err, size_t errlen) {
    struct iovec *pieces;
    size_t npieces;
    if (native_block_pieces(n, &pieces, &npieces, err, errlen)) return -1;
    size_t total = 0;
    for (size_t i = 0; i < npieces; i++) total += pieces[i].iov_len;
    buf_reserve(out, total);
    for (size_t i = 0; i < npieces; i++) buf_put(out, pieces[i].iov_base, pieces[i].iov_len);
    native_block_done(n);
    return 0;
}

/* One whole RowBinary row from *p into the columns; on failure (the
 * column at fault in *bad) the columns are as they were. */
static int append_row(native *n, const unsigned char **p, const unsigned char *end, size_t *bad) {
    for (size_t c = 0; c < n->ncols; c++) {
        const unsigned char *start = *p;
        if (skip(n, n->root[c], p, end)) {
            for (size_t k = 0; k < c; k++) n->cols[k].len = n->marks[k];
            *bad = c;
            return -1;
        }
        n->marks[c] = n->cols[c].len;
        buf_put(&n->cols[c], start, (size_t)(*p - start));
    }
    return 0;
}

int native_append(native *n, const unsigned char *rows, size_t len, char *err, size_t errlen) {
    const unsigned char *p = rows, *end = rows + len;
    size_t bad;
    if (!n->ncols && len) { /* no columns: nothing to count rows by */
        snprintf(err, errlen, "internal error: Native output without columns");
        return -1;
    }
    for (size_t row = 0; p < end; row++, n->rows++)
        if (append_row(n, &p, end, &bad)) {
            snprintf(err, errlen, "internal error: Native output: row %zu does not parse as RowBinary at column '%s'",
                     row, n->plan->cols[bad].name);
            return -1;
        }
    return 0;
}

int native_encode(native *n, const unsigned char *rows, size_t len, buf *out, size_t *nblocks,
                  char *err, size_t errlen) {
    const unsigned char *p = rows, *end = rows + len;
    size_t blocks = 0, row = 0, bad;
    if (nblocks) *nblocks = 0;
    if (!n->plan->ncols && len) { /* no columns: nothing to count rows by */
        snprintf(err, errlen, "internal error: Native output without columns");
        return -1;
    }
    for (; p < end; row++) {
        if (append_row(n, &p, end, &bad)) {
            reset(n);
            snprintf(err, errlen,
                     "internal error: Native output: row %zu does not parse as RowBinary at column '%s'",
                     row, n->plan->cols[bad].name);
            if (nblocks) *nblocks = blocks;
            return -1;
        }
        if (native_added(n, 1) || p == end) {
            if (native_flush_block(n, out, err, errlen)) {
                if (nblocks) *nblocks = blocks;
                return -1;
            }
            blocks++;
        }
    }
    if (nblocks) *nblocks = blocks;
    return 0;
}

void native_error_block(buf *out, const char *name, const char *message) {
    buf type;
    buf_init(&type, strlen(message) + 8);
    buf_put(&type, "@'", 2);
    for (const char *s = message; *s; s++) {
        if (*s == '\'' || *s == '\\') buf_u8(&type, '\\');
        buf_u8(&type, (uint8_t)*s);
    }
    buf_u8(&type, '\'');
    buf_leb128(out, 1);
    buf_leb128(out, 0);
    buf_rb_string(out, name, strlen(name));
    buf_rb_string(out, type.data, type.len);
    buf_free(&type);
}
