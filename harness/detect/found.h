/* One message's findings in C (found.c), for find() and the batch loop (findbatch.c). */

#ifndef EGRESS_FOUND_H
#define EGRESS_FOUND_H

#include "expand.h"

/* What a finding takes of its message (borrowed): findings.Found's id, host, phase and t,
   and the message's part of findings.is_control. */
typedef struct {
  PyObject *id, *host, *phase, *t;
  int control;
} Msg;

/* cx made ready from hooks for any number of find_message calls, plan and keep checked
   against the Scanner and found, seen a set or None (see found.c). 0 with an exception set. */
int find_ready (Ctx *cx, PyObject *hooks, PyObject *plan, PyObject *keep, PyObject *found,
    PyObject *seen);

/* find() on one message's roots (made, or where made is NULL the list roots) with cx (made
   ready; walk_reset after, walk_free after the last): OK, FALLBACK_MSG (nothing appended or
   added) or ERROR. */
int find_message (Ctx *cx, PyObject *roots, const Roots *made, PyObject *plan,
    Py_ssize_t excerpt, const Msg *msg, PyObject *found, PyObject *seen, PyObject *keep);

PyObject *detect_find_batch (PyObject *self, PyObject *args);

/* excerpt(data, start, end, excerpt) -> str: what found.c renders (excerpt.c), for the tests */
PyObject *detect_excerpt (PyObject *self, PyObject *args);

#endif
