#include "keyset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a, then a final mix so that linear probing sees spread-out low
 * bits even for keys that differ only at the end. */
static uint64_t hash_bytes(const unsigned char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "kafka-dict: out of memory (%zu keys)\n", n);
        abort();
    }
    return p;
}

void keyset_init(keyset *s) {
    s->mask = 1023;
    s->slots = xcalloc(s->mask + 1, sizeof *s->slots);
    s->count = 0;
    s->bytes = 0;
}

void keyset_free(keyset *s) {
    for (size_t i = 0; i <= s->mask; i++) free(s->slots[i]);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

static void grow(keyset *s) {
    size_t cap = (s->mask + 1) * 2;
    keyrec **slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i <= s->mask; i++) {
        keyrec *r = s->slots[i];
        if (!r) continue;
        size_t j = r->hash & (cap - 1);
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = r;
    }
    free(s->slots);
    s->slots = slots;
    s->mask = cap - 1;
}

/* Removes slot i and moves later entries of its probe run back into the
 * gap, so that every entry stays reachable from its home slot. */
static void remove_at(keyset *s, size_t i) {
    s->bytes -= sizeof(keyrec) + s->slots[i]->key_len + s->slots[i]->value_len;
    free(s->slots[i]);
    s->slots[i] = NULL;
    s->count--;
    for (size_t j = (i + 1) & s->mask; s->slots[j]; j = (j + 1) & s->mask) {
        size_t home = s->slots[j]->hash & s->mask;
        /* j's entry may move to i if i lies on its way from home to j. */
        if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
            s->slots[i] = s->slots[j];
            s->slots[j] = NULL;
            i = j;
        }
    }
}

int keyset_put(keyset *s, const void *key, size_t key_len, const void *value, size_t value_len, int32_t partition,
               int64_t offset, int has_timestamp, int64_t timestamp_ms) {
    if (key_len > UINT32_MAX || value_len > UINT32_MAX) return -1;
    uint64_t h = hash_bytes(key, key_len);
    size_t i = h & s->mask;
    for (; s->slots[i]; i = (i + 1) & s->mask) {
        const keyrec *r = s->slots[i];
        if (r->hash == h && r->key_len == key_len && !memcmp(r->data, key, key_len)) break;
    }
    if (!value) {
        if (s->slots[i]) remove_at(s, i);
        return 0;
    }
    keyrec *r = malloc(sizeof *r + key_len + value_len);
    if (!r) {
        fprintf(stderr, "kafka-dict: out of memory (%zu keys)\n", s->count);
        abort();
    }
    *r = (keyrec){h, offset, timestamp_ms, partition, has_timestamp, (uint32_t)key_len, (uint32_t)value_len};
    memcpy(r->data, key, key_len);
    if (value_len) memcpy(r->data + key_len, value, value_len);
    s->bytes += sizeof *r + key_len + value_len;
    if (s->slots[i]) {
        s->bytes -= sizeof *r + s->slots[i]->key_len + s->slots[i]->value_len;
        free(s->slots[i]);
        s->slots[i] = r;
        return 0;
    }
    s->slots[i] = r;
    if (++s->count * 2 > s->mask + 1) grow(s);
    return 0;
}

const keyrec *keyset_next(const keyset *s, size_t *pos) {
    while (*pos <= s->mask) {
        const keyrec *r = s->slots[(*pos)++];
        if (r) return r;
    }
    return NULL;
}
