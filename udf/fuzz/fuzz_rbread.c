/* libFuzzer target for rbread: blocks of (String, Nullable(String),
 * Map(String, String)) rows as kafka-produce reads them.  Every span must
 * lie inside the buffer, and an error must come with a reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbread.h"

static void check(const buf *b, rbspan s) {
    if (s.len == RB_NULL) return;
    if (s.off > b->len || s.len > b->len - s.off) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return 0;
    rbread r;
    buf b;
    buf_init(&b, 0);
    rbread_init(&r, f);
    for (int blocks = 0; blocks < 8; blocks++) {
        uint64_t n;
        int rc = rbread_block(&r, &n);
        if (rc == RB_EOF) break;
        if (rc) {
            if (!r.err[0]) abort();
            break;
        }
        b.len = 0;
        int bad = 0;
        for (uint64_t i = 0; i < n && i < 1000 && !bad; i++) {
            rbspan p, v;
            uint64_t count;
            bad = rbread_string(&r, &b, &p) || rbread_nullable_string(&r, &b, &v) || rbread_count(&r, &count);
            if (!bad) {
                check(&b, p);
                check(&b, v);
            }
            for (uint64_t h = 0; h < count && h < 100 && !bad; h++) {
                rbspan s;
                bad = rbread_string(&r, &b, &s);
                if (!bad) check(&b, s);
            }
        }
        if (bad) {
            if (!r.err[0]) abort();
            break;
        }
    }
    buf_free(&b);
    fclose(f);
    return 0;
}
