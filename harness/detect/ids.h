/* The Ids type (ids.c): the message ids the batch loop has seen, of which len() says how
 * many differ, as a set of them would. */

#ifndef EGRESS_IDS_H
#define EGRESS_IDS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct Ids Ids;

extern PyTypeObject IdsType;

/* id added: 1 when it had not come before, 0 when it had, -1 with an exception set. */
int ids_add (Ids *ids, PyObject *id);

/* The type made ready and added to module as "Ids". 0 with an exception set. */
int ids_ready (PyObject *module);

#endif
