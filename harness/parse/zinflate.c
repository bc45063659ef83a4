/* encoding._zlib_stream and one coding of http1.finish_body in C (see zinflate.h).
 *
 * zs_stream inflates a gzip, zlib or raw deflate body under an output budget with the steps
 * of encoding._zlib_stream_py, in the same order, so that the same bytes come out and the
 * same input is looked at before each decision:
 *   - each member gets a fresh inflate state (inflateInit2 with wbits);
 *   - input is fed `step` bytes at a time, or the input the last step left unconsumed (its
 *     output reached the budget), and before each feeding an exhausted budget cuts;
 *   - a feeding inflates with Z_SYNC_FLUSH until its input is used or the output reaches
 *     the budget, as Decompress.decompress(chunk, room) does (inflate's output does not
 *     depend on how the output space is handed to it, so one buffer grown by doubling gives
 *     what the module's block buffer gives);
 *   - an inflate result other than Z_OK, Z_BUF_ERROR and Z_STREAM_END is where the module
 *     raises zlib.error (the failure is returned for the caller to raise or to act on);
 *   - after a member, gzip (wbits >= 24) goes on to the next member unless the next 64
 *     bytes are all NUL or absent, up to `members` members;
 *   - a gzip member's trailer, its CRC-32 and length, is checked here (libdeflate's CRC-32,
 *     which folds with carry-less multiplication where the processor can: zlib 1.2.13's
 *     took ~14% of inflating the benchmark's bodies) with inflate's check turned off
 *     (inflateValidate), where inflate would check it, with its messages; when a member so
 *     checked stops short of its end, the stream is inflated again with inflate's own
 *     check, which may have failed on a wrong CRC-32 read before a length cut off.
 * tests/parse/test_encoding.py checks it against the reference on generated streams.
 * Before these steps, zs_whole (zwhole.c) decodes the stream whole with libdeflate where
 * that is proven to give their answer (most bodies: a gzip member of one dynamic block);
 * anywhere else, and after any failure there, the steps run as they did.
 *
 * finish_body's one coding (zs_one_coding, zs_body, zs_finish) is zcoding.c's. */

#include "zinflate.h"

#include <libdeflate.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

typedef struct
{
  PyObject *buf; /* bytes, resized as it fills */
  Py_ssize_t len;
} Out;

/* One inflate state kept for the next member or body: inflateReset2 leaves it as
 * inflateInit2 makes a fresh one (every field set again, its window kept allocated), for
 * ~60 instructions where inflateInit2 and inflateEnd cost ~600 with a malloc and a free.
 * While it is in use (inflating with the GIL released, another thread asks) a member gets
 * a state of its own, as before. */
static z_stream kept;
static int kept_made, kept_busy;

/* inflateInit2 (z, wbits) into *z, or the kept state reset into *z; its result */
static int z_open (z_stream **z, z_stream *mine, int wbits)
{
  if (kept_busy)
  {
    memset (mine, 0, sizeof *mine);
    *z = mine;
    return inflateInit2 (mine, wbits);
  }
  *z = &kept;
  int err = kept_made ? inflateReset2 (&kept, wbits) : inflateInit2 (&kept, wbits);
  kept_made = kept_made || err == Z_OK; /* a failed init frees the state; a reset keeps it */
  kept_busy = err == Z_OK;
  return err;
}

/* inflateEnd (z), or the kept state given back */
static void z_close (z_stream *z)
{
  if (z == &kept)
    kept_busy = 0;
  else
    inflateEnd (z);
}

/* Decompress.decompress(chunk, room): inflate chunk[:n] until it is used, the stream ends,
 * or the output has grown by room. Returns inflate's last result; -100 with an exception
 * set (no memory); -101 for a zlib error (*fail set). */
static int feed (z_stream *z, const Bytef *chunk, Py_ssize_t n, Py_ssize_t room, Out *o,
                 ZsFail *fail)
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
    if (n >= ZS_UNLOCKED) /* other threads run meanwhile, as with the zlib module */
    {
      Py_BEGIN_ALLOW_THREADS
      err = inflate (z, Z_SYNC_FLUSH);
      Py_END_ALLOW_THREADS
    }
    else
      err = inflate (z, Z_SYNC_FLUSH);
    o->len += space - z->avail_out;
    if (err != Z_OK && err != Z_BUF_ERROR && err != Z_STREAM_END)
    {
      fail->err = err;
      fail->msg = z->msg; /* zlib's messages are static strings: still valid after End */
      fail->what = "while decompressing data";
      return -101;
    }
  } while (z->avail_out == 0);
  return err;
}

/* The check of a gzip member's trailer that inflate makes when validating (zwhole.c makes
 * it too, after libdeflate); trailer_ok: 1 when it holds, else 0 with inflate's failure. */
const char *zs_trailer_error (const unsigned char *trailer, const unsigned char *out, size_t n)
{
  uint32_t crc = 0, isize = 0;
  for (int i = 3; i >= 0; i--)
  {
    crc = crc << 8 | trailer[i];
    isize = isize << 8 | trailer[4 + i];
  }
  return libdeflate_crc32 (0, out, n) != crc ? "incorrect data check"
         : isize != (uint32_t) n             ? "incorrect length check"
                                             : NULL;
}

static int trailer_ok (const Bytef *trailer, const Bytef *out, size_t n, ZsFail *fail)
{
  const char *msg = zs_trailer_error (trailer, out, n);
  if (msg == NULL)
    return 1;
  fail->err = Z_DATA_ERROR;
  fail->msg = msg;
  fail->what = "while decompressing data";
  return 0;
}

/* zs_stream, checking gzip trailers itself when `checks` (trailer_ok): 2 when a member
 * so checked stops before its end (truncated, or cut by the budget), where inflate may
 * have read a wrong CRC-32 already and failed there: zs_stream runs it again without. */
static int run (const unsigned char *in, Py_ssize_t n, int wbits, Py_ssize_t budget,
                Py_ssize_t step, Py_ssize_t max_members, PyObject **out, int *cut,
                int *finished, ZsFail *fail, int checks)
{
  int rc = -1;
  Out o = {NULL, 0};
  *out = NULL;
  *cut = *finished = 0;
  if (step <= 0 || step > (Py_ssize_t) UINT_MAX)
  {
    PyErr_SetString (PyExc_ValueError, "step must be in 1..UINT_MAX");
    return -1;
  }
  o.buf = PyBytes_FromStringAndSize (NULL, 0);
  if (o.buf == NULL)
    return -1;
  Py_ssize_t pos = 0, members = 0;
  for (;;) /* one pass per gzip member */
  {
    z_stream mine, *z;
    int err = z_open (&z, &mine, wbits);
    if (err != Z_OK)
    {
      if (err == Z_MEM_ERROR)
        PyErr_SetString (PyExc_MemoryError, "Can't allocate memory for decompression object");
      else if (err == Z_STREAM_ERROR)
        PyErr_SetString (PyExc_ValueError, "Invalid initialization option");
      else
      {
        fail->err = err;
        fail->msg = err == Z_VERSION_ERROR ? "library version mismatch" : z->msg;
        fail->what = "while creating decompression object";
        rc = 1;
      }
      goto done;
    }
    members++;
    /* a gzip member's trailer is checked here (trailer_ok) unless its header has a CRC of
     * its own, which inflate checks only while it checks the trailer too */
    int own = checks && wbits >= 16 && wbits < 32 && n - pos >= 4 && !(in[pos + 3] & 0x02)
              && inflateValidate (z, 0) == Z_OK;
    Py_ssize_t out_start = o.len;
    int eof = 0;
    const Bytef *tail = NULL;
    Py_ssize_t tail_n = 0, unused = 0;
    while (!eof)
    {
      const Bytef *chunk;
      Py_ssize_t len;
      if (tail_n > 0)
      {
        chunk = tail;
        len = tail_n;
      }
      else if (pos < n)
      {
        chunk = in + pos;
        len = n - pos < step ? n - pos : step;
        pos += len;
      }
      else
        break;
      if (budget - o.len <= 0)
      {
        z_close (z);
        if (own)
        {
          rc = 2;
          goto done;
        }
        *cut = 1;
        goto built;
      }
      err = feed (z, chunk, len, budget - o.len, &o, fail);
      if (err == -100 || err == -101)
      {
        z_close (z);
        rc = err == -101 ? 1 : -1;
        goto done;
      }
      if (err == Z_STREAM_END)
      {
        eof = 1;
        unused = z->avail_in;
      }
      else
      {
        tail = z->next_in;
        tail_n = z->avail_in;
      }
    }
    z_close (z);
    if (!eof && own)
    {
      rc = 2;
      goto done;
    }
    if (!eof)
    {
      *cut = o.len >= budget;
      goto built;
    }
    pos -= unused;
    if (own && !trailer_ok (in + pos - 8, (const Bytef *) PyBytes_AS_STRING (o.buf) + out_start,
                            (size_t) (o.len - out_start), fail))
    {
      rc = 1;
      goto done;
    }
    if (wbits < 16 + 8 || zs_all_nul (in + pos, n - pos < 64 ? n - pos : 64)
        || members > max_members)
    {
      *finished = 1;
      goto built;
    }
  }
built:
  if (_PyBytes_Resize (&o.buf, o.len) == 0)
  {
    *out = o.buf;
    return 0;
  }
  o.buf = NULL; /* _PyBytes_Resize freed it */
done:
  Py_XDECREF (o.buf);
  return rc;
}

int zs_stream (const unsigned char *in, Py_ssize_t n, int wbits, Py_ssize_t budget,
               Py_ssize_t step, Py_ssize_t max_members, PyObject **out, int *cut,
               int *finished, ZsFail *fail)
{
  if (step > 0 && step <= (Py_ssize_t) UINT_MAX) /* else run raises ValueError */
  {
    int whole = zs_whole (in, n, wbits, budget, max_members, out);
    if (whole != 0)
    {
      *cut = 0;
      *finished = 1;
      return whole < 0 ? -1 : 0;
    }
  }
  int rc = run (in, n, wbits, budget, step, max_members, out, cut, finished, fail, 1);
  return rc == 2 ? run (in, n, wbits, budget, step, max_members, out, cut, finished, fail, 0)
                 : rc;
}
