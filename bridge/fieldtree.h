/*
 * fieldtree.h - the paths of a plan's columns (fieldpath.h) merged into
 * one tree, so that a decoder walks each message once, whatever the
 * number of columns with paths.
 *
 * Node 0 is the root: the value (or key) itself.  Every other node is one
 * step from its parent; a node lists the columns whose value is there
 * (chained through `same`), and its children.  A decoder descends into a
 * nested value only where the tree has children, and skips the rest.
 */
#ifndef KB_FIELDTREE_H
#define KB_FIELDTREE_H

#include <stddef.h>
#include <stdint.h>

#include "fieldpath.h"
#include "rowplan.h"

typedef struct fieldtree_node {
    const fieldpath_step *step; /* how the node is reached from its parent; NULL at the root */
    int column;                 /* first column whose value is here, or -1 */
    int any_column;             /* some column at or below, for messages */
    uint32_t first_child;       /* 0: none (the root is nobody's child) */
    uint32_t next_sibling;      /* 0: the last */
} fieldtree_node;

typedef struct fieldtree {
    fieldtree_node *nodes;      /* NULL when no column of the source has a path */
    size_t nnodes;
    int *same;                  /* per plan column: the next column at the same node, or -1 */
} fieldtree;

/* The tree of the paths of the columns read from `source`. */
void fieldtree_build(fieldtree *t, const rowplan *plan, field_source source);
void fieldtree_free(fieldtree *t);

/* The child of `node` reached by key (s, n), or 0. */
static inline uint32_t fieldtree_key_child(const fieldtree *t, uint32_t node, const char *s,
                                           size_t n) {
    for (uint32_t c = t->nodes[node].first_child; c; c = t->nodes[c].next_sibling) {
        const fieldpath_step *st = t->nodes[c].step;
        if (st->key && st->key_len == n && (n == 0 || __builtin_memcmp(st->key, s, n) == 0)) return c;
    }
    return 0;
}

/* The child of `node` reached by array index i, or 0. */
static inline uint32_t fieldtree_index_child(const fieldtree *t, uint32_t node, size_t i) {
    for (uint32_t c = t->nodes[node].first_child; c; c = t->nodes[c].next_sibling)
        if (!t->nodes[c].step->key && t->nodes[c].step->index == i) return c;
    return 0;
}

#endif
