/* The events a stream's frames came from, for h2stream.c, as Flow.seqs finds them
 * (Flow._index: the chunk an offset is in, h1_chunk_at), kept as spans of chunk indexes
 * and made into the draft's sorted seqs when the stream closes. */

#include <stdlib.h>
#include "h2frames.h"

int add_events (reader *r, stream *st, Py_ssize_t start, Py_ssize_t end)
{
  if (r->ix->n == 0)
    return 0;
  if (grow ((void **) &st->spans, &st->scap, st->nspans + 1, sizeof (span_t)) < 0)
    return -1;
  Py_ssize_t a = h1_chunk_at (r->ix, start);
  st->spans[st->nspans].a = a;
  st->spans[st->nspans++].b = end - 1 > start ? h1_chunk_at (r->ix, end - 1) : a;
  return 0;
}

static int cmp_ll (const void *x, const void *y)
{
  long long a = *(const long long *) x, b = *(const long long *) y;
  return (a > b) - (a < b);
}

/* events_of for any spans: the seqs gathered as values, sorted, each once, made ints */
static PyObject *sorted_events (const reader *r, const stream *st)
{
  size_t n = 0, k = 0;
  for (size_t i = 0; i < st->nspans; i++)
    n += (size_t) (st->spans[i].b - st->spans[i].a + 1);
  long long small[64]; /* a stream's events, most often */
  long long *v = n <= 64 ? small : malloc (n * sizeof *v);
  if (v == NULL)
    return PyErr_NoMemory ();
  for (size_t i = 0; i < st->nspans; i++)
    for (Py_ssize_t c = st->spans[i].a; c <= st->spans[i].b; c++)
      v[k++] = r->seqs[c];
  /* most often in order already (a stream's frames come in the flow's order, and so do
   * their chunks' seqs): sorted only if not */
  size_t ordered = 1;
  while (ordered < n && v[ordered - 1] <= v[ordered])
    ordered++;
  if (ordered < n)
    qsort (v, n, sizeof *v, cmp_ll);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || v[u - 1] != v[i])
      v[u++] = v[i];
  PyObject *t = PyTuple_New ((Py_ssize_t) u);
  for (size_t i = 0; t != NULL && i < u; i++)
  {
    PyObject *s = PyLong_FromLongLong (v[i]);
    if (s == NULL)
      Py_CLEAR (t);
    else
      PyTuple_SET_ITEM (t, (Py_ssize_t) i, s);
  }
  if (v != small)
    free (v);
  return t;
}

PyObject *events_of (const reader *r, const stream *st)
{
  /* Most often each chunk is in one span, the spans in the flow's order and the seqs
   * increasing: the seqs are then the chunks' own ints from the flow's list, in order (a
   * new int costs ~80 instructions; Flow.seqs gives the list's too). Anything else is
   * sorted as values (sorted_events). */
  if (r->seq_list == NULL || PyList_GET_SIZE (r->seq_list) != r->ix->n)
    return sorted_events (r, st);
  Py_ssize_t n = 0, last = -1;
  for (size_t i = 0; i < st->nspans; i++)
  {
    for (Py_ssize_t c = st->spans[i].a; c <= st->spans[i].b; c++)
    {
      if (last >= 0 && c != last && r->seqs[c] <= r->seqs[last])
        return sorted_events (r, st); /* out of order, or a seq twice */
      n += c != last;
      last = c;
    }
  }
  PyObject *t = PyTuple_New (n);
  Py_ssize_t k = 0;
  last = -1;
  for (size_t i = 0; t != NULL && i < st->nspans; i++)
    for (Py_ssize_t c = st->spans[i].a; c <= st->spans[i].b; c++)
      if (c != last)
      {
        PyObject *s = PyList_GET_ITEM (r->seq_list, c);
        PyTuple_SET_ITEM (t, k++, PyLong_CheckExact (s) ? Py_NewRef (s)
                          : PyLong_FromLongLong (r->seqs[c]));
        if (PyTuple_GET_ITEM (t, k - 1) == NULL)
        {
          Py_CLEAR (t);
          break;
        }
        last = c;
      }
  return t;
}
