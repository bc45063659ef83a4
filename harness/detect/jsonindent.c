/* destinations.json's bytes in C: what RunDir.write_json writes of a document, json.dump(obj,
 * indent=2, ensure_ascii=False) UTF-8 encoded with backslashreplace, before its last newline.
 * json.dump with indent= runs json's pure-Python encoder, a generator a value and a write a
 * chunk: ~700 M instructions for the 200 MB benchmark's destinations.json.
 *
 * json_indented(obj) is those bytes, or None when obj holds anything but what it writes the
 * reference's way: a dict (exactly) with str keys, a list or tuple (exactly), a str (or a
 * subclass: json writes its text), an int (or a subclass but bool: int.__repr__, as json
 * calls it), a float (exactly: a subclass's comparisons are its own), True, False, None;
 * nesting deeper than MAX_DEPTH (a cycle among them) too. Then the caller writes obj with
 * json.dump, so whatever json makes of it, its error included, is what is written or
 * raised. tests/detect/test_jsonindent.py compares the two on generated documents. */

#include "jsonindent.h"

#include "floatrepr.h"
#include "jsonbuf.h"

/* Deeper than this is the reference's (a cycle never ends; json says so) */
#define MAX_DEPTH 100

/* Two spaces a level, for MAX_DEPTH levels */
static char SPACES[2 * MAX_DEPTH];

/* A newline and the indent of level */
static int put_newline (Buf *b, int level)
{
  return put (b, "\n", 1) < 0 || put (b, SPACES, 2 * (size_t) level) < 0 ? -1 : 0;
}

static int put_value (Buf *b, PyObject *o, int level);

/* The items of a list or tuple at level (its brackets at level - 1) */
static int put_items (Buf *b, PyObject *seq, int level)
{
  Py_ssize_t n = PySequence_Fast_GET_SIZE (seq);
  if (n == 0)
    return PUT (b, "[]") < 0 ? -1 : 1;
  if (PUT (b, "[") < 0)
    return -1;
  /* the items are held: nothing here runs Python that could change seq, but a value's
     writing allocates (a big int's digits) */
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE (seq); i++)
  {
    if ((i && PUT (b, ",") < 0) || put_newline (b, level) < 0)
      return -1;
    PyObject *v = Py_NewRef (PySequence_Fast_GET_ITEM (seq, i));
    int got = put_value (b, v, level);
    Py_DECREF (v);
    if (got <= 0)
      return got;
  }
  return put_newline (b, level - 1) < 0 || PUT (b, "]") < 0 ? -1 : 1;
}

/* The items of a dict at level (its braces at level - 1) */
static int put_dict (Buf *b, PyObject *d, int level)
{
  if (PyDict_GET_SIZE (d) == 0)
    return PUT (b, "{}") < 0 ? -1 : 1;
  if (PUT (b, "{") < 0)
    return -1;
  Py_ssize_t pos = 0;
  PyObject *key, *value;
  int first = 1;
  while (PyDict_Next (d, &pos, &key, &value))
  {
    if (!PyUnicode_Check (key))
      return 0; /* json makes text of some (a float, a bool, None) and refuses others */
    if ((!first && PUT (b, ",") < 0) || put_newline (b, level) < 0 || put_str (b, key) < 0
        || PUT (b, ": ") < 0)
      return -1;
    first = 0;
    Py_INCREF (key), Py_INCREF (value);
    int got = put_value (b, value, level);
    Py_DECREF (key), Py_DECREF (value);
    if (got <= 0)
      return got;
  }
  return put_newline (b, level - 1) < 0 || PUT (b, "}") < 0 ? -1 : 1;
}

/* An int as int.__repr__ writes it */
static int put_int (Buf *b, PyObject *o)
{
  int overflow;
  long long v = PyLong_AsLongLongAndOverflow (o, &overflow);
  if (v == -1 && PyErr_Occurred ())
    return -1;
  if (!overflow)
  {
    char text[24];
    int n = snprintf (text, sizeof text, "%lld", v);
    return put (b, text, (size_t) n) < 0 ? -1 : 1;
  }
  PyObject *text = PyLong_Type.tp_repr (o);
  if (text == NULL)
  {
    PyErr_Clear (); /* more digits than int's limit: the reference raises it */
    return 0;
  }
  Py_ssize_t n;
  const char *s = PyUnicode_AsUTF8AndSize (text, &n);
  int got = s == NULL || put (b, s, (size_t) n) < 0 ? -1 : 1;
  Py_DECREF (text);
  return got;
}

/* A float as json's floatstr writes it (allow_nan: NaN, Infinity, -Infinity) */
static int put_float (Buf *b, double x)
{
  if (Py_IS_NAN (x))
    return PUT (b, "NaN") < 0 ? -1 : 1;
  if (Py_IS_INFINITY (x))
    return (x > 0 ? PUT (b, "Infinity") : PUT (b, "-Infinity")) < 0 ? -1 : 1;
  char text[FLOAT_REPR_MAX];
  int n = float_repr (x, text);
  return n < 0 || put (b, text, (size_t) n) < 0 ? -1 : 1;
}

/* o at level (its items, if any, at level + 1): 1, 0 for one json must write (what was
   written is dropped), or -1 with an exception. In the order json's _iterencode tests. */
static int put_value (Buf *b, PyObject *o, int level)
{
  if (PyUnicode_Check (o))
    return put_str (b, o) < 0 ? -1 : 1;
  if (o == Py_None)
    return PUT (b, "null") < 0 ? -1 : 1;
  if (o == Py_True)
    return PUT (b, "true") < 0 ? -1 : 1;
  if (o == Py_False)
    return PUT (b, "false") < 0 ? -1 : 1;
  if (PyLong_Check (o))
    return put_int (b, o);
  if (PyFloat_CheckExact (o))
    return put_float (b, PyFloat_AS_DOUBLE (o));
  if (level >= MAX_DEPTH)
    return 0;
  if (PyList_CheckExact (o) || PyTuple_CheckExact (o))
    return put_items (b, o, level + 1);
  if (PyDict_CheckExact (o))
    return put_dict (b, o, level + 1);
  return 0;
}

/* json_indented(obj): the file's docstring */
PyObject *json_indented (PyObject *module, PyObject *obj)
{
  if (SPACES[0] == 0)
    memset (SPACES, ' ', sizeof SPACES);
  Buf b = { NULL, 0, 0, NULL };
  int got = put_value (&b, obj, 0);
  PyObject *out = got < 0 ? NULL : got == 0 ? Py_NewRef (Py_None) : buf_bytes (&b);
  buf_free (&b);
  return out;
}
