/* The detector's multi-pattern scan (matcher.Matcher) with Hyperscan's C API:
 *
 * Scanner(values, tags, make) compiles values (bytes, one per pattern) into what matcher.py's
 *   python-hyperscan reference compiles (every byte escaped \xHH there: its binding's
 *   literal mode stops at a NUL, which UTF-16 forms are full of), here with the literal API
 *   and each value's length (compile() says why): HS_FLAG_SOM_LEFTMOST, block mode, ids =
 *   indexes. It owns its scratch.
 * Scanner(values, tags, make, stored) first tries stored (bytes of Scanner.serialize(), or
 *   None): what hs_deserialize_database takes (it checks the header, the version, the
 *   platform and the bytecode's CRC) it uses as is, and compiles only what it refuses
 *   (Scanner.loaded says which). That the stored database is these values' is the caller's
 *   key to check (matcher.py, from Scanner.build() and the values): nothing in the bytes says
 *   which patterns they hold. Hyperscan does not harden deserialization against crafted
 *   input: stored must be the user's own file.
 * Scanner.scan(data) -> list of make(tags[id], start, end), in the order Hyperscan reports
 *   them (what python-hyperscan's callback saw); [] for empty data or no patterns.
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
#include <stdlib.h>
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

/* ---- the Python type -------------------------------------------------------------- */

static PyObject *scanner_scan (PyObject *self, PyObject *arg)
{
  Scanner *sc = (Scanner *) self;
  Py_buffer data;
  if (PyObject_GetBuffer (arg, &data, PyBUF_SIMPLE) < 0)
    return NULL;
  Hits hits;
  PyObject *out = NULL;
  if (scanner_hits (sc, data.buf, data.len, &hits))
  {
    out = scanner_matches (sc, &hits);
    hits_free (&hits);
  }
  PyBuffer_Release (&data);
  return out;
}

Scanner *scanner_of (PyObject *f)
{
  if (!PyCFunction_Check (f) || PyCFunction_GET_FUNCTION (f) != scanner_scan)
    return NULL;
  PyObject *self = PyCFunction_GET_SELF (f);
  return self != NULL && Py_IS_TYPE (self, &ScannerType) ? (Scanner *) self : NULL;
}

/* What decides the bytecode besides the patterns: the flags and mode compile() passes, the
 * library (its version and build date), and the host it compiles for (hs_populate_platform:
 * compile() passes no platform, so the bytecode is tuned for and may use this CPU's). */
#define SCANNER_FLAGS HS_FLAG_SOM_LEFTMOST
#define SCANNER_MODE HS_MODE_BLOCK

/* Compiles sc->values into sc->db and its scratch. 0 with an exception set.
 *
 * With the literal API (hs_compile_lit_multi: the bytes and their lengths, NULs included)
 * rather than each byte escaped \xHH for the regex compiler, as the python-hyperscan
 * reference does: for these patterns both build the same bytecode but for its pureLiteral
 * flag (which picks the literal build of the same program interpreter), and the literal
 * compile skips parsing ~30,000 escapes and their graph: 168 M -> 108 M instructions for
 * the 20 MB bench's 864 patterns (callgrind). tests/detect/test_scanner.py compares the
 * matches with the reference's. */
static int compile (Scanner *sc)
{
  Py_ssize_t n = PyTuple_GET_SIZE (sc->values);
  if (n == 0)
    return 1; /* no database: every scan is empty, as Matcher's was */
  if ((unsigned long long) n > UINT_MAX)
  {
    PyErr_SetString (PyExc_OverflowError, "too many patterns");
    return 0;
  }
  const char **exprs = PyMem_Calloc ((size_t) n, sizeof (char *));
  size_t *lens = PyMem_Calloc ((size_t) n, sizeof (size_t));
  unsigned int *flags = PyMem_Calloc ((size_t) n, sizeof (unsigned int));
  unsigned int *ids = PyMem_Calloc ((size_t) n, sizeof (unsigned int));
  int ok = exprs != NULL && lens != NULL && flags != NULL && ids != NULL;
  if (!ok)
    PyErr_NoMemory ();
  for (Py_ssize_t i = 0; ok && i < n; i++)
  {
    Span v = scanner_value (sc, (unsigned int) i); /* sc->values holds them meanwhile */
    if (v.n == 0)
    {
      /* the regex compiler's refusal, in its words: the literal one takes an empty
       * literal, and libhs 5.4 then crashes */
      PyErr_Format (PyExc_ValueError, "pattern %zd: Pattern matches empty buffer; use "
          "HS_FLAG_ALLOWEMPTY to enable support.", i);
      ok = 0;
      break;
    }
    exprs[i] = v.p;
    lens[i] = (size_t) v.n;
    flags[i] = SCANNER_FLAGS;
    ids[i] = (unsigned int) i;
  }
  if (ok)
  {
    hs_compile_error_t *err = NULL;
    if (hs_compile_lit_multi (exprs, flags, ids, lens, (unsigned int) n, SCANNER_MODE, NULL,
            &sc->db, &err) != HS_SUCCESS)
    {
      PyErr_Format (PyExc_ValueError, "pattern %d: %s", err ? err->expression : -1,
          err ? err->message : "could not compile");
      hs_free_compile_error (err);
      sc->db = NULL;
      ok = 0;
    }
    else if (hs_alloc_scratch (sc->db, &sc->scratch) != HS_SUCCESS)
    {
      PyErr_NoMemory ();
      ok = 0;
    }
  }
  PyMem_Free (exprs);
  PyMem_Free (lens);
  PyMem_Free (flags);
  PyMem_Free (ids);
  return ok;
}

/* sc->db from stored (bytes), with its scratch; 0 (no exception) when Hyperscan refuses it
 * or there is nothing to load, and compile() is to run instead. A file another run is
 * writing is never half read (matcher.py renames it into place whole). */
static int load (Scanner *sc, PyObject *stored)
{
  if (stored == Py_None || PyTuple_GET_SIZE (sc->values) == 0)
    return 0;
  hs_database_t *db = NULL;
  if (hs_deserialize_database (PyBytes_AS_STRING (stored), (size_t) PyBytes_GET_SIZE (stored),
          &db) != HS_SUCCESS)
    return 0;
  if (hs_alloc_scratch (db, &sc->scratch) != HS_SUCCESS)
  {
    hs_free_database (db);
    sc->scratch = NULL;
    return 0;
  }
  sc->db = db;
  sc->loaded = 1;
  return 1;
}

static PyObject *scanner_serialize (PyObject *self, PyObject *noargs)
{
  Scanner *sc = (Scanner *) self;
  (void) noargs;
  if (sc->db == NULL)
    Py_RETURN_NONE;
  char *bytes = NULL;
  size_t n = 0;
  if (hs_serialize_database (sc->db, &bytes, &n) != HS_SUCCESS)
    return PyErr_NoMemory ();
  PyObject *out = PyBytes_FromStringAndSize (bytes, (Py_ssize_t) n);
  free (bytes); /* hs_serialize_database allocates with the misc allocator: malloc here */
  return out;
}

static PyObject *scanner_build (PyObject *cls, PyObject *noargs)
{
  (void) cls;
  (void) noargs;
  hs_platform_info_t platform;
  if (hs_populate_platform (&platform) != HS_SUCCESS)
  {
    PyErr_SetString (PyExc_RuntimeError, "hs_populate_platform failed");
    return NULL;
  }
  return PyUnicode_FromFormat ("hyperscan %s; literal; flags %u; mode %u; tune %u; "
      "cpu_features %llu; sizeof(void *) %u", hs_version (), (unsigned) SCANNER_FLAGS,
      (unsigned) SCANNER_MODE, platform.tune, (unsigned long long) platform.cpu_features,
      (unsigned) sizeof (void *));
}

static PyObject *scanner_loaded (PyObject *self, void *closure)
{
  (void) closure;
  return PyBool_FromLong (((Scanner *) self)->loaded);
}

static int scanner_clear (PyObject *self)
{
  Scanner *sc = (Scanner *) self;
  Py_CLEAR (sc->values);
  Py_CLEAR (sc->tags);
  Py_CLEAR (sc->make);
  return 0;
}

static int scanner_traverse (PyObject *self, visitproc visit, void *arg)
{
  Scanner *sc = (Scanner *) self;
  Py_VISIT (sc->values);
  Py_VISIT (sc->tags);
  Py_VISIT (sc->make);
  return 0;
}

static void scanner_dealloc (PyObject *self)
{
  Scanner *sc = (Scanner *) self;
  PyObject_GC_UnTrack (self);
  scanner_clear (self);
  hs_free_scratch (sc->scratch);
  hs_free_database (sc->db);
  Py_TYPE (self)->tp_free (self);
}

static PyObject *scanner_new (PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
  PyObject *values, *tags, *make, *stored = Py_None;
  static char *names[] = { "", "", "", "", NULL };
  if (!PyArg_ParseTupleAndKeywords (args, kwargs, "OOO|O:Scanner", names, &values, &tags,
          &make, &stored))
    return NULL;
  if (stored != Py_None && !PyBytes_Check (stored))
  {
    PyErr_SetString (PyExc_TypeError, "Scanner's stored database must be bytes or None");
    return NULL;
  }
  Scanner *sc = (Scanner *) type->tp_alloc (type, 0);
  if (sc == NULL)
    return NULL;
  sc->values = PySequence_Tuple (values);
  sc->tags = sc->values ? PySequence_Tuple (tags) : NULL;
  sc->make = Py_NewRef (make);
  if (sc->tags == NULL)
    goto fail;
  if (PyTuple_GET_SIZE (sc->tags) != PyTuple_GET_SIZE (sc->values) || !PyCallable_Check (make))
  {
    PyErr_SetString (PyExc_TypeError, "Scanner(values, tags, make): one tag per value, and "
        "make callable");
    goto fail;
  }
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE (sc->values); i++)
    if (!PyBytes_Check (PyTuple_GET_ITEM (sc->values, i)))
    {
      PyErr_SetString (PyExc_TypeError, "Scanner values must be bytes");
      goto fail;
    }
  if (!load (sc, stored) && !compile (sc))
    goto fail;
  return (PyObject *) sc;
fail:
  Py_DECREF (sc);
  return NULL;
}

static PyMethodDef scanner_methods[] = {
  { "scan", scanner_scan, METH_O,
    "scan(data) -> list of make(tag, start, end), in Hyperscan's order" },
  { "serialize", scanner_serialize, METH_NOARGS,
    "serialize() -> the database as hs_serialize_database gives it (None: no patterns)" },
  { "build", scanner_build, METH_NOARGS | METH_CLASS,
    "build() -> what, besides the patterns, decides a database's bytes (library, flags, "
    "mode, host)" },
  { NULL, NULL, 0, NULL },
};

static PyGetSetDef scanner_getset[] = {
  { "loaded", scanner_loaded, NULL, "whether the database came from the stored bytes", NULL },
  { NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject ScannerType = {
  PyVarObject_HEAD_INIT (NULL, 0)
  .tp_name = "harness.detect._detect.Scanner",
  .tp_basicsize = sizeof (Scanner),
  .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
  .tp_doc = "Scanner(values, tags, make, stored=None): a compiled Hyperscan database of byte patterns",
  .tp_new = scanner_new,
  .tp_dealloc = scanner_dealloc,
  .tp_traverse = scanner_traverse,
  .tp_clear = scanner_clear,
  .tp_methods = scanner_methods,
  .tp_getset = scanner_getset,
};
