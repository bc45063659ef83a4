/* One coding of http1.finish_body in C (see zinflate.h): zs_one_coding and zs_body are
 * finish_body for the common coded body, one gzip or deflate coding that decodes whole (no
 * note, so nothing that Python's wording must produce); the parsers (_http1.c, h2stream.c)
 * call them through zs_finish and leave everything else to finish_body itself; zs_keep
 * notes such a body for the store (bodyref.keep). The inflating itself is zinflate.c's
 * (zs_stream, zs_whole), apart from this so that each file reads as one thing. */

#include "zinflate.h"
#include "h1head.h" /* h1_str_space */

#include <string.h>
#include <zlib.h>

/* parse_encodings(value) (less "chunked" when te), each part looked up: adds the parts to
 * *count, the last one's coding to *coding (ZS_NONE for one not done here). 0, or -1 when
 * value is not ASCII (str.strip and str.lower reach past ASCII: Python decides). */
static int parts (PyObject *value, int te, int *count, int *coding)
{
  if (value == NULL)
    return 0;
  if (!PyUnicode_IS_ASCII (value))
    return -1;
  const char *s = (const char *) PyUnicode_1BYTE_DATA (value);
  Py_ssize_t n = PyUnicode_GET_LENGTH (value), a = 0;
  while (a <= n)
  {
    const char *comma = memchr (s + a, ',', (size_t) (n - a));
    Py_ssize_t z = comma ? comma - s : n, e = z;
    while (a < z && h1_str_space ((unsigned char) s[a]))
      a++;
    while (z > a && h1_str_space ((unsigned char) s[z - 1]))
      z--;
    Py_ssize_t len = z - a;
    if (len > 0 && !(te && len == 7 && strncasecmp (s + a, "chunked", 7) == 0))
    {
      ++*count;
      *coding = len == 4 && strncasecmp (s + a, "gzip", 4) == 0       ? ZS_GZIP
                : len == 6 && strncasecmp (s + a, "x-gzip", 6) == 0   ? ZS_X_GZIP
                : len == 7 && strncasecmp (s + a, "deflate", 7) == 0  ? ZS_DEFLATE
                                                                      : ZS_NONE;
    }
    a = e + 1;
  }
  return 0;
}

int zs_one_coding (PyObject *ce, PyObject *te)
{
  int count = 0, coding = ZS_NONE;
  if (parts (ce, 0, &count, &coding) < 0 || parts (te, 1, &count, &coding) < 0)
    return ZS_NONE;
  return count == 1 ? coding : ZS_NONE;
}

PyObject *zs_coding_name (int coding)
{
  static PyObject *names[4];
  static const char *const text[4] = {NULL, "gzip", "x-gzip", "deflate"};
  if (names[coding] == NULL)
    names[coding] = PyUnicode_InternFromString (text[coding]);
  return names[coding];
}

PyObject *zs_body (const unsigned char *body, Py_ssize_t n, int coding, Py_ssize_t budget)
{
  PyObject *out;
  int cut, finished;
  ZsFail fail;
  /* _deflate: zlib-wrapped as the RFC says, else raw deflate as many servers send */
  int rc = zs_stream (body, n, coding == ZS_DEFLATE ? MAX_WBITS : 16 + MAX_WBITS, budget,
                      ZS_STEP, ZS_MEMBERS, &out, &cut, &finished, &fail);
  if (rc == 1 && coding == ZS_DEFLATE)
    rc = zs_stream (body, n, -MAX_WBITS, budget, ZS_STEP, ZS_MEMBERS, &out, &cut, &finished,
                    &fail);
  if (rc < 0)
    return NULL;
  if (rc == 0 && !cut && finished)
    return out;
  Py_XDECREF (out);
  Py_RETURN_NONE;
}

int zs_keep (PyObject *keep, PyObject *body, PyObject *wire, PyObject *codings,
             Py_ssize_t budget)
{
  if (keep == NULL || !PyDict_CheckExact (keep) || !PyBytes_CheckExact (body)
      || !PyBytes_CheckExact (wire) || PyBytes_GET_SIZE (body) < ZS_MIN_REF
      || PyBytes_GET_SIZE (wire) < ZS_MIN_REF)
    return 0;
  /* the tuple made by hand and set unless there (one lookup): Py_BuildValue and a lookup
   * before the set were ~1,300 instructions a body, 4.5 M on the 20 MB benchmark */
  PyObject *key = PyLong_FromVoidPtr (body), *value = PyTuple_New (4), *had = NULL;
  PyObject *b = PyLong_FromSsize_t (budget);
  if (key != NULL && value != NULL && b != NULL)
  {
    PyTuple_SET_ITEM (value, 0, Py_NewRef (body));
    PyTuple_SET_ITEM (value, 1, Py_NewRef (wire));
    PyTuple_SET_ITEM (value, 2, Py_NewRef (codings));
    PyTuple_SET_ITEM (value, 3, b);
    b = NULL;
    had = PyDict_SetDefault (keep, key, value); /* borrowed */
  }
  /* noted twice: as neither */
  int rc = had == NULL ? -1 : had == value ? 0 : PyDict_SetItem (keep, key, Py_None);
  Py_XDECREF (key);
  Py_XDECREF (value);
  Py_XDECREF (b);
  return rc;
}

int zs_finish (PyObject *ce, PyObject *te, Py_ssize_t budget, PyObject **body,
               PyObject **meta, PyObject *keep)
{
  int coding = zs_one_coding (ce, te);
  if (coding == ZS_NONE)
    return 0;
  PyObject *name = zs_coding_name (coding), *out = name == NULL ? NULL : zs_body (
    (const unsigned char *) PyBytes_AS_STRING (*body), PyBytes_GET_SIZE (*body), coding,
    budget);
  if (out == NULL)
    return -1;
  if (out == Py_None)
  {
    Py_DECREF (out);
    return 0;
  }
  /* the key made once: PyDict_SetItemString makes and interns it each time (~1,000
   * instructions a body) */
  static PyObject *key;
  if (key == NULL && (key = PyUnicode_InternFromString ("content_encoding")) == NULL)
  {
    Py_DECREF (out);
    return -1;
  }
  PyObject *made = *meta == NULL ? PyDict_New () : NULL;
  if ((*meta == NULL && made == NULL) || PyDict_SetItem (made ? made : *meta, key, name) < 0)
  {
    Py_XDECREF (made);
    Py_DECREF (out);
    return -1;
  }
  if (zs_keep (keep, out, *body, name, budget) < 0)
  {
    Py_XDECREF (made);
    Py_DECREF (out);
    return -1;
  }
  if (made != NULL)
    *meta = made;
  Py_SETREF (*body, out);
  return 1;
}
