#include "formats.h"
#include <stdio.h>
static int stub_open(void **s, const kb_decoder_config *c, char *err, size_t n) { (void)s; (void)c; snprintf(err, n, "msgpack: not yet"); return -1; }
static int stub_decode(void *s, rowbuild *rb, const void *d, size_t n, row_error *e) { (void)s; (void)rb; (void)d; (void)n; (void)e; return -1; }
static void stub_close(void *s) { (void)s; }
const kb_decoder_ops kb_msgpack_decoder = {"msgpack", "", stub_open, stub_decode, stub_close, 0};
const kb_decoder_ops kb_msgpack_positional_decoder = {"msgpack-positional", "", stub_open, stub_decode, stub_close, 0};
