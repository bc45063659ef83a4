/* encoding._zlib_stream in C: inflate a gzip, zlib or raw deflate body under an output
 * budget, for every HTTP body with such a coding that the parsers leave to Python (and the
 * detector's compressed blobs).
 *
 * The Python reference drives zlib through a decompressobj per member, a bytes copy per
 * 64 KiB step, a bytearray and three tuples: ~5 µs a body on top of inflate's own ~8 µs,
 * for bodies of a kilobyte or two (35,000 of them in the 200 MB benchmark). zinflate.c
 * takes the same steps calling zlib directly (it says how), after zwhole.c's libdeflate
 * where that is proven to answer as they do; this module raises zlib.error with CPython's
 * zlib_error text ("Error -3 while decompressing data: ..."), which the notes quote.
 * tests/parse/test_encoding.py and test_inflate_whole.py check it against the reference. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "zinflate.h"
#include <zlib.h>

static PyObject *zlib_error_type; /* zlib.error */

/* CPython's zlib_error (Modules/zlibmodule.c): the same exception text. */
static void zlib_error (const ZsFail *fail)
{
  const char *zmsg = fail->msg;
  int err = fail->err;
  if (zmsg == NULL)
    zmsg = err == Z_BUF_ERROR      ? "incomplete or truncated stream"
           : err == Z_STREAM_ERROR ? "inconsistent stream state"
           : err == Z_DATA_ERROR   ? "invalid input data"
                                   : NULL;
  if (zmsg == NULL)
    PyErr_Format (zlib_error_type, "Error %d %s", err, fail->what);
  else
    PyErr_Format (zlib_error_type, "Error %d %s: %.200s", err, fail->what, zmsg);
}

/* stream(data, wbits, budget, step, members) -> (output, cut, finished) */
static PyObject *stream (PyObject *self, PyObject *args)
{
  Py_buffer data;
  int wbits, cut, finished;
  Py_ssize_t budget, step, max_members;
  PyObject *out, *result = NULL;
  ZsFail fail;
  if (!PyArg_ParseTuple (args, "y*innn:stream", &data, &wbits, &budget, &step, &max_members))
    return NULL;
  int rc = zs_stream (data.buf, data.len, wbits, budget, step, max_members, &out, &cut,
                      &finished, &fail);
  if (rc == 1)
    zlib_error (&fail);
  else if (rc == 0)
  {
    result = Py_BuildValue ("(OOO)", out, cut ? Py_True : Py_False,
                            finished ? Py_True : Py_False);
    Py_DECREF (out);
  }
  PyBuffer_Release (&data);
  return result;
}

/* whole(data, wbits, budget, members) -> output or None: zs_whole alone, for the tests that
 * check where it answers and that it answers as zlib's steps do */
static PyObject *whole (PyObject *self, PyObject *args)
{
  Py_buffer data;
  int wbits;
  Py_ssize_t budget, max_members;
  PyObject *out = NULL;
  if (!PyArg_ParseTuple (args, "y*inn:whole", &data, &wbits, &budget, &max_members))
    return NULL;
  int rc = zs_whole (data.buf, data.len, wbits, budget, max_members, &out);
  PyBuffer_Release (&data);
  if (rc == 0)
    Py_RETURN_NONE;
  return rc < 0 ? NULL : out;
}

static PyMethodDef methods[] = {
  {"stream", stream, METH_VARARGS,
   "stream(data, wbits, budget, step, members) -> (output, cut, finished): "
   "encoding._zlib_stream_py in C."},
  {"whole", whole, METH_VARARGS,
   "whole(data, wbits, budget, members) -> output or None: the stream decoded by libdeflate "
   "where that proves zlib's answer (zwhole.c), else None."},
  {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
  PyModuleDef_HEAD_INIT, "_inflate", "encoding._zlib_stream in C (zlib's inflate).", -1,
  methods,
};

PyMODINIT_FUNC PyInit__inflate (void)
{
  PyObject *zlib = PyImport_ImportModule ("zlib");
  if (zlib == NULL)
    return NULL;
  Py_XSETREF (zlib_error_type, PyObject_GetAttrString (zlib, "error"));
  Py_DECREF (zlib);
  PyObject *m = zlib_error_type == NULL ? NULL : PyModule_Create (&module);
  /* the step and member limit the parsers' zs_body uses, for the test that they are
   * encoding.py's */
  if (m != NULL && (PyModule_AddIntConstant (m, "STEP", ZS_STEP) < 0
                    || PyModule_AddIntConstant (m, "MEMBERS", ZS_MEMBERS) < 0))
    Py_CLEAR (m);
  return m;
}
