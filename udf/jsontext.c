#include "jsontext.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kb_jsontext_string(buf *b, const void *p, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = p;
    buf_reserve(b, n + 2);
    buf_u8(b, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            buf_u8(b, '\\');
            buf_u8(b, c);
        } else if (c < 0x20) {
            const char *short_form = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\b' ? "\\b"
                                     : c == '\f' ? "\\f" : NULL;
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (short_form) buf_put(b, short_form, 2);
            else buf_put(b, u, sizeof u);
        } else {
            buf_u8(b, c);
        }
    }
    buf_u8(b, '"');
}

int kb_jsontext_double(buf *b, double d, int single) {
    if (!isfinite(d)) return -1;
    char text[40];
    for (int prec = single ? 6 : 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, d);
        if (single ? strtof(text, NULL) == (float)d : strtod(text, NULL) == d) break;
    }
    buf_put(b, text, strlen(text));
    if (!strpbrk(text, ".eE")) buf_put(b, ".0", 2);
    return 0;
}
