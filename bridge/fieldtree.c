#include "buf.h"
#include "fieldtree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int same_step(const fieldpath_step *a, const fieldpath_step *b) {
    if (!a->key || !b->key) return !a->key && !b->key && a->index == b->index;
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

void fieldtree_build(fieldtree *t, const rowplan *plan, field_source source) {
    memset(t, 0, sizeof *t);
    size_t total = 1, with_path = 0;
    for (size_t i = 0; i < plan->ncols; i++) {
        const fieldpath *path = plan->cols[i].path;
        if (path && path->source == source) {
            total += path->nsteps;
            with_path++;
        }
    }
    t->same = kb_xcalloc(plan->ncols, sizeof *t->same);
    for (size_t i = 0; i < plan->ncols; i++) t->same[i] = -1;
    if (!with_path) return;
    t->nodes = kb_xcalloc(total, sizeof *t->nodes);
    t->nodes[0].column = t->nodes[0].any_column = -1;
    t->nnodes = 1;
    for (size_t i = 0; i < plan->ncols; i++) {
        const fieldpath *path = plan->cols[i].path;
        if (!path || path->source != source) continue;
        uint32_t node = 0;
        if (t->nodes[0].any_column < 0) t->nodes[0].any_column = (int)i;
        for (size_t s = 0; s < path->nsteps; s++) {
            uint32_t child = t->nodes[node].first_child, last = 0;
            while (child && !same_step(t->nodes[child].step, &path->steps[s])) {
                last = child;
                child = t->nodes[child].next_sibling;
            }
            if (!child) {
                child = (uint32_t)t->nnodes++;
                t->nodes[child] = (fieldtree_node){&path->steps[s], -1, (int)i, 0, 0};
                if (last) t->nodes[last].next_sibling = child;
                else t->nodes[node].first_child = child;
            }
            node = child;
        }
        /* Columns sharing a path are chained, each encoding the value. */
        int *link = &t->nodes[node].column;
        while (*link >= 0) link = &t->same[*link];
        *link = (int)i;
    }
}

void fieldtree_free(fieldtree *t) {
    free(t->nodes);
    free(t->same);
    memset(t, 0, sizeof *t);
}
