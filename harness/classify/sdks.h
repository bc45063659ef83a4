/* verified_sdks and sdks_at_ids, the module functions _classify.c registers (sdks.c). */

#ifndef SDKS_H
#define SDKS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* the module's interned constants; -1 with an exception set */
int sdks_init (void);

/* verified_sdks(findings, Finding, sensors_crc, sensors_wire, mixpanel) */
PyObject *verified_sdks (PyObject *self, PyObject *args);

/* sdks_at_ids(lists, sdk_of) */
PyObject *sdks_at_ids (PyObject *self, PyObject *args);

#endif
