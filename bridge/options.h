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
 * Options on the command line override those from files.
 */
#ifndef KB_OPTIONS_H
#define KB_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "consumer.h"

typedef struct bridge_options {
    char *brokers;
    char *topic;
    char *format;        /* message format: json */
    char *columns;       /* ClickHouse column list */
    int with_header;     /* RowBinaryWithNamesAndTypes rather than RowBinary */
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
} bridge_options;

enum { OPTIONS_RUN = 0, OPTIONS_EXIT = 1, OPTIONS_ERROR = -1 };

/* Fills o from argv (and the pipeline files it names).  Returns
 * OPTIONS_EXIT after printing --help or --version. */
int options_parse(bridge_options *o, int argc, char **argv, char *err, size_t errlen);
void options_free(bridge_options *o);

#endif
