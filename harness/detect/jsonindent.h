/* An indented JSON document's bytes (jsonindent.c), for _outjson.c's module. */

#ifndef JSONINDENT_H
#define JSONINDENT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

PyObject *json_indented (PyObject *module, PyObject *obj);

#endif
