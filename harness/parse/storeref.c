/* Bodies found in their flows: bodyref.find in C; see storeref.h. */

#define _GNU_SOURCE /* memmem */
#include "storeref.h"

#include <string.h>

/* bodyref's MIN_REF, PROBE and PER_SPAN, and SPAN's size */
#define MIN_REF 64
#define PROBE 16
#define PER_SPAN 64
#define SPAN 16
#define LIMIT 0xffffffffLL

void ref_flow_clear (RefFlow *f)
{
  Py_CLEAR (f->data);
  Py_CLEAR (f->coded);
  PyMem_Free (f->starts);
  PyMem_Free (f->seqs);
  f->starts = f->seqs = NULL;
  f->n = 0;
}

/* A list of n ints of 64 bits into out (PyMem): 1, 0 where it is not one, -1 with an
 * exception set */
static int ints (PyObject *list, Py_ssize_t n, long long **out)
{
  if (!PyList_CheckExact (list) || PyList_GET_SIZE (list) != n)
    return 0;
  long long *a = PyMem_Malloc ((size_t) (n ? n : 1) * sizeof *a);
  if (a == NULL)
    return PyErr_NoMemory (), -1;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *v = PyList_GET_ITEM (list, i);
    int over = 0;
    a[i] = PyLong_CheckExact (v) ? PyLong_AsLongLongAndOverflow (v, &over) : 0;
    if (!PyLong_CheckExact (v) || over || (a[i] == -1 && PyErr_Occurred ()))
    {
      PyMem_Free (a);
      return PyErr_Occurred () ? -1 : 0;
    }
  }
  *out = a;
  return 1;
}

int ref_flow_set (RefFlow *f, PyObject *cols)
{
  ref_flow_clear (f);
  if (cols == Py_None || !PyTuple_CheckExact (cols)
      || (PyTuple_GET_SIZE (cols) != 3 && PyTuple_GET_SIZE (cols) != 4))
    return 0;
  PyObject *data = PyTuple_GET_ITEM (cols, 0), *starts = PyTuple_GET_ITEM (cols, 1);
  if (!PyBytes_CheckExact (data) || !PyList_CheckExact (starts))
    return 0;
  Py_ssize_t n = PyList_GET_SIZE (starts);
  int got = ints (starts, n, &f->starts);
  if (got == 1 && (got = ints (PyTuple_GET_ITEM (cols, 2), n, &f->seqs)) != 1)
  {
    PyMem_Free (f->starts);
    f->starts = NULL;
  }
  if (got != 1)
    return got;
  /* bodyref.columns: starts from 0, never falling, within the data */
  int ok = n == 0 || f->starts[0] == 0;
  for (Py_ssize_t i = 1; ok && i < n; i++)
    ok = f->starts[i] >= f->starts[i - 1];
  ok = ok && (n == 0 || f->starts[n - 1] <= PyBytes_GET_SIZE (data));
  if (!ok)
  {
    ref_flow_clear (f);
    return 0;
  }
  f->data = Py_NewRef (data);
  f->n = n;
  PyObject *coded = PyTuple_GET_SIZE (cols) == 4 ? PyTuple_GET_ITEM (cols, 3) : NULL;
  f->coded = coded != NULL && PyDict_CheckExact (coded) ? Py_NewRef (coded) : NULL;
  return 0;
}

/* bisect.bisect_left and bisect_right */
static Py_ssize_t left (const long long *a, Py_ssize_t n, long long x)
{
  Py_ssize_t lo = 0, hi = n;
  while (lo < hi)
  {
    Py_ssize_t mid = (lo + hi) / 2;
    if (a[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static Py_ssize_t right (const long long *a, Py_ssize_t n, long long x)
{
  Py_ssize_t lo = 0, hi = n;
  while (lo < hi)
  {
    Py_ssize_t mid = (lo + hi) / 2;
    if (x < a[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* How many bytes a and b share from their start, at most n (bodyref._common): memcmp over
 * them all first (a body usually goes on to its end), then 64 bytes at a time to the
 * difference (a byte at a time over 17 MB of bodies was 85 M instructions, 4% of the 20 MB
 * benchmark's analysis) */
static long long common (const char *a, const char *b, long long n)
{
  if (memcmp (a, b, (size_t) n) == 0)
    return n;
  long long i = 0;
  while (i + 64 <= n && memcmp (a + i, b + i, 64) == 0)
    i += 64;
  while (i < n && a[i] == b[i])
    i++;
  return i;
}

static void put64 (unsigned char *p, unsigned long long v, int bytes)
{
  for (int i = 0; i < bytes; i++)
    p[i] = (unsigned char) (v >> (8 * i));
}

/* An int of 64 bits, or 0 with *ok 0 */
static long long seq_of (PyObject *v, int *ok)
{
  int over = 0;
  long long x = PyLong_CheckExact (v) ? PyLong_AsLongLongAndOverflow (v, &over) : 0;
  *ok = PyLong_CheckExact (v) && !over && !(x == -1 && PyErr_Occurred ());
  PyErr_Clear ();
  return x;
}

/* ref_find of the body s[0, size), the reference written after head[0, head_n) */
static PyObject *find (const RefFlow *f, PyObject *events, const char *s, long long size,
                       const char *head, Py_ssize_t head_n)
{
  if (f->data == NULL || size < MIN_REF || !PyTuple_CheckExact (events)
      || PyTuple_GET_SIZE (events) == 0)
    Py_RETURN_NONE;
  int ok1, ok2;
  long long first = seq_of (PyTuple_GET_ITEM (events, 0), &ok1);
  long long last = seq_of (PyTuple_GET_ITEM (events, PyTuple_GET_SIZE (events) - 1), &ok2);
  Py_ssize_t n = f->n;
  if (!ok1 || !ok2)
    Py_RETURN_NONE;
  const long long *starts = f->starts, *seqs = f->seqs;
  Py_ssize_t a = left (seqs, n, first), b = left (seqs, n, last);
  if (a >= n || b >= n || seqs[a] != first || seqs[b] != last || b < a || seqs[a] < 0)
    Py_RETURN_NONE;
  const char *data = PyBytes_AS_STRING (f->data);
  long long len = PyBytes_GET_SIZE (f->data);
  long long lo = starts[a], hi = b + 1 < n ? starts[b + 1] : len;
  long long most = 1 + size / PER_SPAN, count = 0;
  /* the pieces: where each is in the data and its length, two a piece */
  long long stack[32], *piece = most <= 16 ? stack : PyMem_Malloc ((size_t) most * 2 * 8);
  if (piece == NULL)
    return PyErr_NoMemory ();
  PyObject *out = NULL;
  long long at = 0, q = lo;
  while (at < size)
  {
    if (count == most || q > hi)
      goto none;
    long long probe = size - at < PROBE ? size - at : PROBE;
    const char *hit = memmem (data + q, (size_t) (hi - q), s + at, (size_t) probe);
    if (hit == NULL)
      goto none;
    long long p = hit - data, limit = size - at < hi - p ? size - at : hi - p;
    long long m = probe + common (s + at + probe, data + p + probe, limit - probe);
    piece[2 * count] = p;
    piece[2 * count + 1] = m;
    count++;
    at += m;
    q = p + m;
  }
  /* each piece as the events' stretches it covers: count them, then write them */
  for (int pass = 0; pass < 2; pass++)
  {
    Py_ssize_t spans = 0;
    unsigned char *w = pass ? (unsigned char *) PyBytes_AS_STRING (out) + head_n : NULL;
    for (long long k = 0; k < count; k++)
    {
      long long p = piece[2 * k], m = piece[2 * k + 1];
      Py_ssize_t i = right (starts, n, p) - 1;
      while (m)
      {
        long long end = i + 1 < n ? starts[i + 1] : len;
        long long take = m < end - p ? m : end - p;
        if (take)
        {
          if (end - starts[i] > LIMIT || seqs[i] < 0) /* a span's seq: never negative */
            goto none;
          if (w != NULL)
          {
            put64 (w, (unsigned long long) seqs[i], 8);
            put64 (w + 8, (unsigned long long) (p - starts[i]), 4);
            put64 (w + 12, (unsigned long long) take, 4);
            w += SPAN;
          }
          spans++;
          p += take;
          m -= take;
        }
        i++;
      }
    }
    if (!pass && (out = PyBytes_FromStringAndSize (NULL, head_n + spans * SPAN)) == NULL)
      goto done;
    if (!pass)
      memcpy (PyBytes_AS_STRING (out), head, (size_t) head_n);
  }
  goto done;
none:
  Py_CLEAR (out);
  out = Py_NewRef (Py_None);
done:
  if (piece != stack)
    PyMem_Free (piece);
  return out;
}

PyObject *ref_find (const RefFlow *f, PyObject *events, PyObject *body)
{
  if (!PyBytes_CheckExact (body))
    Py_RETURN_NONE;
  return find (f, events, PyBytes_AS_STRING (body), PyBytes_GET_SIZE (body), NULL, 0);
}

PyObject *ref_find_coded (const RefFlow *f, PyObject *events, PyObject *body)
{
  if (f->coded == NULL || PyDict_GET_SIZE (f->coded) == 0)
    Py_RETURN_NONE;
  PyObject *key = PyLong_FromVoidPtr (body);
  if (key == NULL)
    return NULL;
  PyObject *got = PyDict_GetItemWithError (f->coded, key); /* borrowed */
  Py_DECREF (key);
  if (got == NULL && PyErr_Occurred ())
    return NULL;
  if (got == NULL || !PyTuple_CheckExact (got) || PyTuple_GET_SIZE (got) != 4
      || PyTuple_GET_ITEM (got, 0) != body)
    Py_RETURN_NONE;
  PyObject *wire = PyTuple_GET_ITEM (got, 1), *codings = PyTuple_GET_ITEM (got, 2);
  PyObject *budget = PyTuple_GET_ITEM (got, 3);
  if (!PyBytes_CheckExact (wire) || !PyUnicode_CheckExact (codings)
      || !PyUnicode_IS_ASCII (codings) || PyUnicode_GET_LENGTH (codings) == 0
      || !PyLong_CheckExact (budget))
    Py_RETURN_NONE;
  unsigned long long b = PyLong_AsUnsignedLongLong (budget); /* 0 to 2**64 - 1 */
  if (b == (unsigned long long) -1 && PyErr_Occurred ())
  {
    PyErr_Clear ();
    Py_RETURN_NONE;
  }
  Py_ssize_t n = PyUnicode_GET_LENGTH (codings), head_n = 16 + n;
  /* bodyref.CODED: -n and the budget, then the codings' text */
  char stack[64], *head = head_n <= (Py_ssize_t) sizeof stack ? stack : PyMem_Malloc ((size_t) head_n);
  if (head == NULL)
    return PyErr_NoMemory ();
  put64 ((unsigned char *) head, (unsigned long long) -(long long) n, 8);
  put64 ((unsigned char *) head + 8, b, 8);
  memcpy (head + 16, PyUnicode_DATA (codings), (size_t) n);
  PyObject *out = find (f, events, PyBytes_AS_STRING (wire), PyBytes_GET_SIZE (wire), head,
                        head_n);
  if (head != stack)
    PyMem_Free (head);
  return out;
}
