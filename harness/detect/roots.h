/* A message's roots in C (roots.c), for findings.root_pairs. */

#ifndef EGRESS_ROOTS_H
#define EGRESS_ROOTS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* roots() with its head in parts (str), joined: a new list, None (a new reference) for what
   Python must do, NULL with an exception set. */
PyObject *roots_of (PyObject *url, PyObject *const *head, int parts, int with_path,
    PyObject *headers, PyObject *body);

PyObject *detect_roots (PyObject *self, PyObject *args);

#endif
