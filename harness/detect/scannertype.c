/* The detector's Scanner type (matcher.Matcher's compiled database; the scan is scanner.c's):
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
 */

#include "scanner.h"

#include <limits.h>
#include <stdlib.h>

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
