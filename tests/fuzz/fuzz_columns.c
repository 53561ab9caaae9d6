/*
 * fuzz_columns - the column-list and type parser (chtype.h).
 *
 * The input is a column list as text.  A list that parses must also
 * build a row plan or be refused with a reason, and every column's type,
 * printed the way ClickHouse prints it, must parse back to a type that
 * prints the same: the canonical spelling is compared with ClickHouse's
 * own as a plain string (RowBinaryWithNamesAndTypes headers), so a
 * spelling that does not round-trip is a bug even when nothing crashes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chtype.h"
#include "rowplan.h"

static void fail_check(const char *what, const char *a, const char *b) {
    fprintf(stderr, "fuzz_columns: %s: '%s' / '%s'\n", what, a, b ? b : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096 || memchr(data, 0, size)) return 0;
    char *text = strndup((const char *)data, size);
    char err[512] = "";
    chcolumns cols = {0};
    if (chcolumns_parse(text, &cols, err, sizeof err)) {
        if (!err[0]) fail_check("a refused list without a reason", text, NULL);
        free(text);
        return 0;
    }
    buf first, second;
    buf_init(&first, 64);
    buf_init(&second, 64);
    for (size_t i = 0; i < cols.n; i++) {
        first.len = second.len = 0;
        chtype_format(cols.v[i].type, &first);
        buf_u8(&first, 0);
        chtype *again = NULL;
        if (chtype_parse((const char *)first.data, &again, err, sizeof err))
            fail_check("the canonical spelling does not parse", (const char *)first.data, err);
        chtype_format(again, &second);
        buf_u8(&second, 0);
        chtype_free(again);
        if (strcmp((const char *)first.data, (const char *)second.data))
            fail_check("the canonical spelling is not a fixed point", (const char *)first.data,
                       (const char *)second.data);
    }
    rowplan plan;
    err[0] = '\0';
    if (rowplan_build(&plan, &cols, err, sizeof err) == 0) rowplan_free(&plan);
    else if (!err[0]) fail_check("a refused plan without a reason", text, NULL);
    buf_free(&first);
    buf_free(&second);
    chcolumns_free(&cols);
    free(text);
    return 0;
}
