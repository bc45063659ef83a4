/* One direction's stream rows joined, as streamrows.Side holds them, for Database.stream
 * (rowstream.c): the bytes of all in order, and each row's start in them, seq, time and
 * bytes lost to truncation. */

#ifndef HARNESS_CAPTURE_ROWSIDE_H
#define HARNESS_CAPTURE_ROWSIDE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct
{
  PyObject *data;  /* bytes, `cap` long, `size` of them used; NULL before the first byte */
  Py_ssize_t size, cap;
  PyObject *starts, *seqs, *ts;
  PyObject *missing;  /* NULL until a row has lost some bytes: None then */
} Side;

/* 0, or -1 with an exception set (side_clear() frees what was made). */
int side_init (Side *s);
void side_clear (Side *s);

/* A row's n bytes (at b) onto the side: seq and t are the row's (borrowed), lost what
 * truncation lost of them; 0, or -1 with an exception set. */
int side_add (Side *s, PyObject *seq, PyObject *t, const void *b, Py_ssize_t n, long long lost);

/* The side as (data, starts, seqs, ts, missing or None), NULL with an exception set;
 * cleared either way. */
PyObject *side_done (Side *s);

#endif
