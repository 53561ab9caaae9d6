/*
 * fuzz_timeparse - the readers of dates and times (timeparse.h), which
 * see every DateTime, DateTime64, Date and Date32 value of a message.
 *
 * Besides crashes and sanitizer reports, it checks a promise of the
 * module: the reader of the common fixed layout accepts only what the
 * general reader accepts, with the same instant, fraction and zone flag.
 * The module is compiled into this target so that both readers can be
 * called apart.  Accepted times must also have their fields in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../bridge/timeparse.c"

static void fail_check(const char *what) {
    fprintf(stderr, "fuzz_timeparse: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    int64_t a_sec = 0, b_sec = 0, days;
    uint32_t a_ns = 0, b_ns = 0;
    int a_zone = 0, b_zone = 0;
    const char *why = NULL;
    if (fixed_layout(s, size, &a_sec, &a_ns, &a_zone)) {
        if (parse_general(s, size, &b_sec, &b_ns, &b_zone, &why)) fail_check("fixed layout accepts what the general reader refuses");
        if (a_sec != b_sec || a_ns != b_ns || a_zone != b_zone) fail_check("the two readers disagree");
    }
    if (tp_parse(s, size, &a_sec, &a_ns, &a_zone, &why) == 0) {
        if (a_ns > 999999999) fail_check("nanoseconds out of range");
    } else if (!why) {
        fail_check("a refusal without a reason");
    }
    why = NULL;
    if (tp_parse_unix(s, size, size & 1, &a_sec, &a_ns, &why) == 0) {
        if (a_ns > 999999999) fail_check("Unix nanoseconds out of range");
    } else if (!why) {
        fail_check("a Unix refusal without a reason");
    }
    why = NULL;
    if (tp_parse_date(s, size, &days, &why) && !why) fail_check("a date refusal without a reason");
    return 0;
}
