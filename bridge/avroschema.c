#include "avroschema.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    av_schema *s;
    char *err;
    size_t errlen;
    int depth;
} parser;

__attribute__((format(printf, 2, 3))) static int fail(parser *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void *xalloc(size_t n) {
    void *v = calloc(1, n ? n : 1);
    if (!v) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    return v;
}

static char *xdup(const char *s) {
    char *d = xalloc(strlen(s) + 1);
    strcpy(d, s);
    return d;
}

static av_node *new_node(parser *p, av_type t) {
    av_node *n = xalloc(sizeof *n);
    n->type = t;
    av_schema *s = p->s;
    if ((s->nall & (s->nall - 1)) == 0) {
        av_node **all = realloc(s->all, (s->nall ? s->nall * 2 : 1) * sizeof *all);
        if (!all) abort();
        s->all = all;
    }
    s->all[s->nall++] = n;
    return n;
}

static const struct { const char *name; av_type type; } primitives[] = {
    {"null", AV_NULL}, {"boolean", AV_BOOLEAN}, {"int", AV_INT}, {"long", AV_LONG},
    {"float", AV_FLOAT}, {"double", AV_DOUBLE}, {"bytes", AV_BYTES}, {"string", AV_STRING},
};

static int primitive(const char *name, av_type *t) {
    for (size_t i = 0; i < sizeof primitives / sizeof *primitives; i++)
        if (!strcmp(primitives[i].name, name)) {
            *t = primitives[i].type;
            return 1;
        }
    return 0;
}

/* The full name of a named type: a dotted name is full already; else the
 * enclosing namespace applies. */
static char *full_name(const char *name, const char *ns) {
    if (strchr(name, '.') || !ns || !*ns) return xdup(name);
    char *f = xalloc(strlen(ns) + 1 + strlen(name) + 1);
    sprintf(f, "%s.%s", ns, name);
    return f;
}

static av_node *find_named(parser *p, const char *name, const char *ns) {
    char *full = full_name(name, ns);
    av_node *hit = NULL;
    for (size_t i = 0; i < p->s->nall && !hit; i++) {
        av_node *n = p->s->all[i];
        if (n->name && (!strcmp(n->name, full) || !strcmp(n->name, name))) hit = n;
    }
    free(full);
    return hit;
}

static int parse(parser *p, json_t *j, const char *ns, av_node **out);

static void set_logical(av_node *n, json_t *j) {
    const char *lt = json_string_value(json_object_get(j, "logicalType"));
    if (!lt) return;
    /* A logical type on the wrong base type is ignored, as the Avro
     * specification asks: the value is read as its base type. */
    if (!strcmp(lt, "decimal") && (n->type == AV_BYTES || n->type == AV_FIXED)) {
        json_t *pr = json_object_get(j, "precision"), *sc = json_object_get(j, "scale");
        if (!json_is_integer(pr) || json_integer_value(pr) < 1 || json_integer_value(pr) > 76) return;
        long long scale = sc ? (json_is_integer(sc) ? json_integer_value(sc) : -1) : 0;
        if (scale < 0 || scale > json_integer_value(pr)) return;
        n->logical = AVL_DECIMAL;
        n->precision = (unsigned)json_integer_value(pr);
        n->scale = (unsigned)scale;
    } else if (!strcmp(lt, "date") && n->type == AV_INT) n->logical = AVL_DATE;
    else if (!strcmp(lt, "time-millis") && n->type == AV_INT) n->logical = AVL_TIME_MILLIS;
    else if (!strcmp(lt, "time-micros") && n->type == AV_LONG) n->logical = AVL_TIME_MICROS;
    else if (!strcmp(lt, "timestamp-millis") && n->type == AV_LONG) n->logical = AVL_TS_MILLIS;
    else if (!strcmp(lt, "timestamp-micros") && n->type == AV_LONG) n->logical = AVL_TS_MICROS;
    else if (!strcmp(lt, "timestamp-nanos") && n->type == AV_LONG) n->logical = AVL_TS_NANOS;
    else if (!strcmp(lt, "local-timestamp-millis") && n->type == AV_LONG) n->logical = AVL_LTS_MILLIS;
    else if (!strcmp(lt, "local-timestamp-micros") && n->type == AV_LONG) n->logical = AVL_LTS_MICROS;
    else if (!strcmp(lt, "local-timestamp-nanos") && n->type == AV_LONG) n->logical = AVL_LTS_NANOS;
    else if (!strcmp(lt, "uuid") && (n->type == AV_STRING || (n->type == AV_FIXED && n->size == 16)))
        n->logical = AVL_UUID;
}

static int name_of(parser *p, json_t *j, const char *ns, av_node *n, char **own_ns) {
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!name || !*name) return fail(p, "a %s without a name", av_type_name(n));
    const char *given_ns = json_string_value(json_object_get(j, "namespace"));
    if (find_named(p, name, given_ns ? given_ns : ns)) return fail(p, "type '%s' defined twice", name);
    n->name = full_name(name, given_ns ? given_ns : ns);
    char *dot = strrchr(n->name, '.');
    *own_ns = dot ? strndup(n->name, (size_t)(dot - n->name)) : NULL;
    return 0;
}

static int parse_object(parser *p, json_t *j, const char *ns, av_node **out) {
    json_t *type = json_object_get(j, "type");
    const char *t = json_string_value(type);
    if (!t) {
        /* {"type": {...}} or {"type": [...]}: a wrapped schema. */
        if (!type) return fail(p, "a schema object without \"type\"");
        return parse(p, type, ns, out);
    }
    av_type prim;
    if (primitive(t, &prim)) {
        av_node *n = new_node(p, prim);
        set_logical(n, j);
        *out = n;
        return 0;
    }
    char *own_ns = NULL;
    int rc = 0;
    if (!strcmp(t, "record") || !strcmp(t, "error")) {
        av_node *n = new_node(p, AV_RECORD);
        if (name_of(p, j, ns, n, &own_ns)) return -1;
        json_t *fields = json_object_get(j, "fields");
        if (!json_is_array(fields)) {
            free(own_ns);
            return fail(p, "record '%s' has no \"fields\" array", n->name);
        }
        n->n = json_array_size(fields);
        n->kids = xalloc(n->n * sizeof *n->kids);
        n->names = xalloc(n->n * sizeof *n->names);
        for (size_t i = 0; i < n->n && !rc; i++) {
            json_t *f = json_array_get(fields, i);
            const char *fname = json_string_value(json_object_get(f, "name"));
            if (!fname) {
                rc = fail(p, "record '%s': field %zu has no name", n->name, i);
                break;
            }
            for (size_t k = 0; k < i; k++)
                if (!strcmp(n->names[k], fname)) rc = fail(p, "record '%s': field '%s' twice", n->name, fname);
            n->names[i] = xdup(fname);
            if (!rc) rc = parse(p, json_object_get(f, "type"), own_ns, &n->kids[i]);
        }
        *out = n;
    } else if (!strcmp(t, "enum")) {
        av_node *n = new_node(p, AV_ENUM);
        if (name_of(p, j, ns, n, &own_ns)) return -1;
        json_t *symbols = json_object_get(j, "symbols");
        if (!json_is_array(symbols) || json_array_size(symbols) == 0) {
            free(own_ns);
            return fail(p, "enum '%s' has no symbols", n->name);
        }
        n->n = json_array_size(symbols);
        n->names = xalloc(n->n * sizeof *n->names);
        for (size_t i = 0; i < n->n && !rc; i++) {
            const char *s = json_string_value(json_array_get(symbols, i));
            if (!s) rc = fail(p, "enum '%s': symbol %zu is not a string", n->name, i);
            else n->names[i] = xdup(s);
        }
        *out = n;
    } else if (!strcmp(t, "fixed")) {
        av_node *n = new_node(p, AV_FIXED);
        if (name_of(p, j, ns, n, &own_ns)) return -1;
        json_t *size = json_object_get(j, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0 || json_integer_value(size) > (1 << 20))
            rc = fail(p, "fixed '%s': no valid \"size\"", n->name);
        else n->size = (size_t)json_integer_value(size);
        set_logical(n, j);
        *out = n;
    } else if (!strcmp(t, "array") || !strcmp(t, "map")) {
        av_node *n = new_node(p, t[0] == 'a' ? AV_ARRAY : AV_MAP);
        n->n = 1;
        n->kids = xalloc(sizeof *n->kids);
        json_t *inner = json_object_get(j, t[0] == 'a' ? "items" : "values");
        if (!inner) return fail(p, "%s without \"%s\"", t, t[0] == 'a' ? "items" : "values");
        rc = parse(p, inner, ns, &n->kids[0]);
        *out = n;
    } else {
        av_node *named = find_named(p, t, ns);
        if (!named) return fail(p, "unknown type '%s'", t);
        *out = named;
    }
    free(own_ns);
    return rc;
}

static int parse(parser *p, json_t *j, const char *ns, av_node **out) {
    if (!j) return fail(p, "a field without \"type\"");
    if (++p->depth > 64) return fail(p, "schema nested more than 64 levels deep");
    int rc;
    if (json_is_string(j)) {
        const char *t = json_string_value(j);
        av_type prim;
        if (primitive(t, &prim)) {
            *out = new_node(p, prim);
            rc = 0;
        } else {
            *out = find_named(p, t, ns);
            rc = *out ? 0 : fail(p, "unknown type '%s'", t);
        }
    } else if (json_is_array(j)) {
        av_node *n = new_node(p, AV_UNION);
        n->n = json_array_size(j);
        if (n->n == 0) return fail(p, "an empty union");
        n->kids = xalloc(n->n * sizeof *n->kids);
        rc = 0;
        for (size_t i = 0; i < n->n && !rc; i++) {
            rc = parse(p, json_array_get(j, i), ns, &n->kids[i]);
            if (!rc && n->kids[i]->type == AV_UNION) rc = fail(p, "a union directly inside a union");
        }
        *out = n;
    } else if (json_is_object(j)) {
        rc = parse_object(p, j, ns, out);
    } else {
        rc = fail(p, "a schema must be a string, an object or an array");
    }
    p->depth--;
    return rc;
}

int av_schema_parse(const char *text, size_t n, av_schema *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *j = json_loadb(text, n, JSON_DECODE_ANY, &jerr);
    if (!j) {
        snprintf(err, errlen, "schema is not JSON: %s (at byte %d)", jerr.text, jerr.position);
        return -1;
    }
    parser p = {out, err, errlen, 0};
    int rc = parse(&p, j, NULL, &out->root);
    json_decref(j);
    if (rc) av_schema_free(out);
    return rc;
}

void av_schema_free(av_schema *s) {
    for (size_t i = 0; i < s->nall; i++) {
        av_node *n = s->all[i];
        if (n->names)
            for (size_t k = 0; k < n->n; k++) free(n->names[k]);
        free(n->names);
        free(n->kids);
        free(n->name);
        free(n);
    }
    free(s->all);
    memset(s, 0, sizeof *s);
}

const char *av_type_name(const av_node *n) {
    static const char *const names[] = {"null", "boolean", "int", "long", "float", "double", "bytes",
                                        "string", "record", "enum", "array", "map", "union", "fixed"};
    return names[n->type];
}
