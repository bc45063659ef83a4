/* The detector's multi-pattern scan (matcher.Matcher) with Hyperscan's C API: a Scanner's
 * (scannertype.c: its database compiled or loaded) hits in a buffer, and a layer's scan.
 *
 * scanner_hits gives a buffer's (id, start, end) hits, in the order Hyperscan reports them;
 * scanner_matches makes them make(tags[id], start, end) objects (Scanner.scan's list).
 *
 * scan_layer is a layer's scan for expand.c: through the same Scanner without a Python call
 * (its hits, from which match objects or findings are made later), or through any other scan
 * callable, with the distinct pattern bytes matched (what the JSON walk keeps leaves for).
 *
 * The GIL stays held through hs_scan: the scratch is the Scanner's own, and no other thread
 * may use it meanwhile. The match callback only records (id, start, end); match objects are
 * made after hs_scan returns, so no Python code runs inside Hyperscan.
 */

#include "scanner.h"

#include <limits.h>
#include <string.h>

static int on_match (unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
  Hits *h = ctx;
  (void) flags;
  if (h->n == h->cap)
  {
    Py_ssize_t cap = h->cap * 2;
    Hit *v = h->v == h->small ? PyMem_Malloc (sizeof (Hit) * (size_t) cap)
                              : PyMem_Realloc (h->v, sizeof (Hit) * (size_t) cap);
    if (v == NULL)
    {
      h->nomem = 1;
      return 1; /* stop the scan */
    }
    if (h->v == h->small)
      memcpy (v, h->small, sizeof h->small);
    h->v = v;
    h->cap = cap;
  }
  h->v[h->n++] = (Hit) { id, (Py_ssize_t) from, (Py_ssize_t) to };
  return 0;
}

void hits_none (Hits *hits)
{
  hits->v = hits->small;
  hits->n = 0;
  hits->cap = sizeof hits->small / sizeof hits->small[0];
  hits->nomem = 0;
}

void hits_free (Hits *hits)
{
  if (hits->v != hits->small)
    PyMem_Free (hits->v);
  hits->v = hits->small;
  hits->n = 0;
  hits->cap = sizeof hits->small / sizeof hits->small[0];
}

int scanner_hits (Scanner *sc, const char *d, Py_ssize_t n, Hits *hits)
{
  hits->v = hits->small;
  hits->n = 0;
  hits->cap = sizeof hits->small / sizeof hits->small[0];
  hits->nomem = 0;
  if (sc->db == NULL || n == 0)
    return 1;
  if ((unsigned long long) n > UINT_MAX)
  {
    PyErr_SetString (PyExc_OverflowError, "Hyperscan scans at most 4 GiB at a time");
    return 0;
  }
  hs_error_t err = hs_scan (sc->db, d, (unsigned int) n, 0, sc->scratch, on_match, hits);
  if (hits->nomem)
  {
    hits_free (hits);
    PyErr_NoMemory ();
    return 0;
  }
  if (err != HS_SUCCESS)
  {
    hits_free (hits);
    PyErr_Format (PyExc_RuntimeError, "hs_scan failed (%d)", (int) err);
    return 0;
  }
  return 1;
}

PyObject *scanner_matches (Scanner *sc, const Hits *hits)
{
  PyObject *out = PyList_New (hits->n);
  if (out == NULL)
    return NULL;
  for (Py_ssize_t i = 0; i < hits->n; i++)
  {
    PyObject *args[3] = { PyTuple_GET_ITEM (sc->tags, hits->v[i].id),
      PyLong_FromSsize_t (hits->v[i].start), PyLong_FromSsize_t (hits->v[i].end) };
    PyObject *m = args[1] && args[2] ? PyObject_Vectorcall (sc->make, args, 3, NULL) : NULL;
    Py_XDECREF (args[1]);
    Py_XDECREF (args[2]);
    if (m == NULL)
    {
      Py_DECREF (out);
      return NULL;
    }
    PyList_SET_ITEM (out, i, m);
  }
  return out;
}

Span scanner_value (Scanner *sc, unsigned int id)
{
  PyObject *v = PyTuple_GET_ITEM (sc->values, id);
  return (Span) { PyBytes_AS_STRING (v), PyBytes_GET_SIZE (v) };
}

/* ---- a layer's scan, for expand.c ----------------------------------------------- */

/* Adds v to s[0, *k) unless it is there (a set of a few patterns). */
static void add_distinct (Span *s, Py_ssize_t *k, Span v)
{
  for (Py_ssize_t j = 0; j < *k; j++)
    if (s[j].n == v.n && memcmp (s[j].p, v.p, (size_t) v.n) == 0)
      return;
  s[(*k)++] = v;
}

/* The distinct pattern bytes of a layer's matches, as spans into the patterns (which the
   matches keep alive). 0 with an exception set. */
static int hot_of (PyObject *hits, Span **spans, Py_ssize_t *count)
{
  Py_ssize_t n = PyList_GET_SIZE (hits), k = 0;
  Span *s = PyMem_Malloc (sizeof (Span) * (size_t) (n ? n : 1));
  if (s == NULL)
  {
    PyErr_NoMemory ();
    return 0;
  }
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *pattern = PyObject_GetAttrString (PyList_GET_ITEM (hits, i), "pattern");
    PyObject *value = pattern ? PyObject_GetAttrString (pattern, "value") : NULL;
    Py_XDECREF (pattern);
    if (value == NULL || !PyBytes_Check (value))
    {
      if (value != NULL)
        PyErr_SetString (PyExc_TypeError, "a match's pattern value must be bytes");
      Py_XDECREF (value);
      PyMem_Free (s);
      return 0;
    }
    add_distinct (s, &k, (Span) { PyBytes_AS_STRING (value), PyBytes_GET_SIZE (value) });
    Py_DECREF (value); /* the pattern holds it */
  }
  *spans = s;
  *count = k;
  return 1;
}

/* hot_of for a Scanner's hits: the patterns' bytes by id. */
static int hot_of_hits (Scanner *sc, const Hits *h, Span **spans, Py_ssize_t *count)
{
  Py_ssize_t k = 0;
  Span *s = PyMem_Malloc (sizeof (Span) * (size_t) (h->n ? h->n : 1));
  if (s == NULL)
  {
    PyErr_NoMemory ();
    return 0;
  }
  for (Py_ssize_t i = 0; i < h->n; i++)
    add_distinct (s, &k, scanner_value (sc, h->v[i].id));
  *spans = s;
  *count = k;
  return 1;
}

int scan_layer (PyObject *scan, Scanner *sc, PyObject *data, Hits *hits, PyObject **matches,
    Span **hot, Py_ssize_t *hot_count)
{
  hits->v = hits->small;
  hits->n = 0;
  hits->cap = sizeof hits->small / sizeof hits->small[0];
  *matches = NULL;
  *hot = NULL;
  *hot_count = 0;
  if (sc != NULL)
    return scanner_hits (sc, PyBytes_AS_STRING (data), PyBytes_GET_SIZE (data), hits)
        && (hits->n == 0 || hot_of_hits (sc, hits, hot, hot_count));
  PyObject *got = PyObject_CallOneArg (scan, data);
  if (got == NULL || !PyList_Check (got))
  {
    if (got != NULL)
      PyErr_SetString (PyExc_TypeError, "scan must return a list");
    Py_XDECREF (got);
    return 0;
  }
  if (PyList_GET_SIZE (got) == 0)
  {
    Py_DECREF (got);
    return 1;
  }
  *matches = got;
  return hot_of (got, hot, hot_count);
}
