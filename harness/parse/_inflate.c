/* encoding._zlib_stream in C: inflate a gzip, zlib or raw deflate body under an output
 * budget, for every HTTP body with such a coding (and the detector's compressed blobs).
 *
 * The Python reference drives zlib through a decompressobj per member, a bytes copy per
 * 64 KiB step, a bytearray and three tuples: ~5 µs a body on top of inflate's own ~8 µs,
 * for bodies of a kilobyte or two (35,000 of them in the 200 MB benchmark). Here the same
 * steps call zlib directly, in the same order, so that the same bytes come out and the same
 * input is looked at before each decision:
 *   - each member gets a fresh inflate state (inflateInit2 with wbits);
 *   - input is fed `step` bytes at a time, or the input the last step left unconsumed (its
 *     output reached the budget), and before each feeding an exhausted budget cuts;
 *   - a feeding inflates with Z_SYNC_FLUSH until its input is used or the output reaches
 *     the budget, as Decompress.decompress(chunk, room) does (inflate's output does not
 *     depend on how the output space is handed to it, so one buffer grown by doubling gives
 *     what the module's block buffer gives);
 *   - an inflate result other than Z_OK, Z_BUF_ERROR and Z_STREAM_END raises zlib.error
 *     with CPython's zlib_error text ("Error -3 while decompressing data: ..."), which the
 *     notes quote;
 *   - after a member, gzip (wbits >= 24) goes on to the next member unless the next 64
 *     bytes are all NUL or absent, up to `members` members.
 * tests/parse/test_encoding.py checks it against the reference on generated streams. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <zlib.h>

static PyObject *zlib_error_type; /* zlib.error */

/* CPython's zlib_error (Modules/zlibmodule.c): the same exception text. */
static void zlib_error (const z_stream *z, int err, const char *msg)
{
  const char *zmsg = err == Z_VERSION_ERROR ? "library version mismatch" : z->msg;
  if (zmsg == NULL)
    zmsg = err == Z_BUF_ERROR      ? "incomplete or truncated stream"
           : err == Z_STREAM_ERROR ? "inconsistent stream state"
           : err == Z_DATA_ERROR   ? "invalid input data"
                                   : NULL;
  if (zmsg == NULL)
    PyErr_Format (zlib_error_type, "Error %d %s", err, msg);
  else
    PyErr_Format (zlib_error_type, "Error %d %s: %.200s", err, msg, zmsg);
}

typedef struct
{
  PyObject *buf; /* bytes, resized as it fills */
  Py_ssize_t len;
} Out;

/* Decompress.decompress(chunk, room): inflate chunk[:n] until it is used, the stream ends,
 * or the output has grown by room. Returns inflate's last result, or -100 with an
 * exception set (a zlib error or no memory). */
static int feed (z_stream *z, const Bytef *chunk, Py_ssize_t n, Py_ssize_t room, Out *o)
{
  Py_ssize_t limit = o->len + room;
  int err = Z_OK;
  z->next_in = (Bytef *) chunk;
  z->avail_in = (uInt) n;
  do
  {
    if (o->len == limit) /* the budget: the rest of the chunk stays unconsumed */
      break;
    Py_ssize_t cap = PyBytes_GET_SIZE (o->buf);
    if (o->len == cap)
    {
      Py_ssize_t grown = cap > limit / 2 ? limit : cap * 2;
      if (grown < 16384)
        grown = limit < 16384 ? limit : 16384;
      if (_PyBytes_Resize (&o->buf, grown) < 0)
        return -100;
      cap = grown;
    }
    Py_ssize_t space = cap - o->len;
    if (space > limit - o->len)
      space = limit - o->len;
    if (space > (Py_ssize_t) UINT_MAX)
      space = UINT_MAX;
    z->next_out = (Bytef *) PyBytes_AS_STRING (o->buf) + o->len;
    z->avail_out = (uInt) space;
    Py_BEGIN_ALLOW_THREADS
    err = inflate (z, Z_SYNC_FLUSH);
    Py_END_ALLOW_THREADS
    o->len += space - z->avail_out;
    if (err != Z_OK && err != Z_BUF_ERROR && err != Z_STREAM_END)
    {
      zlib_error (z, err, "while decompressing data");
      return -100;
    }
  } while (z->avail_out == 0);
  return err;
}

static int all_nul (const Bytef *p, Py_ssize_t n)
{
  for (Py_ssize_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

/* stream(data, wbits, budget, step, members) -> (output, cut, finished) */
static PyObject *stream (PyObject *self, PyObject *args)
{
  Py_buffer data;
  int wbits;
  Py_ssize_t budget, step, max_members;
  if (!PyArg_ParseTuple (args, "y*innn:stream", &data, &wbits, &budget, &step, &max_members))
    return NULL;
  PyObject *result = NULL;
  int cut = 0, finished = 0;
  Out o = {NULL, 0};
  if (step <= 0 || step > (Py_ssize_t) UINT_MAX)
  {
    PyErr_SetString (PyExc_ValueError, "step must be in 1..UINT_MAX");
    goto done;
  }
  o.buf = PyBytes_FromStringAndSize (NULL, 0);
  if (o.buf == NULL)
    goto done;
  const Bytef *in = data.buf;
  Py_ssize_t pos = 0, members = 0;
  for (;;) /* one pass per gzip member */
  {
    z_stream z = {0};
    int err = inflateInit2 (&z, wbits);
    if (err != Z_OK)
    {
      if (err == Z_MEM_ERROR)
        PyErr_SetString (PyExc_MemoryError, "Can't allocate memory for decompression object");
      else if (err == Z_STREAM_ERROR)
        PyErr_SetString (PyExc_ValueError, "Invalid initialization option");
      else
        zlib_error (&z, err, "while creating decompression object");
      goto done;
    }
    members++;
    int eof = 0;
    const Bytef *tail = NULL;
    Py_ssize_t tail_n = 0, unused = 0;
    while (!eof)
    {
      const Bytef *chunk;
      Py_ssize_t n;
      if (tail_n > 0)
      {
        chunk = tail;
        n = tail_n;
      }
      else if (pos < data.len)
      {
        chunk = in + pos;
        n = data.len - pos < step ? data.len - pos : step;
        pos += n;
      }
      else
        break;
      if (budget - o.len <= 0)
      {
        inflateEnd (&z);
        cut = 1;
        goto built;
      }
      err = feed (&z, chunk, n, budget - o.len, &o);
      if (err == -100)
      {
        inflateEnd (&z);
        goto done;
      }
      if (err == Z_STREAM_END)
      {
        eof = 1;
        unused = z.avail_in;
      }
      else
      {
        tail = z.next_in;
        tail_n = z.avail_in;
      }
    }
    inflateEnd (&z);
    if (!eof)
    {
      cut = o.len >= budget;
      goto built;
    }
    pos -= unused;
    if (wbits < 16 + 8 || all_nul (in + pos, data.len - pos < 64 ? data.len - pos : 64)
        || members > max_members)
    {
      finished = 1;
      goto built;
    }
  }
built:
  if (_PyBytes_Resize (&o.buf, o.len) == 0)
    result = Py_BuildValue ("(OOO)", o.buf, cut ? Py_True : Py_False,
                            finished ? Py_True : Py_False);
done:
  Py_XDECREF (o.buf);
  PyBuffer_Release (&data);
  return result;
}

static PyMethodDef methods[] = {
  {"stream", stream, METH_VARARGS,
   "stream(data, wbits, budget, step, members) -> (output, cut, finished): "
   "encoding._zlib_stream_py in C."},
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
  return zlib_error_type == NULL ? NULL : PyModule_Create (&module);
}
