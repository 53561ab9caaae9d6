/*
 * keyset.h - the latest record per key of a compacted topic, as a log
 * cleaner would leave it.
 *
 * Each live key holds one record: its key and value bytes and where it
 * came from (partition, offset, timestamp).  A record replaces the key's
 * previous one; a tombstone (NULL value) removes the key and frees its
 * record.  So memory follows the live keys, not the records read: about
 * 40 bytes of record header plus key and value bytes per key (and the
 * allocator's rounding), and 8-byte slots in a table at most half full:
 * 16 to 32 bytes per key more.  The table does not shrink when keys go.
 *
 * Open addressing with linear probing; removal shifts the following
 * entries back, so no deleted markers pile up under churn.
 */
#ifndef KB_KEYSET_H
#define KB_KEYSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct keyrec {
    uint64_t hash;
    int64_t offset;
    int64_t timestamp_ms;
    int32_t partition;
    int has_timestamp;
    uint32_t key_len;
    uint32_t value_len;
    unsigned char data[];  /* key, then value */
} keyrec;

typedef struct keyset {
    keyrec **slots;
    size_t mask;           /* capacity - 1; capacity is a power of two */
    size_t count;
    size_t bytes;          /* record bytes held, for the memory statement */
} keyset;

void keyset_init(keyset *s);
void keyset_free(keyset *s);

/* Sets key's record (value NULL: removes the key).  Returns 0, or -1 for
 * a key or value longer than 4 GiB. */
int keyset_put(keyset *s, const void *key, size_t key_len, const void *value, size_t value_len, int32_t partition,
               int64_t offset, int has_timestamp, int64_t timestamp_ms);

/* Iteration: *pos starts at 0; returns NULL at the end. */
const keyrec *keyset_next(const keyset *s, size_t *pos);

#endif
