/* Findings numbered in the store's order (numbering.c), for _outjson.c's module. */

#ifndef NUMBERING_H
#define NUMBERING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

PyObject *numbered_in_order (PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *renumbered_all (PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
