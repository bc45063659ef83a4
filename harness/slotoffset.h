/* Where a slots class keeps a field: for C that reads the fields of frozen dataclasses
 * (harness/slots.py makes them) at their offsets, past the descriptors. Used by the
 * classifier's Adder and by findings.json's writer and numbering. */
#ifndef HARNESS_SLOTOFFSET_H
#define HARNESS_SLOTOFFSET_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* Where the slot of field name is in an instance of cls: 0, or -1 with a TypeError */
static inline int slot_offset (PyTypeObject *cls, const char *name, Py_ssize_t *off)
{
  PyObject *descr = PyObject_GetAttrString ((PyObject *) cls, name);
  PyMemberDef *m = descr != NULL && Py_IS_TYPE (descr, &PyMemberDescr_Type)
    ? ((PyMemberDescrObject *) descr)->d_member : NULL;
  Py_XDECREF (descr);
  if (m == NULL || m->type != T_OBJECT_EX)
  {
    PyErr_Clear ();
    PyErr_Format (PyExc_TypeError, "%s.%s is not an object slot", cls->tp_name, name);
    return -1;
  }
  *off = m->offset;
  return 0;
}

#endif
