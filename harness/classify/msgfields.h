/* What Classifier.add_reference (harness/classify/destinations.py) reads of a Message's
 * fields, for _classify.c, on fields of the types Message declares: str tests (asciitext.h),
 * the size's head, an int's value, the host's key. Each function says which shapes it takes; the
 * adder checks them first and leaves any other to the reference.
 *
 * Header only, everything static (one extension includes it). */

#ifndef MSGFIELDS_H
#define MSGFIELDS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../parse/asciitext.h" /* STARTS, ENDS, EQUALS */

/* v is a str or None, what most of Message's fields are declared */
static inline int is_str_or_none (PyObject *v)
{
  return v == Py_None || PyUnicode_CheckExact (v);
}

/* v (a str or None) is a non-empty str: its truth */
static inline int nonempty (PyObject *v)
{
  return v != Py_None && PyUnicode_GET_LENGTH (v) > 0;
}

/* An int or a bool (what isinstance(v, int) is, less int's other subclasses, whose
 * arithmetic may be their own) that fits a long long: 1 with *out, else 0 */
static int plain_int (PyObject *v, long long *out)
{
  if (!PyLong_CheckExact (v) && !PyBool_Check (v))
    return 0;
  int overflow;
  *out = PyLong_AsLongLongAndOverflow (v, &overflow);
  return !overflow; /* an int cannot fail otherwise */
}

/* The reference's head of _size: len(method or "") + len(url or "") + 4 * len(headers) plus
 * each header's name and value; headers a tuple of (str, str) tuples. 1 with *out, or 0
 * for another shape. */
static int head_size (PyObject *method, PyObject *url, PyObject *headers, long long *out)
{
  if (!PyTuple_CheckExact (headers))
    return 0;
  Py_ssize_t n = PyTuple_GET_SIZE (headers);
  long long size = 4 * (long long) n;
  if (method != Py_None)
    size += PyUnicode_GET_LENGTH (method);
  if (url != Py_None)
    size += PyUnicode_GET_LENGTH (url);
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *h = PyTuple_GET_ITEM (headers, i);
    if (!PyTuple_CheckExact (h) || PyTuple_GET_SIZE (h) != 2)
      return 0;
    PyObject *name = PyTuple_GET_ITEM (h, 0), *value = PyTuple_GET_ITEM (h, 1);
    if (!PyUnicode_CheckExact (name) || !PyUnicode_CheckExact (value))
      return 0;
    size += PyUnicode_GET_LENGTH (name) + PyUnicode_GET_LENGTH (value);
  }
  *out = size;
  return 1;
}

/* host.lower().rstrip(".") of a non-empty str (a new reference; NULL on error): the host
 * itself when it is ASCII with no capital and no final dot, as almost every host is */
static PyObject *host_key (PyObject *host)
{
  Py_ssize_t n = PyUnicode_GET_LENGTH (host);
  if (PyUnicode_IS_ASCII (host))
  {
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA (host);
    Py_ssize_t i = 0;
    while (i < n && !(s[i] >= 'A' && s[i] <= 'Z'))
      i++;
    if (i == n && s[n - 1] != '.')
      return Py_NewRef (host);
  }
  PyObject *lower = PyObject_CallMethod (host, "lower", NULL);
  if (lower == NULL)
    return NULL;
  PyObject *key = PyObject_CallMethod (lower, "rstrip", "s", ".");
  Py_DECREF (lower);
  return key;
}

#endif
