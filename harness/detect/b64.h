/* decoders._b64decode in C (b64.c), for expand.c. */

#ifndef EGRESS_B64_H
#define EGRESS_B64_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* What decoders._b64decode(s[0, n)) returns: new bytes, or a new reference to None; NULL
   with an exception set (no memory). */
PyObject *b64_decode (const unsigned char *s, Py_ssize_t n);

#endif
