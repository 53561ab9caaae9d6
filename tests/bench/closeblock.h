/*
 * closeblock.h - how the benches close a Native block: the way -O Native
 * does, its pieces taken and left to writev (here: dropped, not copied),
 * or copied to a buffer for the one round whose output is checked.
 */
#ifndef KB_BENCH_CLOSEBLOCK_H
#define KB_BENCH_CLOSEBLOCK_H

#include "native.h"

/* Closes nat's block: appended to out when out is not NULL, else taken as
 * pieces and dropped.  Returns 0, or -1 with err filled (native.h). */
static inline int close_block(native *nat, buf *out, char *err, size_t errlen) {
    if (out) return native_flush_block(nat, out, err, errlen);
    struct iovec *pieces;
    size_t npieces;
    if (native_block_pieces(nat, &pieces, &npieces, err, errlen)) return -1;
    native_block_done(nat);
    return 0;
}

#endif
