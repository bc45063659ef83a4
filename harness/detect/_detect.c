/* The detector's compiled part (decoders.py, findings.py):
 *
 * leaves(data: bytes, min_leaf: int, hot: tuple[bytes, ...] | None) returns the JSON leaves
 *   of a document (jsonwalk.c) as a list of (path: str, value: bytes, inert: bool); None
 *   when json.loads would raise (not JSON); False for what the C walk does not reproduce
 *   (the caller runs the Python walk).
 *
 * expand(roots, hooks) decodes one message's roots into all their layers (expand.c, with
 *   children.c), giving the layers that matched.
 *
 * find(roots, hooks, plan, excerpt, msg, found, seen, keep) does the same walk and appends
 *   the findings of the message's matches to found (found.c): findings.find's loop in C.
 *
 * find_batch(batch, start, how, into) is findings.find_unnumbered's loop over a batch of
 *   messages (findbatch.c): each message's notes, skips, roots and find(), handing back to
 *   the Python loop the messages it leaves to it; Ids() the ids it has seen, of which len()
 *   says how many differ.
 *
 * roots(url, head, with_path, headers, body) is rootpairs.root_pairs for the URLs it can split
 *   as path_query's fast path does (roots.c); None for the rest.
 *
 * Scanner(values, tags, make) is the matcher's compiled Hyperscan database (scannertype.c).
 *
 * b64decode(data) is decoders._b64decode (b64.c), which expand.c runs; here for the tests.
 *
 * plausible(data) is decoders._plausible (bytetests.h) and protobuf_may(data) the test that
 *   spares most layers the protobuf decoder (protowire.h), as children.c runs them; here for
 *   the tests.
 *
 * protobuf_hazard(data) is the test that keeps blackboxprotobuf from a length it reads as
 *   negative (protowire.h), for decoders.Decoder._protobuf, which then writes a note.
 *
 * unquote(data) is urllib.parse.unquote_to_bytes, for the form decoder (decoders._form).
 *
 * form(data) is the form decoder children.c runs (form.c): Decoder._form's children as
 *   (steps, bytes) pairs, None for what _FORM does not match; here for the tests.
 *
 * java_hash(s) is Java's String.hashCode (decoders.java_hash, in C: a Sensors payload is
 *   tens of kilobytes).
 */

#include "b64.h"
#include "bytetests.h"
#include "protowire.h"
#include "found.h"
#include "ids.h"
#include "roots.h"
#include "scanner.h"
#include "unquote.h"

/* hot (None or a tuple of bytes) as spans; *count -1 for None. 0 with TypeError. */
int detect_spans (PyObject *hot, Span **out, Py_ssize_t *count)
{
  *out = NULL;
  *count = -1;
  if (hot == Py_None)
    return 1;
  if (!PyTuple_Check (hot))
  {
    PyErr_SetString (PyExc_TypeError, "hot must be a tuple of bytes or None");
    return 0;
  }
  Py_ssize_t n = PyTuple_GET_SIZE (hot);
  Span *s = PyMem_Malloc (sizeof (Span) * (size_t) (n ? n : 1));
  if (s == NULL)
  {
    PyErr_NoMemory ();
    return 0;
  }
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *h = PyTuple_GET_ITEM (hot, i);
    if (!PyBytes_Check (h))
    {
      PyMem_Free (s);
      PyErr_SetString (PyExc_TypeError, "hot must be a tuple of bytes or None");
      return 0;
    }
    s[i].p = PyBytes_AS_STRING (h);
    s[i].n = PyBytes_GET_SIZE (h);
  }
  *out = s;
  *count = n;
  return 1;
}

static int append_leaf (void *ctx, const char *path, Py_ssize_t path_len,
    const unsigned char *b, Py_ssize_t n, int inert)
{
  PyObject *item = Py_BuildValue ("(s#y#O)", path, path_len, (const char *) b, n,
      inert ? Py_True : Py_False);
  if (item == NULL)
    return 0;
  int r = PyList_Append ((PyObject *) ctx, item);
  Py_DECREF (item);
  return r == 0;
}

static PyObject *leaves (PyObject *self, PyObject *args)
{
  Py_buffer data;
  Py_ssize_t min_leaf;
  PyObject *hot;
  (void) self;
  if (!PyArg_ParseTuple (args, "y*nO", &data, &min_leaf, &hot))
    return NULL;
  Span *spans;
  Py_ssize_t count;
  PyObject *out = NULL;
  PyObject *result = NULL;
  if (detect_spans (hot, &spans, &count) && (out = PyList_New (0)) != NULL)
  {
    int r = json_walk ((const unsigned char *) data.buf, data.len, min_leaf,
        count < 0 ? NULL : spans, count, append_leaf, out);
    if (r == OK)
      result = Py_NewRef (out);
    else if (r == NOT_JSON)
      result = Py_NewRef (Py_None);
    else if (r == FALLBACK)
      result = Py_NewRef (Py_False);
    else if (r == NO_MEMORY)
      PyErr_NoMemory ();
  }
  Py_XDECREF (out);
  PyMem_Free (spans);
  PyBuffer_Release (&data);
  return result;
}

static PyObject *b64decode (PyObject *self, PyObject *arg)
{
  Py_buffer data;
  (void) self;
  if (PyObject_GetBuffer (arg, &data, PyBUF_SIMPLE) < 0)
    return NULL;
  PyObject *r = b64_decode (data.buf, data.len);
  PyBuffer_Release (&data);
  return r;
}

/* f(data's bytes) as a bool, for a byte test that takes (bytes, length). */
static PyObject *byte_test (PyObject *arg, int (*f) (const unsigned char *, Py_ssize_t))
{
  Py_buffer data;
  if (PyObject_GetBuffer (arg, &data, PyBUF_SIMPLE) < 0)
    return NULL;
  int r = f (data.buf, data.len);
  PyBuffer_Release (&data);
  return PyBool_FromLong (r);
}

static PyObject *plausible_py (PyObject *self, PyObject *arg)
{
  (void) self;
  return byte_test (arg, plausible);
}

static PyObject *printable_py (PyObject *self, PyObject *arg)
{
  Py_buffer data;
  (void) self;
  if (PyObject_GetBuffer (arg, &data, PyBUF_SIMPLE) < 0)
    return NULL;
  double r = printable (data.buf, data.len);
  PyBuffer_Release (&data);
  return PyFloat_FromDouble (r);
}

static PyObject *protobuf_may_py (PyObject *self, PyObject *arg)
{
  (void) self;
  return byte_test (arg, protobuf_may);
}

static PyObject *protobuf_hazard_py (PyObject *self, PyObject *arg)
{
  (void) self;
  return byte_test (arg, protobuf_hazard);
}

/* urllib.parse.unquote_to_bytes (unquote.h). */
static PyObject *unquote_py (PyObject *self, PyObject *arg)
{
  Py_buffer data;
  (void) self;
  if (PyObject_GetBuffer (arg, &data, PyBUF_SIMPLE) < 0)
    return NULL;
  Py_ssize_t n = data.len, k = 0;
  PyObject *r = PyBytes_FromStringAndSize (NULL, n);
  if (r != NULL)
    k = unquote (data.buf, n, (unsigned char *) PyBytes_AS_STRING (r), 0);
  PyBuffer_Release (&data);
  if (r != NULL && k < n && _PyBytes_Resize (&r, k) < 0)
    return NULL;
  return r;
}

/* Java's String.hashCode over the string's UTF-16 code units (a lone surrogate is one). */
static PyObject *java_hash (PyObject *self, PyObject *arg)
{
  (void) self;
  if (!PyUnicode_Check (arg))
  {
    PyErr_SetString (PyExc_TypeError, "java_hash takes a str");
    return NULL;
  }
  return PyLong_FromLong ((long) (int32_t) java_hash_of (arg));
}

/* The form decoder (form.c) on bytes form_whole takes, as (steps, bytes) pairs. */
static PyObject *form (PyObject *self, PyObject *arg)
{
  (void) self;
  if (!PyBytes_Check (arg))
  {
    PyErr_SetString (PyExc_TypeError, "form takes bytes");
    return NULL;
  }
  const unsigned char *s = (const unsigned char *) PyBytes_AS_STRING (arg);
  Py_ssize_t n = PyBytes_GET_SIZE (arg);
  if (!form_whole (s, n))
    Py_RETURN_NONE;
  PyObject *none = PyTuple_New (0), *out = NULL;
  Layers kids = { NULL, 0, 0 };
  if (none != NULL && form_children (s, n, none, &kids, 0))
    out = PyList_New (kids.n);
  for (Py_ssize_t i = 0; out != NULL && i < kids.n; i++)
  {
    PyObject *pair = PyTuple_Pack (2, kids.v[i].chain, kids.v[i].data);
    if (pair == NULL)
      Py_CLEAR (out);
    else
      PyList_SET_ITEM (out, i, pair);
  }
  clear_layers (&kids);
  PyMem_Free (kids.v);
  Py_XDECREF (none);
  return out;
}

static PyMethodDef methods[] = {
  { "b64decode", b64decode, METH_O, "b64decode(data) -> bytes | None: decoders._b64decode" },
  { "plausible", plausible_py, METH_O, "plausible(data) -> bool: decoders._plausible" },
  { "printable", printable_py, METH_O, "printable(data) -> float: decoders._printable" },
  { "protobuf_may", protobuf_may_py, METH_O,
    "protobuf_may(data) -> bool: False where blackboxprotobuf.decode_message raises" },
  { "protobuf_hazard", protobuf_hazard_py, METH_O,
    "protobuf_hazard(data) -> bool: True where blackboxprotobuf may read a negative length" },
  { "unquote", unquote_py, METH_O, "unquote(data) -> bytes: urllib.parse.unquote_to_bytes" },
  { "java_hash", java_hash, METH_O, "java_hash(s) -> int: Java's String.hashCode" },
  { "form", form, METH_O,
    "form(data) -> list[(steps, bytes)] | None (not a form): Decoder._form's children" },
  { "leaves", leaves, METH_VARARGS,
    "leaves(data, min_leaf, hot) -> list[(path, bytes, inert)] | None (not JSON) | False "
    "(use the Python walk)" },
  { "expand", detect_expand, METH_VARARGS,
    "expand(roots, hooks) -> list[(chain, bytes, hits)] | False (use the Python decoder)" },
  { "find", detect_find, METH_VARARGS,
    "find(roots, hooks, plan, excerpt, msg, found, seen, keep) -> bool: False where expand() "
    "gives False" },
  { "excerpt", detect_excerpt, METH_VARARGS,
    "excerpt(data, start, end, excerpt) -> str: findings.excerpt's text, as found.c renders it "
    "(for the tests)" },
  { "find_batch", detect_find_batch, METH_VARARGS,
    "find_batch(batch, start, how, into) -> None (done) | (index, roots | None): the message "
    "left to Python" },
  { "barren", detect_barren, METH_VARARGS,
    "barren(data) -> int | None: the most strings of a JSON layer the walk may skip, or "
    "None (not skipped)" },
  { "roots", detect_roots, METH_VARARGS,
    "roots(url, head, with_path, headers, body) -> list[(chain, bytes)] | None (use Python)" },
  { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
  PyModuleDef_HEAD_INIT, "_detect", "The detector's compiled part (decoders.py, findings.py).",
  -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__detect (void)
{
  if (PyType_Ready (&ScannerType) < 0)
    return NULL;
  PyObject *m = PyModule_Create (&module);
  if (m != NULL && (PyModule_AddObjectRef (m, "Scanner", (PyObject *) &ScannerType) < 0
          || !ids_ready (m)))
    Py_CLEAR (m);
  return m;
}
