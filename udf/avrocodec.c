#include "avrocodec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avroenc.h"
#include "avrojson.h"
#include "avroschema.h"
#include "formats/avro.h"
#include "registry.h"

struct kb_avwriter {
    av_schema schema;
    long id;          /* -1: plain datums */
    kb_avroenc enc;
};

static int open_registry(kb_registry **r, const bridge_options *o, const char *format, char *err,
                         size_t errlen) {
    if (!o->schema_registry) {
        snprintf(err, errlen, "%s needs schema-registry (a URL) in the pipeline file", format);
        return -1;
    }
    kb_registry_config rc = {o->schema_registry, o->schema_registry_user, o->schema_registry_password,
                             o->schema_registry_ca, 0};
    return kb_registry_open(r, &rc, err, errlen);
}

int kb_avwriter_open(kb_avwriter **out, const bridge_options *o, int key, char *err, size_t errlen) {
    *out = NULL;
    const char *format = key ? o->key_format : o->format;
    if (!format || (strcmp(format, "avro-confluent") && strcmp(format, "avro"))) return 0;
    const char *side = key ? "key-format" : "format";
    if (o->avro_skip_bytes) {
        snprintf(err, errlen, "avro-skip-bytes is for reading: kafkaProduce cannot write the header it skips");
        return -1;
    }
    char *text = NULL;
    long id = -1;
    if (!strcmp(format, "avro")) {
        if (key) {
            snprintf(err, errlen, "key-format = avro has no key schema to write with (use avro-confluent)");
            return -1;
        }
        if (!o->avro_schema) {
            snprintf(err, errlen, "format = avro needs avro-schema (a file or inline JSON) in the pipeline file");
            return -1;
        }
        if (kb_avro_read_schema_option(o->avro_schema, &text, err, errlen)) return -1;
    } else {
        char subject[512];
        const char *given = key ? o->avro_key_subject : o->avro_subject;
        if (given) snprintf(subject, sizeof subject, "%s", given);
        else if (o->topic) snprintf(subject, sizeof subject, "%s-%s", o->topic, key ? "key" : "value");
        else {
            snprintf(err, errlen, "%s = avro-confluent needs a topic or avro-%ssubject", side, key ? "key-" : "");
            return -1;
        }
        kb_registry *r;
        if (open_registry(&r, o, side, err, errlen)) return -1;
        uint32_t sid;
        char why[512];
        int rc = kb_registry_latest(r, subject, &sid, &text, why, sizeof why);
        kb_registry_close(r);
        if (rc) {
            snprintf(err, errlen, "%s: the latest schema of subject '%s': %s", side, subject, why);
            return -1;
        }
        id = (long)sid;
    }
    kb_avwriter *w = calloc(1, sizeof *w);
    if (!w) abort();
    char why[512];
    if (av_schema_parse(text, strlen(text), &w->schema, why, sizeof why)) {
        if (id >= 0) snprintf(err, errlen, "%s: schema id %ld: %s", side, id, why);
        else snprintf(err, errlen, "avro-schema: %s", why);
        free(text);
        free(w);
        return -1;
    }
    free(text);
    w->id = id;
    kb_avroenc_init(&w->enc);
    *out = w;
    return 0;
}

void kb_avwriter_close(kb_avwriter *w) {
    if (!w) return;
    av_schema_free(&w->schema);
    kb_avroenc_free(&w->enc);
    free(w);
}

long kb_avwriter_schema_id(const kb_avwriter *w) { return w->id; }

int kb_avwriter_encode(kb_avwriter *w, const char *json, size_t n, buf *out, char *err, size_t errlen) {
    size_t start = out->len;
    if (w->id >= 0) {
        uint32_t id = (uint32_t)w->id;
        uint8_t head[5] = {0, (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
        buf_put(out, head, 5);
    }
    if (kb_avroenc_datum(&w->enc, w->schema.root, json, n, out, err, errlen)) {
        out->len = start;
        return -1;
    }
    return 0;
}

typedef struct cached {
    uint32_t id;
    av_schema schema;
} cached;

struct kb_avreader {
    kb_registry *registry; /* NULL: plain datums of `plain` */
    av_schema plain;
    size_t skip;
    cached *ids;
    size_t nids, cap;
};

int kb_avreader_open(kb_avreader **out, const bridge_options *o, char *err, size_t errlen) {
    *out = NULL;
    kb_avreader *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->skip = o->avro_skip_bytes;
    if (o->format && !strcmp(o->format, "avro-confluent")) {
        if (open_registry(&r->registry, o, "format = avro-confluent", err, errlen)) {
            free(r);
            return -1;
        }
    } else if (o->format && !strcmp(o->format, "avro")) {
        char *text, why[512];
        if (!o->avro_schema) {
            snprintf(err, errlen, "format = avro needs avro-schema (a file or inline JSON) in the pipeline file");
            free(r);
            return -1;
        }
        if (kb_avro_read_schema_option(o->avro_schema, &text, err, errlen)) {
            free(r);
            return -1;
        }
        int rc = av_schema_parse(text, strlen(text), &r->plain, why, sizeof why);
        free(text);
        if (rc) {
            snprintf(err, errlen, "avro-schema: %s", why);
            free(r);
            return -1;
        }
    } else {
        snprintf(err, errlen, "format '%s' is not Avro", o->format ? o->format : "(none)");
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void kb_avreader_close(kb_avreader *r) {
    if (!r) return;
    kb_registry_close(r->registry);
    if (!r->registry) av_schema_free(&r->plain);
    for (size_t i = 0; i < r->nids; i++) av_schema_free(&r->ids[i].schema);
    free(r->ids);
    free(r);
}

static const av_schema *schema_of(kb_avreader *r, uint32_t id, char *err, size_t errlen) {
    for (size_t i = 0; i < r->nids; i++)
        if (r->ids[i].id == id) return &r->ids[i].schema;
    char *text, why[512];
    if (kb_registry_schema(r->registry, id, &text, why, sizeof why)) {
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    if (r->nids == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        cached *grown = realloc(r->ids, r->cap * sizeof *grown);
        if (!grown) abort();
        r->ids = grown;
    }
    cached *c = &r->ids[r->nids];
    int rc = av_schema_parse(text, strlen(text), &c->schema, why, sizeof why);
    free(text);
    if (rc) {
        snprintf(err, errlen, "schema id %u: %s", id, why);
        return NULL;
    }
    c->id = id;
    r->nids++;
    return &c->schema;
}

int kb_avreader_json(kb_avreader *r, const void *p, size_t n, buf *out, char *err, size_t errlen) {
    const uint8_t *b = p;
    if (n < r->skip) {
        snprintf(err, errlen, "%zu bytes, fewer than avro-skip-bytes (%zu)", n, r->skip);
        return KB_AV_PAYLOAD_FAULT;
    }
    b += r->skip;
    n -= r->skip;
    const av_schema *s = &r->plain;
    uint32_t id = 0;
    if (r->registry) {
        if (n < 5 || b[0] != 0) {
            if (n == 0) snprintf(err, errlen, "an empty payload (no Confluent framing)");
            else if (b[0] != 0) snprintf(err, errlen, "bad magic byte 0x%02x (Confluent framing starts with 0)", b[0]);
            else snprintf(err, errlen, "%zu bytes, too short for the Confluent framing (5)", n);
            return KB_AV_PAYLOAD_FAULT;
        }
        id = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
        if (!(s = schema_of(r, id, err, errlen))) return KB_AV_RUN_FAULT;
        b += 5;
        n -= 5;
    }
    char why[400];
    if (kb_avrojson_datum(s->root, b, n, out, why, sizeof why)) {
        if (r->registry) snprintf(err, errlen, "schema id %u: %s", id, why);
        else snprintf(err, errlen, "%s", why);
        return KB_AV_PAYLOAD_FAULT;
    }
    return 0;
}
