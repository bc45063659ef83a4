/* Heads (h1head.c) and bodies (h1body.c) of HTTP/1.x messages as Python objects, for
 * _http1.c: http1.py's _decode_text, the header lines of _parse_head, _get, url_of, _host_of,
 * _read_body and _read_chunked, and the test of finish_body that tells whether a body has
 * any coding to undo. */

#ifndef H1HEAD_H
#define H1HEAD_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

/* str.isspace() over ASCII: bytes.strip()'s six and the separators \x1c-\x1f (zcoding.c
 * strips coding names with it too). */
static inline int h1_str_space (unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* str.isspace() over Latin-1 (a trailer is decoded as Latin-1, then stripped). */
static inline int h1_latin1_space (unsigned char c)
{
  return h1_str_space (c) || c == 0x85 || c == 0xa0;
}

/* notes.append(note), taking note's reference (NULL: the error that made it); 0 or -1. */
static inline int h1_append_note (PyObject *notes, PyObject *note)
{
  if (note == NULL)
    return -1;
  int r = PyList_Append (notes, note);
  Py_DECREF (note);
  return r;
}

/* One flow's bytes. */
typedef struct
{
  PyObject *data; /* the bytes object */
  const unsigned char *p;
  Py_ssize_t n;
} H1Buf;

/* _decode_text(p[a:b], what): UTF-8, else Latin-1 with a note. what NULL: the note says
 * "header {name!r}" with name = p[na:nb][:40] (a header value's note). New reference. */
PyObject *h1_decode_text (const H1Buf *b, Py_ssize_t a, Py_ssize_t z, const char *what,
                          Py_ssize_t na, Py_ssize_t nb, PyObject *notes);

/* h1_decode_text(b, a, z, what, 0, 0, notes) for a start line's method or reason phrase,
 * found by its bytes among those read before when ASCII (a connection's messages repeat
 * "GET" and "OK"), as header names and values are (h1head.c's tables). */
PyObject *h1_word (const H1Buf *b, Py_ssize_t a, Py_ssize_t z, const char *what,
                   PyObject *notes);

/* The header lines of the block p[a:z] as a new list of (str, str), notes appended. */
PyObject *h1_headers (const H1Buf *b, Py_ssize_t a, Py_ssize_t z, PyObject *notes);

/* The eight ASCII bytes s, each of A-Z lowered, are the eight bytes want: for a byte b
 * under 0x80, b + 0x3f reaches 0x80 from 'A' on and b + 0x25 from '[' on, with no carry
 * into the next byte, so their difference in the top bit marks A-Z, and 0x20 (that bit
 * shifted down two) lowers it as the byte test does. */
static inline int h1_lower8_is (const Py_UCS1 *s, const char *want)
{
  uint64_t x, w;
  memcpy (&x, s, 8);
  memcpy (&w, want, 8);
  uint64_t upper = (x + 0x3f3f3f3f3f3f3f3fu) & ~(x + 0x2525252525252525u)
                   & 0x8080808080808080u;
  return (x | upper >> 2) == w;
}

/* name.lower() == want for a str name and want in lower-case ASCII, the test of
 * Draft.header and http1._get, for _http1.c and the HTTP/2 reader alike: 1, 0, or -1 with
 * an exception. An ASCII name is compared here. A name of the one-byte kind that is not
 * ASCII never matches: no Latin-1 character past ASCII lowers into ASCII (HTTP/2's names,
 * decoded as Latin-1, all take these two ways). Any other name goes through str.lower(),
 * which lowers U+212A KELVIN SIGN to "k" (tests/parse/test_http1_c_texts.py checks both). */
/* always inlined, as h1_get is, so that strlen of a literal is folded */
static inline __attribute__ ((always_inline)) int h1_name_is (PyObject *name,
                                                              const char *want)
{
  Py_ssize_t n = (Py_ssize_t) strlen (want); /* a literal's: folded where this is inlined */
  if (PyUnicode_IS_ASCII (name))
  {
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA (name);
    if (PyUnicode_GET_LENGTH (name) != n)
      return 0;
    if (n >= 8) /* eight at a time, the last eight overlapping: most names looked up */
    {
      for (Py_ssize_t i = 0; i + 8 <= n; i += 8)
        if (!h1_lower8_is (s + i, want + i))
          return 0;
      return h1_lower8_is (s + n - 8, want + n - 8);
    }
    for (Py_ssize_t i = 0; i < n; i++)
      if ((s[i] >= 'A' && s[i] <= 'Z' ? s[i] | 0x20 : s[i]) != (Py_UCS1) want[i])
        return 0;
    return 1;
  }
  if (PyUnicode_KIND (name) == PyUnicode_1BYTE_KIND)
    return 0;
  PyObject *low = PyObject_CallMethod (name, "lower", NULL);
  if (low == NULL)
    return -1;
  int r = PyUnicode_Check (low) && PyUnicode_CompareWithASCIIString (low, want) == 0;
  Py_DECREF (low);
  return r;
}

/* _get(headers, name), Draft.header(name), for a list of (str, str) and name in lower-case
 * ASCII: the first value whose name lowers to name. 1 with *value borrowed, 0 if none
 * (*value as it was), -1 on error. */
static inline __attribute__ ((always_inline)) int h1_get (PyObject *headers,
                                                          const char *name,
                                                          PyObject **value)
{
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE (headers); i++)
  {
    PyObject *pair = PyList_GET_ITEM (headers, i);
    int r = h1_name_is (PyTuple_GET_ITEM (pair, 0), name);
    if (r != 0)
    {
      if (r > 0)
        *value = PyTuple_GET_ITEM (pair, 1);
      return r;
    }
  }
  return 0;
}

/* http1.url_of(target, host_header, facts) with the facts' scheme, sni, ip and port; host
 * NULL: no Host header. New reference. */
PyObject *h1_url_of (PyObject *target, PyObject *host, PyObject *scheme, PyObject *sni,
                     PyObject *ip, PyObject *port);

/* http1._host_of(hostport); hostport NULL: None. New reference. */
PyObject *h1_host_of (PyObject *hostport);

/* _read_body: the wire bytes at pos (new reference) and *end; trailers of a chunked body
 * are appended to headers. NULL on error. */
PyObject *h1_read_body (const H1Buf *b, Py_ssize_t pos, PyObject *headers, int to_close,
                        PyObject *notes, Py_ssize_t *end);

/* s.strip() (str whitespace), a new reference. */
PyObject *h1_str_strip (PyObject *s);

/* 1 when finish_body would just keep `wire` (no content coding, no transfer coding other
 * than chunked, or an empty body), 0 when it may decode (call it), -1 on error. */
int h1_plain_body (PyObject *headers, PyObject *wire);

#endif
