#include "decoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/formats.h"

/* Every format, by the name --format and --key-format take. */
static const kb_decoder_ops *const decoders[] = {
    &kb_json_decoder,
    &kb_msgpack_decoder,
    &kb_msgpack_positional_decoder,
    &kb_raw_decoder,
    &kb_lines_decoder,
    &kb_avro_confluent_decoder,
    &kb_avro_decoder,
};

const kb_decoder_ops *kb_decoder_find(const char *name) {
    for (size_t i = 0; i < sizeof decoders / sizeof *decoders; i++)
        if (strcmp(decoders[i]->name, name) == 0) return decoders[i];
    return NULL;
}

const char *kb_decoder_names(void) {
    return "json, msgpack, msgpack-positional, raw, lines, avro-confluent, avro";
}

int kb_rowdecoder_open(kb_rowdecoder *d, const rowplan *plan, const char *format,
                       const char *key_format, const struct bridge_options *options, char *err,
                       size_t errlen) {
    memset(d, 0, sizeof *d);
    d->value_ops = kb_decoder_find(format);
    if (!d->value_ops) {
        snprintf(err, errlen, "unknown message format '%s' (known: %s)", format, kb_decoder_names());
        return -1;
    }
    int reads_key = rowplan_reads_key(plan);
    if (key_format) {
        d->key_ops = kb_decoder_find(key_format);
        if (!d->key_ops) {
            snprintf(err, errlen, "unknown key format '%s' (known: %s)", key_format, kb_decoder_names());
            return -1;
        }
        if (!reads_key) {
            snprintf(err, errlen, "--key-format %s: no column reads the key (give one a path "
                                  "starting with $key)", key_format);
            return -1;
        }
    } else if (reads_key) {
        for (size_t i = 0; i < plan->ncols; i++)
            if (plan->cols[i].source == FIELD_KEY) {
                snprintf(err, errlen, "column '%s': reads the message key, which needs --key-format",
                         plan->cols[i].name);
                break;
            }
        return -1;
    }
    kb_decoder_config cfg = {plan, FIELD_VALUE, format, options};
    if (d->value_ops->open(&d->value, &cfg, err, errlen)) return -1;
    if (d->key_ops) {
        kb_decoder_config kcfg = {plan, FIELD_KEY, key_format, options};
        if (d->key_ops->open(&d->key, &kcfg, err, errlen)) {
            d->value_ops->close(d->value);
            return -1;
        }
    }
    rowbuild_init(&d->rb, plan);
    d->marks = kb_xcalloc(plan->ncols, sizeof *d->marks);
    return 0;
}

void kb_rowdecoder_close(kb_rowdecoder *d) {
    if (d->value_ops) d->value_ops->close(d->value);
    if (d->key_ops) d->key_ops->close(d->key);
    if (d->value_ops) rowbuild_free(&d->rb);
    free(d->marks);
    memset(d, 0, sizeof *d);
}

/* One row from the key (if read) and the value bytes (data, n): into out
 * as RowBinary, or into cols when cols is not NULL. */
static int one_row(kb_rowdecoder *d, const kb_msg *m, const void *data, size_t n, buf *out,
                   buf *cols, row_error *e) {
    if (cols ? rowbuild_begin_columns(&d->rb, m, cols, e) : rowbuild_begin(&d->rb, m, out, e)) return -1;
    if (d->key_ops && d->key_ops->decode(d->key, &d->rb, m->key, m->key_len, e)) {
        /* Byte offsets would otherwise be read as offsets in the value. */
        char where[48], reason[sizeof e->reason];
        if (e->byte >= 0) snprintf(where, sizeof where, "in the key at byte %ld: ", e->byte);
        else snprintf(where, sizeof where, "in the key: ");
        /* The end of a long reason gives way to where it was. */
        size_t w = strlen(where), keep = strlen(e->reason);
        if (keep > sizeof reason - 1 - w) keep = sizeof reason - 1 - w;
        memcpy(reason, where, w);
        memcpy(reason + w, e->reason, keep);
        reason[w + keep] = '\0';
        memcpy(e->reason, reason, sizeof reason);
        e->byte = -1;
        goto failed;
    }
    if (d->value_ops->decode(d->value, &d->rb, data, n, e)) goto failed;
    return rowbuild_commit(&d->rb, e);
failed:
    rowbuild_cancel(&d->rb);
    return -1;
}

static int decode(kb_rowdecoder *d, const kb_msg *m, buf *out, buf *cols, row_error *e) {
    if (!d->value_ops->per_line || !m->value)
        return one_row(d, m, m->value, m->value_len, out, cols, e) ? -1 : 1;
    /* As ClickHouse's LineAsString: a final '\n' ends the last line
     * rather than starting an empty one, and an empty value has none. */
    const char *p = m->value, *end = p + m->value_len;
    size_t ncols = d->rb.plan->ncols, start = 0;
    if (cols)
        for (size_t i = 0; i < ncols; i++) d->marks[i] = cols[i].len;
    else
        start = out->len;
    int rows = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if (one_row(d, m, p, (size_t)(stop - p), out, cols, e)) {
            if (e->byte >= 0) e->byte += (long)(p - (const char *)m->value);
            if (cols)
                for (size_t i = 0; i < ncols; i++) cols[i].len = d->marks[i];
            else
                out->len = start;
            return -1;
        }
        rows++;
        p = nl ? nl + 1 : end;
    }
    return rows;
}

int kb_rowdecoder_decode(kb_rowdecoder *d, const kb_msg *m, buf *out, row_error *e) {
    return decode(d, m, out, NULL, e);
}

int kb_rowdecoder_decode_columns(kb_rowdecoder *d, const kb_msg *m, buf *cols, row_error *e) {
    return decode(d, m, NULL, cols, e);
}
