/*
 * options.h - what a run is asked to do, from the command line and from
 * pipeline files.
 *
 * A pipeline file holds the same settings as the long options, one
 * `name = value` per line; `kafka.NAME = VALUE` passes a librdkafka
 * property.  A line that starts with whitespace continues the previous
 * value, so a long column list can span lines.  `#` starts a comment line.
 * Files exist because a command in ClickHouse's executable() cannot portably
 * carry spaces (so not a column list), and because query text is logged
 * while credentials must not be.
 *
 * Options on the command line override those from files, where the
 * pipeline lets them: the command line is written by SQL users, the files
 * by the admin (README, "Security").  Without --pipeline a run needs
 * `adhoc = true` in the directory's _server.conf, and -X then accepts only
 * an allowlist of tuning properties.
 */
#ifndef KB_OPTIONS_H
#define KB_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "consumer.h"

/* What a message that cannot become a row does to the run. */
typedef enum error_policy {
    ON_ERROR_FAIL,        /* the run fails, naming the message */
    ON_ERROR_SKIP,        /* counted, reported at exit */
    ON_ERROR_DEAD_LETTER, /* copied to a dead-letter topic, acknowledged first */
    ON_ERROR_STREAM       /* a row with _error and _raw filled */
} error_policy;

typedef struct bridge_options {
    char *brokers;
    char *topic;
    char *format;        /* message format: a decoder's name (decoder.h) */
    char *key_format;    /* the key's, or NULL: no column reads the key */
    char *columns;       /* ClickHouse column list */
    int with_header;     /* RowBinaryWithNamesAndTypes rather than RowBinary */
    int native;          /* Native blocks (native.h) */
    int32_t *partitions;
    size_t npartitions;
    offset_spec default_start;
    partition_start *starts;
    size_t nstarts;
    char **properties;
    size_t nproperties;
    uint64_t max_rows;       /* 0: no limit */
    double max_time;         /* seconds; 0: no limit */
    double idle_timeout;     /* seconds without progress before giving up */
    int flush_interval_ms;
    int trust_exit_code;
    int timeout_ms;          /* metadata and offset look-ups */
    int offsets_from_stdin;  /* start positions come from an input query */
    out_of_range_policy out_of_range;
    char *lock_path;         /* NULL: no lock */
    int lock_set;            /* --lock given (possibly "none") */
    double lock_grace;       /* seconds a previous run's rows may take to show (handover.h) */
    error_policy on_error;
    char *dead_letter_topic;
    char *commit_group;      /* commit the given start positions to this group */
    int commit_on_exit;      /* also commit the stop positions at exit */
    int shard_index, shard_count; /* read partitions p with p % count == index */
    int watermarks;          /* write one row per partition instead of messages */
    uint64_t memory_budget;  /* bytes; 0: the default (kafkaconf.h) */
    int pipeline;            /* --pipeline given: the query runs under its rules */
    uint32_t overridable;    /* bit per key a query may set (see options.c) */
    char *inspect;           /* --inspect MODE (inspect.h), or NULL */
    int allow_produce;       /* kafkaProduce may write to this pipeline's topic */
    /* Avro (formats/avro.c); from pipeline files only: they name servers,
     * credentials and files. */
    char *schema_registry;   /* Confluent API base URL */
    char *schema_registry_user;
    char *schema_registry_password;
    char *schema_registry_ca; /* PEM file for HTTPS */
    char *avro_schema;       /* --format avro: the writer schema, a file or inline JSON */
    size_t avro_skip_bytes;  /* header bytes before the framing or the datum */
    char *avro_subject;      /* kafkaProduce: the value's subject; NULL: <topic>-value */
    char *avro_key_subject;  /* kafkaProduce: the key's subject; NULL: <topic>-key */
    int describe;            /* print the column list of the topic's latest schema */
} bridge_options;

enum { OPTIONS_RUN = 0, OPTIONS_EXIT = 1, OPTIONS_ERROR = -1 };

/* Fills o from argv (and the pipeline files it names).  Returns
 * OPTIONS_EXIT after printing --help or --version. */
int options_parse(bridge_options *o, int argc, char **argv, char *err, size_t errlen);
void options_free(bridge_options *o);

/* Reads pipeline NAME from the pipeline directory (as --pipeline NAME
 * does, relative to argv0) into a zeroed o, without the checks of a
 * consuming run: for the UDF programs, which use only some keys. */
int options_load_pipeline(bridge_options *o, const char *argv0, const char *name, char *err,
                          size_t errlen);

#endif
