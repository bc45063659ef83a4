/* A message's roots in C (roots.c), for findings.root_pairs. */

#ifndef EGRESS_ROOTS_H
#define EGRESS_ROOTS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

PyObject *detect_roots (PyObject *self, PyObject *args);

#endif
