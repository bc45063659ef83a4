/* What _hpack.c (HPACK decoding over libnghttp2) shares with h2frames.c (the HTTP/2 frame
 * reader that feeds it header blocks without a round trip through Python). */

#ifndef HARNESS_HPACK_H
#define HARNESS_HPACK_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <nghttp2/nghttp2.h>

/* One direction's decoding context: libnghttp2's inflater and the limits it is held to. */
typedef struct
{
  nghttp2_hd_inflater *inf;
  size_t max_table;
  Py_ssize_t max_list;
} hd_ctx;

/* Called with each decoded field in order: 0, or -1 with a Python exception set. */
typedef int (*hd_emit) (void *arg, const nghttp2_nv *nv);

/* 0, or -1 with MemoryError set (then c->inf is NULL). */
int hd_init (hd_ctx *c, size_t max_table, Py_ssize_t max_list);
void hd_free (hd_ctx *c);

/* Decodes one header block: 0 if it decoded; 1 if it is malformed or over a limit (msg
 * says why, and the context must not be used again); -1 with a Python exception set. */
int hd_decode (hd_ctx *c, const uint8_t *p, size_t len, hd_emit emit, void *arg, char *msg,
    size_t size);

/* _hpack.read_frames (h2frames.c) */
PyObject *h2_read_frames (PyObject *module, PyObject *args);

#endif
