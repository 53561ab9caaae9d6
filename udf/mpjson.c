#include "mpjson.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "jsontext.h"

/* msgpack-c's unpacker stops at 32 levels (MSGPACK_EMBED_STACK_SIZE). */
#define MAX_DEPTH 32

typedef struct walk {
    buf *out;
    char *err;
    size_t errlen;
    int in_key; /* inside the JSON text of a non-string key */
} walk;

static void put_text(buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static void put_string(buf *b, const char *p, size_t n) { kb_jsontext_string(b, p, n); }

static int put_double(walk *w, double d, int single) {
    if (kb_jsontext_double(w->out, d, single) == 0) return 0;
    snprintf(w->err, w->errlen, "msgpack: %s has no JSON form", isnan(d) ? "NaN" : "an infinity");
    return -1;
}

static int put_timestamp(walk *w, const msgpack_object_ext *e) {
    int64_t sec;
    uint32_t nsec = 0;
    const unsigned char *p = (const unsigned char *)e->ptr;
    if (e->size == 4) {
        sec = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    } else if (e->size == 8) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | p[i];
        nsec = (uint32_t)(v >> 34);
        sec = (int64_t)(v & ((1ull << 34) - 1));
    } else if (e->size == 12) {
        for (int i = 0; i < 4; i++) nsec = nsec << 8 | p[i];
        uint64_t v = 0;
        for (int i = 4; i < 12; i++) v = v << 8 | p[i];
        sec = (int64_t)v;
    } else {
        snprintf(w->err, w->errlen, "msgpack: a timestamp of %" PRIu32 " bytes (4, 8 or 12)", e->size);
        return -1;
    }
    if (nsec > 999999999 || sec < -62135596800 || sec > 253402300799) {
        snprintf(w->err, w->errlen, "msgpack: timestamp out of range (years 1 to 9999)");
        return -1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    char text[64];
    snprintf(text, sizeof text, "\"%04d-%02d-%02dT%02d:%02d:%02d.%09" PRIu32 "Z\"", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
    put_text(w->out, text);
    return 0;
}

static int put_value(walk *w, const msgpack_object *o, int depth);

static int put_key(walk *w, const msgpack_object *k, int depth) {
    if (k->type == MSGPACK_OBJECT_STR || k->type == MSGPACK_OBJECT_BIN) {
        put_string(w->out, k->via.str.ptr, k->via.str.size);
        return 0;
    }
    /* A JSON key must be a string: use the key's own JSON text.  That
     * text is escaped once more as the key, so a non-string key inside
     * another would escape its quotes and backslashes twice, and each
     * further level doubles them again: 29 nested map keys in 120 bytes
     * of input asked for gigabytes.  One level keeps the output within a
     * small multiple of the input. */
    if (w->in_key) {
        snprintf(w->err, w->errlen, "msgpack: a map key that holds another non-string map key has no JSON form");
        return -1;
    }
    buf text;
    buf_init(&text, 32);
    buf *saved = w->out;
    w->out = &text;
    w->in_key = 1;
    int rc = put_value(w, k, depth);
    w->in_key = 0;
    w->out = saved;
    if (!rc) put_string(w->out, (const char *)text.data, text.len);
    buf_free(&text);
    return rc;
}

static int put_value(walk *w, const msgpack_object *o, int depth) {
    char num[32];
    if (depth > MAX_DEPTH) {
        snprintf(w->err, w->errlen, "msgpack: nested deeper than %d", MAX_DEPTH);
        return -1;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: put_text(w->out, "null"); return 0;
    case MSGPACK_OBJECT_BOOLEAN: put_text(w->out, o->via.boolean ? "true" : "false"); return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(num, sizeof num, "%" PRIu64, o->via.u64);
        put_text(w->out, num);
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(num, sizeof num, "%" PRId64, o->via.i64);
        put_text(w->out, num);
        return 0;
    case MSGPACK_OBJECT_FLOAT32: return put_double(w, o->via.f64, 1);
    case MSGPACK_OBJECT_FLOAT64: return put_double(w, o->via.f64, 0);
    case MSGPACK_OBJECT_STR: put_string(w->out, o->via.str.ptr, o->via.str.size); return 0;
    case MSGPACK_OBJECT_BIN: put_string(w->out, o->via.bin.ptr, o->via.bin.size); return 0;
    case MSGPACK_OBJECT_ARRAY:
        buf_u8(w->out, '[');
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i) buf_u8(w->out, ',');
            if (put_value(w, &o->via.array.ptr[i], depth + 1)) return -1;
        }
        buf_u8(w->out, ']');
        return 0;
    case MSGPACK_OBJECT_MAP:
        buf_u8(w->out, '{');
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i) buf_u8(w->out, ',');
            if (put_key(w, &o->via.map.ptr[i].key, depth + 1)) return -1;
            buf_u8(w->out, ':');
            if (put_value(w, &o->via.map.ptr[i].val, depth + 1)) return -1;
        }
        buf_u8(w->out, '}');
        return 0;
    case MSGPACK_OBJECT_EXT:
        if (o->via.ext.type == -1) return put_timestamp(w, &o->via.ext);
        snprintf(w->err, w->errlen, "msgpack: extension type %d has no JSON form", o->via.ext.type);
        return -1;
    }
    snprintf(w->err, w->errlen, "msgpack: unknown object type %d", (int)o->type);
    return -1;
}

static uint64_t be(const unsigned char *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Walks the value's headers without allocating, before msgpack-c does:
 * msgpack-c reserves room for an array or map as its header declares, so
 * five bytes could ask for 100 GB.  Every element takes at least one byte,
 * so a declared count beyond the bytes left is refused here, which bounds
 * msgpack-c's allocation by a multiple of the input size. */
static int prescan(const unsigned char *p, size_t n, char *err, size_t errlen) {
    uint64_t need = 1;
    size_t pos = 0;
    while (need) {
        if (pos >= n) goto truncated;
        need--;
        unsigned c = p[pos++];
        uint64_t skip = 0, more = 0;
        unsigned width = 0;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        } else if (c >= 0xa0 && c <= 0xbf) {
            skip = c & 0x1f;
        } else if (c >= 0x90 && c <= 0x9f) {
            more = c & 0x0f;
        } else if (c >= 0x80 && c <= 0x8f) {
            more = 2 * (uint64_t)(c & 0x0f);
        } else {
            switch (c) {
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xca: case 0xce: case 0xd2: skip = 4; break;
            case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xc4: case 0xd9: width = 1; break;
            case 0xc5: case 0xda: width = 2; break;
            case 0xc6: case 0xdb: width = 4; break;
            case 0xc7: case 0xc8: case 0xc9: width = c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4; break;
            case 0xdc: case 0xde: width = 2; break;
            case 0xdd: case 0xdf: width = 4; break;
            default:
                snprintf(err, errlen, "msgpack: invalid byte 0x%02x (at byte %zu)", c, pos - 1);
                return -1;
            }
            if (width) {
                if (n - pos < width) goto truncated;
                uint64_t len = be(p + pos, width);
                pos += width;
                if (c == 0xdc || c == 0xdd) more = len;
                else if (c == 0xde || c == 0xdf) more = 2 * len;
                else skip = len + (c >= 0xc7 && c <= 0xc9); /* ext: a type byte too */
            }
        }
        if (skip > n - pos) goto truncated;
        pos += (size_t)skip;
        if (more > n - pos || need + more > n - pos) {
            /* Each element takes a byte at least: the input ends inside. */
            snprintf(err, errlen,
                     "msgpack: input ends inside a value (%zu bytes): a container declares %llu more elements "
                     "with %zu bytes left (at byte %zu)",
                     n, (unsigned long long)more, n - pos, pos);
            return -1;
        }
        need += more;
    }
    if (pos != n) {
        snprintf(err, errlen, "msgpack: %zu bytes after the value (at byte %zu)", n - pos, pos);
        return -1;
    }
    return 0;
truncated:
    snprintf(err, errlen, "msgpack: input ends inside a value (%zu bytes)", n);
    return -1;
}

int mpjson_transcode(const void *p, size_t n, buf *out, char *err, size_t errlen) {
    if (prescan(p, n, err, errlen)) return -1;
    msgpack_zone zone;
    msgpack_object obj;
    size_t off = 0;
    if (!msgpack_zone_init(&zone, 2048)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const size_t start = out->len;
    int rc = -1;
    msgpack_unpack_return u = msgpack_unpack((const char *)p, n, &off, &zone, &obj);
    if (u == MSGPACK_UNPACK_CONTINUE || u == MSGPACK_UNPACK_PARSE_ERROR || u == MSGPACK_UNPACK_NOMEM_ERROR) {
        snprintf(err, errlen, "msgpack: %s (%zu bytes)",
                 u == MSGPACK_UNPACK_CONTINUE ? "input ends inside a value"
                 : u == MSGPACK_UNPACK_NOMEM_ERROR ? "nested deeper than 32, or out of memory" : "malformed input", n);
    } else if (u == MSGPACK_UNPACK_EXTRA_BYTES || off != n) {
        snprintf(err, errlen, "msgpack: %zu bytes after the value (at byte %zu)", n - off, off);
    } else {
        walk w = {out, err, errlen, 0};
        rc = put_value(&w, &obj, 0);
    }
    if (rc) out->len = start;
    msgpack_zone_destroy(&zone);
    return rc;
}
