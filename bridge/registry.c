/*
 * registry.c - libcurl for HTTP(S): it does keep-alive, TLS with a CA file,
 * proxies and timeouts, which a hand-written client would redo badly; the
 * answers are small JSON documents, read with jansson (which avro-c
 * already links).
 */
#include "registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

struct kb_registry {
    CURL *curl;
    char *url;     /* without a trailing '/' */
    char *userpwd; /* "user:password" or NULL */
    char *ca_file;
    int budget_ms;
    unsigned long requests;
    buf body;
};

static char *dup_str(const char *s) {
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    return d;
}

int kb_registry_open(kb_registry **out, const kb_registry_config *cfg, char *err, size_t errlen) {
    if (!cfg->url || !*cfg->url) {
        snprintf(err, errlen, "no schema registry URL (schema-registry in the pipeline file)");
        return -1;
    }
    if (strncmp(cfg->url, "http://", 7) && strncmp(cfg->url, "https://", 8)) {
        snprintf(err, errlen, "schema-registry: expected an http:// or https:// URL, got '%s'", cfg->url);
        return -1;
    }
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
            snprintf(err, errlen, "cannot initialise libcurl");
            return -1;
        }
        curl_ready = 1;
    }
    kb_registry *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->curl = curl_easy_init();
    if (!r->curl) {
        free(r);
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    r->url = dup_str(cfg->url);
    size_t n = strlen(r->url);
    while (n && r->url[n - 1] == '/') r->url[--n] = '\0';
    if (cfg->user) {
        size_t len = strlen(cfg->user) + 1 + (cfg->password ? strlen(cfg->password) : 0) + 1;
        r->userpwd = malloc(len);
        if (!r->userpwd) abort();
        snprintf(r->userpwd, len, "%s:%s", cfg->user, cfg->password ? cfg->password : "");
    }
    if (cfg->ca_file) r->ca_file = dup_str(cfg->ca_file);
    r->budget_ms = cfg->budget_ms > 0 ? cfg->budget_ms : 6000;
    buf_init(&r->body, 4096);
    *out = r;
    return 0;
}

void kb_registry_close(kb_registry *r) {
    if (!r) return;
    curl_easy_cleanup(r->curl);
    free(r->url);
    if (r->userpwd) {
        /* Credentials do not outlive their use in freed memory. */
        memset(r->userpwd, 0, strlen(r->userpwd));
        free(r->userpwd);
    }
    free(r->ca_file);
    buf_free(&r->body);
    free(r);
}

unsigned long kb_registry_requests(const kb_registry *r) { return r->requests; }

static size_t on_body(char *p, size_t size, size_t n, void *arg) {
    buf *b = arg;
    if (b->len + size * n > (size_t)16 << 20) return 0; /* no schema is that big */
    buf_put(b, p, size * n);
    return size * n;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* GET url+path into r->body.  Returns the HTTP status (200..599), or -1
 * with err set when no answer came within the budget. */
static long get(kb_registry *r, const char *path, char *err, size_t errlen) {
    char url[2048];
    if ((size_t)snprintf(url, sizeof url, "%s%s", r->url, path) >= sizeof url) {
        snprintf(err, errlen, "schema registry URL too long");
        return -1;
    }
    long deadline = now_ms() + r->budget_ms, status = -1;
    char why[CURL_ERROR_SIZE] = "";
    for (int attempt = 0;; attempt++) {
        long left = deadline - now_ms();
        if (left <= 0) break;
        CURL *c = r->curl;
        curl_easy_reset(c);
        r->body.len = 0;
        why[0] = '\0';
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left < 3000 ? left : 3000L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, left < 2000 ? left : 2000L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* no redirect leads credentials elsewhere */
        if (r->userpwd) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
        }
        if (r->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
        r->requests++;
        CURLcode rc = curl_easy_perform(c);
        if (rc == CURLE_OK) {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            if (status < 500) return status;
            snprintf(why, sizeof why, "HTTP %ld", status);
        } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                   rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_UNSUPPORTED_PROTOCOL ||
                   rc == CURLE_URL_MALFORMAT) {
            /* Not passing: trying again cannot help. */
            snprintf(err, errlen, "schema registry %s: %s", r->url, why[0] ? why : curl_easy_strerror(rc));
            return -1;
        } else if (!why[0]) {
            snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
        }
        long pause = 100L << (attempt < 4 ? attempt : 4);
        if (now_ms() + pause >= deadline) break;
        struct timespec ts = {pause / 1000, (pause % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "schema registry %s did not answer within %d ms (%s)", r->url, r->budget_ms,
             why[0] ? why : "no attempt");
    return -1;
}

/* The registry's own words for a refusal: {"error_code":..,"message":".."}. */
static void refusal(kb_registry *r, long status, const char *what, char *err, size_t errlen) {
    json_t *doc = json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
    const char *msg = doc ? json_string_value(json_object_get(doc, "message")) : NULL;
    const char *hint = status == 401 || status == 403 ? " (check the registry credentials)" : "";
    snprintf(err, errlen, "schema registry %s: %s: HTTP %ld%s%s%s", r->url, what, status, hint,
             msg ? ": " : "", msg ? msg : "");
    json_decref(doc);
}

static int answer(kb_registry *r, const char *what, uint32_t *id, char **schema, char *err,
                  size_t errlen) {
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)r->body.data, r->body.len, 0, &jerr);
    const char *text = doc ? json_string_value(json_object_get(doc, "schema")) : NULL;
    const char *type = doc ? json_string_value(json_object_get(doc, "schemaType")) : NULL;
    json_t *jid = doc ? json_object_get(doc, "id") : NULL;
    int rc = -1;
    if (!text) {
        snprintf(err, errlen, "schema registry %s: %s: the answer holds no schema", r->url, what);
    } else if (type && strcmp(type, "AVRO") != 0) {
        snprintf(err, errlen, "schema registry %s: %s is a %s schema, not Avro", r->url, what, type);
    } else if (id && (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
                      json_integer_value(jid) > UINT32_MAX)) {
        snprintf(err, errlen, "schema registry %s: %s: the answer holds no schema id", r->url, what);
    } else {
        if (id) *id = (uint32_t)json_integer_value(jid);
        *schema = dup_str(text);
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

int kb_registry_schema(kb_registry *r, uint32_t id, char **schema, char *err, size_t errlen) {
    char path[64], what[64];
    snprintf(path, sizeof path, "/schemas/ids/%u", id);
    snprintf(what, sizeof what, "schema id %u", id);
    long status = get(r, path, err, errlen);
    if (status < 0) return -1;
    if (status == 404) {
        snprintf(err, errlen, "schema registry %s knows no schema id %u", r->url, id);
        return -1;
    }
    if (status != 200) {
        refusal(r, status, what, err, errlen);
        return -1;
    }
    return answer(r, what, NULL, schema, err, errlen);
}

int kb_registry_latest(kb_registry *r, const char *subject, uint32_t *id, char **schema, char *err,
                       size_t errlen) {
    char path[512], what[400];
    for (const char *p = subject; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            *p != '.' && *p != '_' && *p != '-') {
            snprintf(err, errlen, "subject '%s': only letters, digits, '.', '_' and '-' here", subject);
            return -1;
        }
    snprintf(path, sizeof path, "/subjects/%s/versions/latest", subject);
    snprintf(what, sizeof what, "subject '%s'", subject);
    long status = get(r, path, err, errlen);
    if (status < 0) return -1;
    if (status == 404) {
        snprintf(err, errlen, "schema registry %s has no subject '%s'", r->url, subject);
        return -1;
    }
    if (status != 200) {
        refusal(r, status, what, err, errlen);
        return -1;
    }
    return answer(r, what, id, schema, err, errlen);
}
