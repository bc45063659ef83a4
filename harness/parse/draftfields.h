/* Draft's fields (harness/parse/draft.py) for the C that reads and writes its slots: the
 * parsers that make Drafts (h1draft.c, in _http1 and _hpack) and the store writer that
 * stores them (_store.c). One list, so a new field of Draft is one entry here (and whatever
 * the C does with it); each extension checks it against Draft's __slots__ when it is set
 * up (slot_offsets), so the list and the class cannot drift apart unnoticed.
 *
 * Header only, everything static: it is compiled into three extensions, two of them built
 * with hidden visibility, and adds no symbol to any. */

#ifndef DRAFTFIELDS_H
#define DRAFTFIELDS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* Draft's fields, in its order: X (INDEX, name) for each */
#define DRAFT_FIELDS(X)                                                                       \
  X (KIND, kind) X (T, t) X (DIRECTION, direction) X (SOURCE, source)                         \
  X (FIRST_SEQ, first_seq) X (CONN, conn) X (PHASE, phase) X (PROTOCOL, protocol)             \
  X (HOST, host) X (IP, ip) X (PORT, port) X (SNI, sni) X (TLS_VERSION, tls_version)          \
  X (CIPHER, cipher) X (METHOD, method) X (URL, url) X (STATUS, status) X (HEADERS, headers)  \
  X (BODY, body) X (BODY_LEN_WIRE, body_len_wire) X (EVENTS, events) X (REQUEST, request)     \
  X (SDK, sdk) X (FRAMES, frames) X (META, meta) X (NOTES, notes) X (KEY, key)

/* D_KIND ... D_KEY: a field's index in DRAFT (and in the arrays of values or slot offsets
 * that the C keeps per field); DN of them */
#define DRAFT_INDEX(index, name) D_##index,
enum { DRAFT_FIELDS (DRAFT_INDEX) DN };
#undef DRAFT_INDEX

/* The fields' names, by index (a static const in a header: no unused warning where a file
 * does not use it) */
#define DRAFT_NAME(index, name) #name,
static const char *const DRAFT[DN] = { DRAFT_FIELDS (DRAFT_NAME) };
#undef DRAFT_NAME

/* Where each of a slots class's fields is in an instance (off[i] for names[i]), checking
 * that the class has exactly these fields in this order, each a writable object slot (the
 * C reads and writes them at these offsets, past the descriptors). list says where the
 * names come from, for the error. 0, or -1 with a TypeError naming the first field that
 * differs. _store.c checks Message (storemsg.h's list) with it too. */
static inline int slot_offsets (PyTypeObject *cls, const char *const *names, int n,
                                Py_ssize_t *off, const char *list)
{
  PyObject *slots = PyObject_GetAttrString ((PyObject *) cls, "__slots__");
  if (slots == NULL || !PyTuple_Check (slots))
  {
    Py_XDECREF (slots);
    PyErr_Clear ();
    PyErr_Format (PyExc_TypeError, "%s's fields are not the ones %s lists: it has no"
                  " __slots__ tuple", cls->tp_name, list);
    return -1;
  }
  Py_ssize_t have = PyTuple_GET_SIZE (slots);
  int ok = 1;
  for (int i = 0; ok && (i < n || i < have); i++)
  {
    PyObject *name = i < have ? PyTuple_GET_ITEM (slots, i) : NULL;
    PyObject *descr = NULL;
    PyMemberDef *m = NULL;
    if (name == NULL)
      PyErr_Format (PyExc_TypeError, "%s's fields are not the ones %s lists: it has no %s"
                    " (field %d)", cls->tp_name, list, names[i], i);
    else if (i >= n)
      PyErr_Format (PyExc_TypeError, "%s's fields are not the ones %s lists: it has %R"
                    " (field %d) too", cls->tp_name, list, name, i);
    else if (!PyUnicode_Check (name) || PyUnicode_CompareWithASCIIString (name, names[i]))
      PyErr_Format (PyExc_TypeError, "%s's fields are not the ones %s lists: its field %d"
                    " is %R, not %s", cls->tp_name, list, i, name, names[i]);
    else
    {
      descr = PyObject_GetAttr ((PyObject *) cls, name);
      m = descr != NULL && Py_IS_TYPE (descr, &PyMemberDescr_Type)
        ? ((PyMemberDescrObject *) descr)->d_member : NULL;
      if (m == NULL || m->type != T_OBJECT_EX || (m->flags & READONLY))
      {
        PyErr_Clear ();
        PyErr_Format (PyExc_TypeError, "%s's fields are not the ones %s lists: its %s is"
                      " not a writable object slot", cls->tp_name, list, names[i]);
        m = NULL;
      }
    }
    ok = m != NULL; /* and so i < n */
    if (ok)
      off[i] = m->offset;
    Py_XDECREF (descr); /* the class holds it */
  }
  Py_DECREF (slots);
  return ok ? 0 : -1;
}

#endif
