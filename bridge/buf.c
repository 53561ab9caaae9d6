#include "buf.h"

#include <stdio.h>
#include <stdlib.h>

void buf_init(buf *b, size_t initial_capacity) {
    b->len = 0;
    b->cap = 0;
    b->data = NULL;
    if (initial_capacity) buf_grow(b, initial_capacity);
}

void buf_free(buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_grow(buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len) goto oom;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    unsigned char *p = realloc(b->data, cap);
    if (!p) goto oom;
    b->data = p;
    b->cap = cap;
    return;
oom:
    fprintf(stderr, "kafka-bridge: out of memory (buffer of %zu bytes)\n", b->len + extra);
    abort();
}

void *kb_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    return p;
}
