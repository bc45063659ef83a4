/* One direction's stream rows joined, as streamrows.Side holds them, for Database.stream
 * (rowstream.c): the bytes of all in order, and each row's start in them, seq, time and
 * bytes lost to truncation. */

#ifndef HARNESS_CAPTURE_ROWSIDE_H
#define HARNESS_CAPTURE_ROWSIDE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The rows' columns are kept in C arrays and made lists once, when the side is done: a
 * list grown by PyList_Append costs ~45 instructions a row more than one filled in place,
 * and a row's time and start are Python objects only once. */
typedef struct
{
  PyObject *data;  /* bytes, `cap` long, `size` of them used; NULL before the first byte */
  Py_ssize_t size, cap;
  Py_ssize_t n, room;  /* rows, and the room the arrays have */
  Py_ssize_t *start;
  PyObject **seq;      /* each row's seq (owned) */
  double *t;
  long long *lost;
  int lossy;           /* whether a row lost bytes (missing is None otherwise) */
} Side;

void side_clear (Side *s);

/* A row's n bytes (at b) onto the side: seq is the row's (a new reference, stolen, NULL
 * with an exception set), t its time, lost what truncation lost of its bytes; 0, or -1
 * with an exception set. */
int side_add (Side *s, PyObject *seq, double t, const void *b, Py_ssize_t n, long long lost);

/* The side as (data, starts, seqs, ts, missing or None), NULL with an exception set;
 * cleared either way. */
PyObject *side_done (Side *s);

#endif
