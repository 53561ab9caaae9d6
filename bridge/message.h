/*
 * message.h - what a decoder sees of one Kafka message, and how it reports
 * a message it cannot turn into a row.
 *
 * Decoders do not depend on librdkafka: the consumer fills a kb_msg, which
 * also lets unit tests and the decode benchmark feed bytes from anywhere.
 */
#ifndef KB_MESSAGE_H
#define KB_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

/* One message header: the name as given (not NUL-terminated), the value
 * NULL when the header has none. */
typedef struct kb_header {
    const char *name;
    size_t name_len;
    const void *value;
    size_t value_len;
} kb_header;

typedef struct kb_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int has_timestamp;
    int64_t timestamp_ms;
    const void *key;   /* NULL when the message has no key */
    size_t key_len;
    const void *value; /* NULL for a tombstone */
    size_t value_len;
    const char *error; /* why it could not be decoded (error rows only) */
    const kb_header *headers; /* in the message's order; filled only when a column reads them */
    size_t nheaders;
} kb_msg;

/* Why a message could not become a row.  `column` is NULL when the fault is
 * not in one column (malformed JSON between fields, say); `byte` is the
 * offset in the value where it was found, or -1. */
typedef struct row_error {
    /* Set when the fault is the run's, not the message's (a schema
     * registry that does not answer, say): the run fails whatever the
     * error policy. */
    int fatal;
    const char *column;
    long byte;
    char reason[256];
} row_error;

/* Fills e->reason and returns -1, so that a decoder fails a row in one
 * statement: `return kb_row_fail(e, "...", ...);`. */
__attribute__((format(printf, 2, 3)))
int kb_row_fail(row_error *e, const char *fmt, ...);

#endif
