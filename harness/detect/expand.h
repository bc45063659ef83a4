/* One message's decoding in C (expand.c): decoders.py's Decoder.expand and _decode over all
 * of a message's roots, scanning each layer through the caller's matcher. */

#ifndef EGRESS_EXPAND_H
#define EGRESS_EXPAND_H

#include "jsonwalk.h"

int detect_spans (PyObject *hot, Span **out, Py_ssize_t *count);
PyObject *detect_expand (PyObject *self, PyObject *args);

#endif
