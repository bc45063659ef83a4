/* A finding's excerpt rendered from the bytes it was found in (excerpt.c), for found.c. */

#ifndef EXCERPT_H
#define EXCERPT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* findings.excerpt(data, start, end) of d[start, end) of n bytes (0 <= start <= end <= n),
   with excerpt bytes on each side at most (findings.EXCERPT): a new str, or NULL with an
   exception */
PyObject *render_excerpt (const char *d, Py_ssize_t n, Py_ssize_t start, Py_ssize_t end,
                          Py_ssize_t excerpt);

#endif
