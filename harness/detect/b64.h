/* decoders._b64decode in C (b64.c), for expand.c; and the blob around a hit, for found.c. */

#ifndef EGRESS_B64_H
#define EGRESS_B64_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* What decoders._b64decode(s[0, n)) returns: new bytes, or a new reference to None; NULL
   with an exception set (no memory). */
PyObject *b64_decode (const unsigned char *s, Py_ssize_t n);

/* The same in two steps, for bytes that may be thrown away unseen, each character read
   once: the size of what s[0, n) decodes to if its characters are base64, from its length
   and the '=' at its end alone (-1 where those already say b64_decode gives None); then s
   decoded into o's size bytes, and whether every character read was base64 (0: b64_decode
   gives None, and o's bytes are garbage). */
Py_ssize_t b64_size_if_valid (const unsigned char *s, Py_ssize_t n);
__attribute__ ((warn_unused_result))
int b64_decode_valid (const unsigned char *s, Py_ssize_t size, unsigned char *o);

/* How many of s[0, n)'s first bytes are a blob of one alphabet (findings._BLOB): the first
   '+' or '/' (standard) or '-' or '_' (url-safe) names it, and it ends before the first byte
   that is no character of it. */
Py_ssize_t b64_blob (const unsigned char *s, Py_ssize_t n);

#endif
