#include "handover.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void handover_init(handover *h) {
    h->next = NULL;
    h->cap = 0;
}

void handover_free(handover *h) {
    free(h->next);
    handover_init(h);
}

int handover_note(handover *h, int32_t partition, int64_t offset) {
    if (partition < 0) return 0;
    if ((size_t)partition >= h->cap) {
        size_t cap = (size_t)partition + 1 < 16 ? 16 : ((size_t)partition + 1) * 2;
        int64_t *n = realloc(h->next, cap * sizeof *n);
        if (!n) return -1;
        for (size_t i = h->cap; i < cap; i++) n[i] = -1;
        h->next = n;
        h->cap = cap;
    }
    if (offset + 1 > h->next[partition]) h->next[partition] = offset + 1;
    return 0;
}

char *handover_format(const handover *h, const char *topic, int64_t now_ms) {
    size_t n = 0;
    for (size_t i = 0; i < h->cap; i++) n += h->next[i] >= 0;
    size_t size = strlen(topic) + 64 + n * 48;
    char *out = malloc(size);
    if (!out) return NULL;
    size_t o = (size_t)snprintf(out, size, "handover 1\ntopic %s\ntime %" PRId64 "\n", topic, now_ms);
    for (size_t i = 0; i < h->cap; i++)
        if (h->next[i] >= 0)
            o += (size_t)snprintf(out + o, size - o, "%zu %" PRId64 "\n", i, h->next[i]);
    return out;
}

static const partition_start *find_stored(const partition_start *s, size_t n, int32_t p) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid].partition < p) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && s[lo].partition == p ? &s[lo] : NULL;
}

/* Reads "KEY VALUE\n" at *p; VALUE is left in *value (not terminated). */
static int header_line(const char **p, const char *key, const char **value, size_t *len) {
    size_t k = strlen(key);
    if (strncmp(*p, key, k) || (*p)[k] != ' ') return -1;
    *value = *p + k + 1;
    *len = strcspn(*value, "\n");
    *p = *value + *len + ((*value)[*len] == '\n');
    return 0;
}

static int reads(const int32_t *r, size_t n, int32_t p) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid] < p) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && r[lo] == p;
}

int handover_check(const char *record, const char *topic, const int32_t *reading,
                   size_t nreading, const partition_start *stored, size_t nstored, double grace_s, int64_t now_ms, char *note, size_t notelen,
                   char *err, size_t errlen) {
    note[0] = '\0';
    const char *p = record, *v;
    size_t len;
    /* No record (the first run, a run killed or failed, a run that did not
     * resume from the table): nothing was handed over that could be in
     * flight.  A record of another topic is not about this table. */
    if (header_line(&p, "handover", &v, &len) || len != 1 || *v != '1') return 0;
    if (header_line(&p, "topic", &v, &len) || len != strlen(topic) || strncmp(v, topic, len)) return 0;
    if (header_line(&p, "time", &v, &len)) return 0;
    char *end;
    errno = 0;
    long long when = strtoll(v, &end, 10);
    if (errno || end != v + len) return 0;
    double age = (double)(now_ms - when) / 1000.0;
    size_t nn = 0;
    while (*p) {
        errno = 0;
        long part = strtol(p, &end, 10);
        if (errno || *end != ' ' || part < 0 || part > INT32_MAX) return 0;
        long long next = strtoll(end + 1, &end, 10);
        if (errno || (*end != '\n' && *end)) return 0;
        p = end + (*end == '\n');
        if (!reads(reading, nreading, (int32_t)part)) continue;
        const partition_start *s = find_stored(stored, nstored, (int32_t)part);
        int64_t at = s && s->start.kind == OFFSET_ABSOLUTE ? s->start.value : -1;
        if (at >= next) continue;
        char table[32];
        if (at >= 0) snprintf(table, sizeof table, "%" PRId64, at);
        else snprintf(table, sizeof table, "none");
        /* A clock stepped back counts as recent too, for at most grace. */
        if (grace_s > 0 && age < grace_s && age > -grace_s) {
            /* The cause first: ClickHouse shows the first 160 characters. */
            snprintf(err, errlen,
                     "rows of the previous run are not in the table yet (topic '%s' partition %ld: "
                     "table at %s, that run wrote up to offset %lld, %.1f s ago); reading now would "
                     "store them twice: run again later (after lock-grace = %g s the table is trusted)",
                     topic, part, table, next - 1, age, grace_s);
            return -1;
        }
        if (!nn++)
            snprintf(note, notelen,
                     "topic '%s' partition %ld: the previous run's rows up to offset %lld never "
                     "became visible in %.1f s (lock-grace): its INSERT failed; reading from %s",
                     topic, part, next - 1, age, table);
    }
    return 0;
}
