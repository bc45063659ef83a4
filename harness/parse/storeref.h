/* Message bodies found in their connection's flows, stored as references to the capture's
 * events (harness/parse/bodyref.py is the reference, and says why): for _store.c. */

#ifndef STOREREF_H
#define STOREREF_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* One direction of the connection being written: its bytes, and each event's start in them
 * and seq (bodyref.columns' checks passed), or data NULL: none */
typedef struct
{
  PyObject *data; /* bytes */
  long long *starts, *seqs;
  Py_ssize_t n;
  PyObject *coded; /* the flow's Flow.coded (a dict), or NULL */
} RefFlow;

/* f set to cols (data, starts, seqs) or (data, starts, seqs, coded), or to none where cols
 * is None or not what bodyref.columns takes (as it gives None); coded kept where it is a
 * dict. 0, or -1 with an exception set (f none). */
int ref_flow_set (RefFlow *f, PyObject *cols);

void ref_flow_clear (RefFlow *f);

/* bodyref.find(data, starts, seqs, events, body) for f: the reference (new bytes), or
 * Py_None (new reference) where the body stays bytes, or NULL with an exception set. */
PyObject *ref_find (const RefFlow *f, PyObject *events, PyObject *body);

/* bodyref.find_coded(data, starts, seqs, events, body, coded) for f: the coded reference of
 * a body the flow's coded notes (new bytes), else Py_None (a new reference), or NULL with an
 * exception set. */
PyObject *ref_find_coded (const RefFlow *f, PyObject *events, PyObject *body);

#endif
