/*
 * registry.h - a Confluent Schema Registry client: the schemas of the
 * ids Confluent-framed messages carry, and the latest schema of a subject.
 *
 * Only what the bridge needs: GET /schemas/ids/ID and
 * GET /subjects/S/versions/latest on the Confluent API (Confluent's own
 * registry, Apicurio's /apis/ccompat/v7, Redpanda's...).  The URL,
 * credentials and CA file come from the admin's pipeline file, never from
 * a query.
 *
 * A request is retried on connection failures and 5xx answers within a
 * total time budget that stays under ClickHouse's default read timeout
 * for executable() (10 s): the registry being down must fail the run
 * with a reason, not let ClickHouse time out first.  Every failure here
 * is a fault of the run (the registry, its URL or credentials), never of
 * one message.
 */
#ifndef KB_REGISTRY_H
#define KB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct kb_registry_config {
    const char *url;      /* base URL of the Confluent API, e.g. http://h:8081 */
    const char *user;     /* basic auth, or NULL */
    const char *password;
    const char *ca_file;  /* PEM bundle for HTTPS, or NULL for the system's */
    int budget_ms;        /* all attempts of one request together; 0: 6000 */
} kb_registry_config;

typedef struct kb_registry kb_registry;

int kb_registry_open(kb_registry **r, const kb_registry_config *cfg, char *err, size_t errlen);
void kb_registry_close(kb_registry *r);

/* The schema text of `id` (malloc'd, NUL-terminated, the caller's to
 * free).  Returns 0, or -1 with err saying why (unknown id, refused
 * credentials, unreachable registry). */
int kb_registry_schema(kb_registry *r, uint32_t id, char **schema, char *err, size_t errlen);

/* The latest version of subject: its id and schema text (caller frees). */
int kb_registry_latest(kb_registry *r, const char *subject, uint32_t *id, char **schema, char *err,
                       size_t errlen);

/* How many HTTP requests were made: the tests check the cache by it. */
unsigned long kb_registry_requests(const kb_registry *r);

#endif
