#include "buf.h"
#include "fieldpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 64

static int fail(char *err, size_t errlen, const char *text, size_t n, const char *why) {
    snprintf(err, errlen, "invalid path '%.*s': %s", (int)(n > 80 ? 80 : n), text, why);
    return -1;
}

int fieldpath_parse(const char *text, size_t n, fieldpath **out, char *err, size_t errlen) {
    fieldpath_step steps[MAX_STEPS];
    size_t nsteps = 0, i = 1;
    const char *why = NULL;
    field_source source = FIELD_VALUE;
    buf key;
    *out = NULL;
    if (n == 0 || text[0] != '$') return fail(err, errlen, text, n, "a path starts with '$'");
    /* "$key" roots the path in the message key; "$keys" would be a typo
     * for a value path, not a key. */
    if (n >= 4 && memcmp(text, "$key", 4) == 0 && (n == 4 || text[4] == '.' || text[4] == '[')) {
        source = FIELD_KEY;
        i = 4;
    }
    buf_init(&key, 32);
    while (i < n) {
        if (nsteps == MAX_STEPS) {
            why = "more than 64 steps";
            goto bad;
        }
        fieldpath_step *s = &steps[nsteps];
        key.len = 0;
        if (text[i] == '.') {
            size_t start = ++i;
            while (i < n && text[i] != '.' && text[i] != '[') i++;
            buf_put(&key, text + start, i - start);
        } else if (text[i] == '[' && i + 1 < n && (text[i + 1] == '\'' || text[i + 1] == '"')) {
            char quote = text[i + 1];
            for (i += 2; i < n && text[i] != quote; i++) {
                if (text[i] == '\\' && i + 1 < n) i++;
                buf_u8(&key, (unsigned char)text[i]);
            }
            if (i + 1 >= n || text[i + 1] != ']') {
                why = "unterminated quoted key";
                goto bad;
            }
            i += 2;
        } else if (text[i] == '[') {
            size_t index = 0, start = ++i;
            for (; i < n && text[i] >= '0' && text[i] <= '9'; i++) {
                index = index * 10 + (size_t)(text[i] - '0');
                if (index > 1000000000) {
                    why = "array index too large";
                    goto bad;
                }
            }
            if (i == start || i >= n || text[i] != ']') {
                why = "expected an index from 0, like [2]";
                goto bad;
            }
            i++;
            *s = (fieldpath_step){NULL, 0, index};
            nsteps++;
            continue;
        } else {
            why = "expected '.key', '[\"key\"]' or '[index]'";
            goto bad;
        }
        if (key.len == 0) {
            why = "empty key";
            goto bad;
        }
        s->key = kb_xcalloc(key.len + 1, 1);
        memcpy(s->key, key.data, key.len);
        s->key_len = key.len;
        s->index = 0;
        nsteps++;
    }
    if (nsteps == 0 && source == FIELD_VALUE) {
        why = "the path names no field";
        goto bad;
    }
    buf_free(&key);
    fieldpath *p = kb_xcalloc(1, sizeof *p);
    p->source = source;
    p->steps = kb_xcalloc(nsteps, sizeof *p->steps);
    if (nsteps) memcpy(p->steps, steps, nsteps * sizeof *steps);
    p->nsteps = nsteps;
    *out = p;
    return 0;

bad:
    buf_free(&key);
    for (size_t k = 0; k < nsteps; k++) free(steps[k].key);
    return fail(err, errlen, text, n, why);
}

void fieldpath_free(fieldpath *p) {
    if (!p) return;
    for (size_t i = 0; i < p->nsteps; i++) free(p->steps[i].key);
    free(p->steps);
    free(p);
}

void fieldpath_format(const fieldpath *p, buf *out) {
    if (p->source == FIELD_KEY) buf_put(out, "$key", 4);
    else buf_u8(out, '$');
    for (size_t i = 0; i < p->nsteps; i++) {
        const fieldpath_step *s = &p->steps[i];
        if (!s->key) {
            char num[32];
            int len = snprintf(num, sizeof num, "[%zu]", s->index);
            buf_put(out, num, (size_t)len);
            continue;
        }
        int plain = 1;
        for (size_t k = 0; k < s->key_len; k++)
            if (s->key[k] == '.' || s->key[k] == '[' || s->key[k] == ']' || s->key[k] == '\'' ||
                s->key[k] == '"' || s->key[k] == '\\' || s->key[k] == ',' || s->key[k] == ' ')
                plain = 0;
        if (plain) {
            buf_u8(out, '.');
            buf_put(out, s->key, s->key_len);
            continue;
        }
        buf_put(out, "[\"", 2);
        for (size_t k = 0; k < s->key_len; k++) {
            if (s->key[k] == '"' || s->key[k] == '\\') buf_u8(out, '\\');
            buf_u8(out, (unsigned char)s->key[k]);
        }
        buf_put(out, "\"]", 2);
    }
}
