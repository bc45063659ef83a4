/* The writer of analysis.sqlite (_store.c's Writer), for the files that share it: _store.c
 * (the type, add and the SQL) and storeput.c (put: the builder's loop over a connection's
 * drafts, each made its own Message). */

#ifndef STOREWRITER_H
#define STOREWRITER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3.h>

#include "draftfields.h"
#include "storefacts.h"
#include "storemsg.h"
#include "storeref.h"
#include "storerows.h"

typedef struct
{
  PyObject_HEAD
  sqlite3 *db;
  Rows rows; /* the INSERTs of messages */
  Facts facts; /* the INSERT of a facts row, and the last one's values */
  long long count; /* keys given so far (the last one's) */
  PyTypeObject *draft, *message;
  Py_ssize_t doff[DN], moff[MN]; /* where each field's slot is in an instance */
  PyObject *values, *kinds, *dumps, *seqs;
  PyObject *firsts; /* a list each add appends its draft's first_seq to, or NULL */
  /* the last add's draft values (new references, NULL before) and request key (its value
   * in req_key when small); kept after a failed add (fast is 0), for the next to keep the
   * references it would take again */
  PyObject *v[DN], *req, *kind_text;
  long long req_key;
  int small, fast; /* fast: message() can make the Message from v */
  int in_place; /* put makes a draft's Message of the draft itself (same_layout) */
  RefFlow flow[2]; /* the connection's out and in flows (use_flows): bodies found there are
                    * stored as references (storeref.h) */
} Writer;

/* The kind the last added draft's Message gets (borrowed), or NULL with an exception. */
static inline PyObject *message_kind (Writer *w)
{
  PyObject *kind = PyDict_GetItemWithError (w->kinds, w->kind_text);
  if (kind == NULL && !PyErr_Occurred ())
    PyErr_SetObject (PyExc_KeyError, w->kind_text);
  return kind;
}

/* add(draft) -> key: the draft's row written (or bound, to be written with the rows after
 * it), and the draft given its key. */
PyObject *writer_add (Writer *w, PyObject *d);

/* put(drafts, peer_host, stamps): stamps.put_drafts in C (storeput.c). */
PyObject *writer_put (Writer *w, PyObject *args);

#endif
