/* One direction of a connection's stream rows joined (rowside.h), as Database.stream
 * (rowstream.c) gathers them row by row. */

#include "rowside.h"

#include <string.h>

#define FIRST_CAP 65536 /* a direction's first buffer: most connections' bytes, and growing
                         * one by doubling copies what it holds (a smaller one shrinks in place) */
#define FIRST_ROWS 64   /* the arrays' first room, doubled as it fills */

void side_clear (Side *s)
{
  Py_CLEAR (s->data);
  if (s->seq != NULL)
    for (Py_ssize_t i = 0; i < s->n; i++)
      Py_DECREF (s->seq[i]);
  PyMem_Free (s->start);
  PyMem_Free (s->seq);
  PyMem_Free (s->t);
  PyMem_Free (s->lost);
  memset (s, 0, sizeof *s);
}

/* Room for one row more in the arrays: 0, or -1 with an exception set. */
static int side_room (Side *s)
{
  if (s->n < s->room)
    return 0;
  Py_ssize_t room = s->room ? s->room * 2 : FIRST_ROWS;
  if (room > PY_SSIZE_T_MAX / (Py_ssize_t) sizeof (long long))
  {
    PyErr_NoMemory ();
    return -1;
  }
  Py_ssize_t *start = PyMem_Realloc (s->start, room * sizeof *start);
  if (start != NULL)
    s->start = start;
  PyObject **seq = start ? PyMem_Realloc (s->seq, room * sizeof *seq) : NULL;
  if (seq != NULL)
    s->seq = seq;
  double *t = seq ? PyMem_Realloc (s->t, room * sizeof *t) : NULL;
  if (t != NULL)
    s->t = t;
  long long *lost = t ? PyMem_Realloc (s->lost, room * sizeof *lost) : NULL;
  if (lost == NULL)
  {
    PyErr_NoMemory ();
    return -1;
  }
  s->lost = lost;
  s->room = room;
  return 0;
}

int side_add (Side *s, PyObject *seq, double t, const void *b, Py_ssize_t n, long long lost)
{
  if (seq == NULL)
    return -1;
  if (side_room (s) < 0)
  {
    Py_DECREF (seq);
    return -1;
  }
  Py_ssize_t i = s->n++;
  s->start[i] = s->size;
  s->seq[i] = seq;
  s->t[i] = t;
  s->lost[i] = lost;
  s->lossy |= lost > 0;
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
  PyObject *out = NULL, *starts = NULL, *seqs = NULL, *ts = NULL, *missing = NULL;
  Py_ssize_t n = s->n;
  if (s->data == NULL)
    s->data = PyBytes_FromStringAndSize (NULL, 0);
  else if (s->size < s->cap)
    _PyBytes_Resize (&s->data, s->size);
  if (s->data == NULL || !(starts = PyList_New (n)) || !(seqs = PyList_New (n))
      || !(ts = PyList_New (n)) || !(missing = s->lossy ? PyList_New (n) : Py_NewRef (Py_None)))
    goto done;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *start = PyLong_FromSsize_t (s->start[i]), *t = PyFloat_FromDouble (s->t[i]);
    PyObject *lost = s->lossy ? PyLong_FromLongLong (s->lost[i]) : NULL;
    if (start != NULL)
      PyList_SET_ITEM (starts, i, start);
    if (t != NULL)
      PyList_SET_ITEM (ts, i, t);
    if (lost != NULL)
      PyList_SET_ITEM (missing, i, lost);
    if (start == NULL || t == NULL || (s->lossy && lost == NULL))
      goto done;  /* a list's items not set yet are NULL, which its dealloc skips */
  }
  for (Py_ssize_t i = 0; i < n; i++)
    PyList_SET_ITEM (seqs, i, s->seq[i]);  /* the list takes the references */
  s->n = 0;
  out = PyTuple_Pack (5, s->data, starts, seqs, ts, missing);
done:
  Py_XDECREF (starts);
  Py_XDECREF (seqs);
  Py_XDECREF (ts);
  Py_XDECREF (missing);
  side_clear (s);
  return out;
}
