/* libFuzzer target for mpjson_transcode: any bytes either fail with the
 * output untouched and a reason, or give JSON text that is the same when
 * transcoded again into a buffer that already holds data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    buf a, b;
    char err[256] = "";
    buf_init(&a, 0);
    buf_init(&b, 0);
    buf_put(&b, "prefix", 6);
    int rc = mpjson_transcode(data, size, &a, err, sizeof err);
    int rc2 = mpjson_transcode(data, size, &b, err, sizeof err);
    if (rc != rc2) abort();
    if (rc) {
        if (a.len != 0 || b.len != 6 || !err[0]) abort();
    } else {
        if (a.len == 0 || b.len != a.len + 6 || memcmp(b.data + 6, a.data, a.len)) abort();
    }
    buf_free(&a);
    buf_free(&b);
    return 0;
}
