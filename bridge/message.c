#include "message.h"

#include <stdarg.h>
#include <stdio.h>

int kb_row_fail(row_error *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return -1;
}
