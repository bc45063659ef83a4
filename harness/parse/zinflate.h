/* encoding._zlib_stream (zinflate.c) and the part of http1.finish_body that undoes one gzip
 * or deflate coding (zcoding.c), in C, for the extensions that need them: _inflate
 * (encoding.py's stream), _http1, _hpack and _detect (a body finished without going back to
 * Python). Each file is compiled into each extension that needs it, with hidden
 * visibility, so each keeps its own copy to itself. */

#ifndef ZINFLATE_H
#define ZINFLATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* encoding._STEP and encoding._MEMBERS (tests/parse/test_encoding.py checks they agree) */
#define ZS_STEP (64 * 1024)
#define ZS_MEMBERS 100000

/* A chunk of input from which inflate runs with the GIL released. Releasing and taking it
 * again cost ~700 instructions, where most bodies inflate in ~40,000 (a kilobyte or two of
 * input): a chunk this long can take a millisecond. */
#define ZS_UNLOCKED (16 * 1024)

/* Why inflate stopped with an error: inflate's result and zlib's message (a static string
 * of zlib's, or NULL), what CPython's zlib.error would say. */
typedef struct
{
  int err;
  const char *msg, *what; /* what: "while decompressing data", or creating the object */
} ZsFail;

/* _zlib_stream_py(data[:n], wbits, budget, step, members) (see zinflate.c): 0 with *out
 * (a new bytes), *cut and *finished set; 1 where it raises zlib.error while decompressing
 * (*fail says why, no exception set); -1 with a Python exception (no memory, a bad
 * wbits or step). */
int zs_stream (const unsigned char *data, Py_ssize_t n, int wbits, Py_ssize_t budget,
               Py_ssize_t step, Py_ssize_t members, PyObject **out, int *cut, int *finished,
               ZsFail *fail);

/* zs_stream's answer where libdeflate decodes the stream whole and that proves zlib's
 * (zwhole.c): 1 with *out, a new bytes (all of it, within the budget: finished, not cut);
 * 0 when zs_stream must take zlib's steps; -1 with an exception (no memory). */
int zs_whole (const unsigned char *in, Py_ssize_t n, int wbits, Py_ssize_t budget,
              Py_ssize_t max_members, PyObject **out);

/* A gzip member's trailer (CRC-32, then ISIZE, little-endian) checked against its output
 * out[0, n): NULL when both match, else zlib's message for the first that does not */
const char *zs_trailer_error (const unsigned char *trailer, const unsigned char *out, size_t n);

/* p[0..n) all NUL: after a gzip member, zlib's steps look at the next 64 bytes for another */
static inline int zs_all_nul (const unsigned char *p, Py_ssize_t n)
{
  for (Py_ssize_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

/* The codings finish_body undoes in C: a body whose Content-Encoding and Transfer-Encoding
 * (less "chunked") name exactly one of these, gzip and x-gzip being one decoder */
enum { ZS_NONE, ZS_GZIP, ZS_X_GZIP, ZS_DEFLATE };

/* The coding finish_body would undo given Content-Encoding ce and Transfer-Encoding te (str
 * values, NULL when absent) when it is exactly one of ZS_GZIP .. ZS_DEFLATE; ZS_NONE for
 * anything else (none, several, another, text that is not ASCII), which Python decides. */
int zs_one_coding (PyObject *ce, PyObject *te);

/* The name finish_body writes in meta["content_encoding"] for a coding (borrowed, made once;
 * NULL with an exception if it could not be). */
PyObject *zs_coding_name (int coding);

/* decode_content(body[:n], (coding,), budget) when it decodes the whole body within the
 * budget, which is when it writes no note: the output, a new bytes. Py_None (a new
 * reference) when it would write a note (cut, truncated, not decodable): the caller leaves
 * that body to Python. NULL with an exception (no memory). */
PyObject *zs_body (const unsigned char *body, Py_ssize_t n, int coding, Py_ssize_t budget);

/* bodyref.MIN_REF: bodyref.keep notes no shorter body (nor one sent shorter) */
#define ZS_MIN_REF 64

/* bodyref.keep(keep, body, wire, codings, budget) where keep is a dict (a Flow's coded),
 * else nothing: body (bytes) is wire (bytes) decoded whole by codings (a str) within
 * budget. 0, or -1 with an exception. */
int zs_keep (PyObject *keep, PyObject *body, PyObject *wire, PyObject *codings,
             Py_ssize_t budget);

/* finish_body for the common coded body, for _http1.c and h2stream.c: a body whose
 * Content-Encoding ce and Transfer-Encoding te (as zs_one_coding takes them) name one gzip
 * or deflate coding that decodes whole within budget. Most coded bodies are of this kind,
 * and finishing one in Python costs ~4 us. 1 when done: *body (the caller's reference) is
 * replaced by the decoded one and *meta's content_encoding is set, *meta being the Draft's
 * meta dict, or NULL for one made here (a new reference the caller then holds), and the
 * body noted in keep (zs_keep: the flow's coded, or NULL). 0 if finish_body must decide
 * (another coding, several, a note to write), *body and *meta as they were; -1 with an
 * exception. */
int zs_finish (PyObject *ce, PyObject *te, Py_ssize_t budget, PyObject **body,
               PyObject **meta, PyObject *keep);

#endif
