/* One direction of a connection's stream rows joined (rowside.h), as Database.stream
 * (rowstream.c) gathers them row by row. */

#include "rowside.h"

#include <string.h>

#define FIRST_CAP 65536 /* a direction's first buffer: most connections' bytes, and growing
                         * one by doubling copies what it holds (a smaller one shrinks in place) */

int side_init (Side *s)
{
  return (s->starts = PyList_New (0)) && (s->seqs = PyList_New (0)) && (s->ts = PyList_New (0))
      ? 0 : -1;
}

void side_clear (Side *s)
{
  Py_CLEAR (s->data);
  Py_CLEAR (s->starts);
  Py_CLEAR (s->seqs);
  Py_CLEAR (s->ts);
  Py_CLEAR (s->missing);
}

static int append_new (PyObject *list, PyObject *v) /* steals v */
{
  if (v == NULL)
    return -1;
  int rc = PyList_Append (list, v);
  Py_DECREF (v);
  return rc;
}

int side_add (Side *s, PyObject *seq, PyObject *t, const void *b, Py_ssize_t n, long long lost)
{
  if (append_new (s->starts, PyLong_FromSsize_t (s->size)) < 0
      || PyList_Append (s->seqs, seq) < 0 || PyList_Append (s->ts, t) < 0)
    return -1;
  if (lost > 0 && s->missing == NULL)
  {
    Py_ssize_t before = PyList_GET_SIZE (s->seqs) - 1;
    PyObject *zero = PyLong_FromLong (0);
    if (zero == NULL)
      return -1;
    s->missing = PyList_New (before);
    if (s->missing == NULL)
    {
      Py_DECREF (zero);
      return -1;
    }
    for (Py_ssize_t i = 0; i < before; i++)
      PyList_SET_ITEM (s->missing, i, Py_NewRef (zero));
    Py_DECREF (zero);
  }
  if (s->missing != NULL && append_new (s->missing, PyLong_FromLongLong (lost)) < 0)
    return -1;
  if (n == 0)
    return 0;
  if (n > PY_SSIZE_T_MAX - s->size)
  {
    PyErr_NoMemory ();
    return -1;
  }
  if (s->size + n > s->cap)
  {
    Py_ssize_t cap = s->cap ? s->cap : FIRST_CAP;
    while (cap < s->size + n)
      cap = cap > PY_SSIZE_T_MAX / 2 ? s->size + n : cap * 2;
    if (s->data == NULL ? (s->data = PyBytes_FromStringAndSize (NULL, cap)) == NULL
                        : _PyBytes_Resize (&s->data, cap) < 0)
      return -1;  /* _PyBytes_Resize clears s->data when it fails */
    s->cap = cap;
  }
  memcpy (PyBytes_AS_STRING (s->data) + s->size, b, n);
  s->size += n;
  return 0;
}

PyObject *side_done (Side *s)
{
  PyObject *out = NULL;
  if (s->data == NULL)
    s->data = PyBytes_FromStringAndSize (NULL, 0);
  else if (s->size < s->cap)
    _PyBytes_Resize (&s->data, s->size);
  if (s->data != NULL)
    out = PyTuple_Pack (5, s->data, s->starts, s->seqs, s->ts,
                        s->missing ? s->missing : Py_None);
  side_clear (s);
  return out;
}
