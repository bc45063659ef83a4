/* Heads of HTTP/1.x messages as Python objects (see h1head.h). Each function keeps
 * http1.py's order of notes and its string semantics: header names are compared with
 * str.lower() and values stripped with str.strip(), which reach past ASCII (U+212A KELVIN
 * SIGN lowers to "k"; NBSP, U+2000... and \x1c-\x1f are whitespace), so text that is not
 * ASCII goes through those very methods. */

#include "h1draft.h"

#include <stdint.h>
#include <string.h>

#include "asciitext.h"
#include "h1wire.h"
#include "texttable.h"

PyObject *h1_decode_text (const H1Buf *b, Py_ssize_t a, Py_ssize_t z, const char *what,
                          Py_ssize_t na, Py_ssize_t nb, PyObject *notes)
{
  const char *s = (const char *) b->p + a;
  PyObject *text = PyUnicode_DecodeUTF8 (s, z - a, NULL);
  if (text != NULL || !PyErr_ExceptionMatches (PyExc_UnicodeDecodeError))
    return text;
  PyErr_Clear ();
  PyObject *note;
  if (what != NULL)
    note = PyUnicode_FromFormat ("%s is not UTF-8; decoded as Latin-1 (bytes preserved)",
                                 what);
  else
  {
    PyObject *name = PyBytes_FromStringAndSize ((const char *) b->p + na,
                                                nb - na < 40 ? nb - na : 40);
    if (name == NULL)
      return NULL;
    note = PyUnicode_FromFormat (
      "header %R is not UTF-8; decoded as Latin-1 (bytes preserved)", name);
    Py_DECREF (name);
  }
  if (h1_append_note (notes, note) < 0)
    return NULL;
  return PyUnicode_DecodeLatin1 (s, z - a, NULL);
}

/* Header names and values kept by their bytes (texttable.h), ASCII texts only: a text of
 * ASCII bytes is what h1_decode_text makes of them, with no note. A connection's messages
 * repeat most of their header lines, and decoding each again was most of a head's cost. */
static PyObject *names[TT_SLOTS], *values[TT_SLOTS], *pairs[TT_SLOTS], *words[TT_SLOTS];

/* h1_decode_text, from table or into it */
static PyObject *kept_text (PyObject **table, const H1Buf *b, Py_ssize_t a, Py_ssize_t z,
                            const char *what, Py_ssize_t na, Py_ssize_t nb, PyObject *notes)
{
  size_t n = (size_t) (z - a), slot = 0;
  PyObject *s = NULL;
  if (n <= TT_MAX && (s = tt_text (table, slot = tt_slot (b->p + a, n), b->p + a, n)))
    return s;
  s = h1_decode_text (b, a, z, what, na, nb, notes);
  if (s != NULL && n <= TT_MAX && PyUnicode_IS_ASCII (s))
    Py_XSETREF (table[slot], Py_NewRef (s));
  return s;
}

PyObject *h1_word (const H1Buf *b, Py_ssize_t a, Py_ssize_t z, const char *what,
                   PyObject *notes)
{
  return kept_text (words, b, a, z, what, 0, 0, notes);
}

/* Header lines kept whole by their bytes, as kept_text keeps texts: the (name, value) pair
 * of a line read as "name: value" whose two texts are ASCII. Such a line gives that pair
 * and no note every time (its bytes are only split, stripped and decoded), so finding it
 * here saves the colon, the strips and two lookups; most of a connection's header lines
 * are the same as before. line_pairs[slot] is the pair of the line_len[slot] bytes in
 * line_bytes[slot] (NULL: none); a slot keeps the last such line that hashed there. */
static PyObject *line_pairs[TT_SLOTS];
static uint8_t line_bytes[TT_SLOTS][TT_MAX];
static size_t line_len[TT_SLOTS];

/* The pair kept for the line p[0..n), a new reference; NULL if none (no exception) */
static PyObject *kept_line (size_t slot, const uint8_t *p, size_t n)
{
  return line_pairs[slot] != NULL && line_len[slot] == n && tt_same (line_bytes[slot], p, n)
    ? Py_NewRef (line_pairs[slot]) : NULL;
}

static void keep_line (size_t slot, const uint8_t *p, size_t n, PyObject *pair)
{
  if (!PyUnicode_IS_ASCII (PyTuple_GET_ITEM (pair, 0))
      || !PyUnicode_IS_ASCII (PyTuple_GET_ITEM (pair, 1)))
    return;
  memcpy (line_bytes[slot], p, n);
  line_len[slot] = n;
  Py_XSETREF (line_pairs[slot], Py_NewRef (pair));
}

/* One line of a head (no \n, trailing \r removed, not empty) added to headers. */
static int header_line (const H1Buf *b, Py_ssize_t a, Py_ssize_t z, PyObject *headers,
                        PyObject *notes)
{
  const unsigned char *p = b->p;
  Py_ssize_t count = PyList_GET_SIZE (headers);
  PyObject *name = NULL, *value = NULL, *pair;
  size_t len = (size_t) (z - a), slot = 0;
  if ((p[a] == ' ' || p[a] == '\t') && count > 0) /* obsolete line folding */
  {
    Py_ssize_t sa = a, sz = z;
    h1_strip (p, &sa, &sz);
    PyObject *more = h1_decode_text (b, sa, sz, "header", 0, 0, notes);
    if (more == NULL)
      return -1;
    PyObject *prev = PyList_GET_ITEM (headers, count - 1);
    PyObject *tail = PyUnicode_FromFormat (" %U", more);
    Py_DECREF (more);
    if (tail == NULL)
      return -1;
    value = PyUnicode_Concat (PyTuple_GET_ITEM (prev, 1), tail);
    Py_DECREF (tail);
    if (value == NULL)
      return -1;
    pair = PyTuple_Pack (2, PyTuple_GET_ITEM (prev, 0), value);
    Py_DECREF (value);
    if (pair == NULL)
      return -1;
    return PyList_SetItem (headers, count - 1, pair); /* steals pair */
  }
  if (len <= TT_MAX && (pair = kept_line (slot = tt_slot (p + a, len), p + a, len)))
  {
    int r = PyList_Append (headers, pair);
    Py_DECREF (pair);
    return r;
  }
  const unsigned char *colon = memchr (p + a, ':', (size_t) (z - a));
  if (colon == NULL)
  {
    PyObject *line = PyBytes_FromStringAndSize ((const char *) p + a, z - a < 60 ? z - a : 60);
    if (line == NULL)
      return -1;
    int r = h1_append_note (notes, PyUnicode_FromFormat (
      "header line without colon kept as is: %R", line));
    Py_DECREF (line);
    if (r < 0 || (name = h1_decode_text (b, a, z, "header", 0, 0, notes)) == NULL)
      return -1;
    value = PyUnicode_New (0, 0);
  }
  else
  {
    Py_ssize_t na = a, nz = colon - p, va = nz + 1, vz = z;
    h1_strip (p, &na, &nz);
    h1_strip (p, &va, &vz);
    if ((name = kept_text (names, b, na, nz, "header name", 0, 0, notes)) == NULL)
      return -1;
    value = kept_text (values, b, va, vz, NULL, na, nz, notes);
  }
  if (value == NULL)
  {
    Py_DECREF (name);
    return -1;
  }
  pair = tt_pair (pairs, name, value);
  Py_DECREF (name);
  Py_DECREF (value);
  if (pair == NULL)
    return -1;
  if (colon != NULL && len <= TT_MAX)
    keep_line (slot, p + a, len, pair);
  int r = PyList_Append (headers, pair);
  Py_DECREF (pair);
  return r;
}

PyObject *h1_headers (const H1Buf *b, Py_ssize_t a, Py_ssize_t z, PyObject *notes)
{
  PyObject *headers = PyList_New (0);
  if (headers == NULL)
    return NULL;
  while (a < z) /* block.split(b"\n"); each line rstrip(b"\r"); empty lines skipped */
  {
    const unsigned char *nl = memchr (b->p + a, '\n', (size_t) (z - a));
    Py_ssize_t e = nl ? nl - b->p : z, le = e;
    while (le > a && b->p[le - 1] == '\r')
      le--;
    if (le > a && header_line (b, a, le, headers, notes) < 0)
    {
      Py_DECREF (headers);
      return NULL;
    }
    a = e + 1;
  }
  return headers;
}

PyObject *h1_str_strip (PyObject *s)
{
  if (!PyUnicode_IS_ASCII (s))
    return PyObject_CallMethod (s, "strip", NULL);
  const Py_UCS1 *c = PyUnicode_1BYTE_DATA (s);
  Py_ssize_t a = 0, z = PyUnicode_GET_LENGTH (s);
  while (a < z && h1_str_space (c[a]))
    a++;
  while (z > a && h1_str_space (c[z - 1]))
    z--;
  return PyUnicode_Substring (s, a, z);
}

PyObject *h1_url_of (PyObject *target, PyObject *host, PyObject *scheme, PyObject *sni,
                     PyObject *ip, PyObject *port)
{
  if (STARTS (target, "http://") || STARTS (target, "https://")
      || STARTS (target, "ws://") || STARTS (target, "wss://"))
    return Py_NewRef (target);
  int slash = STARTS (target, "/");
  if (!slash && !EQUALS (target, "*"))
    return h1_join_url (scheme, target, NULL);
  /* host_header or facts.sni or (f"{facts.ip}:{facts.port}" if facts.ip else "") */
  PyObject *authority, *empty = PyUnicode_New (0, 0);
  int has_sni = empty ? PyObject_IsTrue (sni) : -1;
  int has_ip = has_sni ? 0 : PyObject_IsTrue (ip);
  if (has_sni < 0 || has_ip < 0)
  {
    Py_XDECREF (empty);
    return NULL;
  }
  if (host != NULL && PyUnicode_GET_LENGTH (host) > 0)
    authority = Py_NewRef (host);
  else if (has_sni)
    authority = PyObject_Format (sni, empty);
  else if (has_ip)
  {
    PyObject *a = PyObject_Format (ip, empty);
    PyObject *b = a ? PyObject_Format (port, empty) : NULL;
    authority = b ? PyUnicode_FromFormat ("%U:%U", a, b) : NULL;
    Py_XDECREF (a);
    Py_XDECREF (b);
  }
  else
    authority = Py_NewRef (empty);
  Py_DECREF (empty);
  if (authority == NULL)
    return NULL;
  PyObject *url = h1_join_url (scheme, authority, slash ? target : NULL);
  Py_DECREF (authority);
  return url;
}

PyObject *h1_host_of (PyObject *hostport)
{
  if (hostport == NULL || PyUnicode_GET_LENGTH (hostport) == 0)
    Py_RETURN_NONE;
  PyObject *h = h1_str_strip (hostport), *out;
  if (h == NULL)
    return NULL;
  Py_ssize_t n = PyUnicode_GET_LENGTH (h);
  if (STARTS (h, "["))
  {
    Py_ssize_t close = PyUnicode_FindChar (h, ']', 0, n, 1);
    out = close == -2 ? NULL : close < 0 ? Py_NewRef (h) : PyUnicode_Substring (h, 1, close);
  }
  else
  {
    Py_ssize_t colon = PyUnicode_FindChar (h, ':', 0, n, 1);
    Py_ssize_t last = colon < 0 ? colon : PyUnicode_FindChar (h, ':', 0, n, -1);
    out = colon == -2 || last == -2 ? NULL
        : colon >= 0 && colon == last ? PyUnicode_Substring (h, 0, colon) : Py_NewRef (h);
  }
  Py_DECREF (h);
  return out;
}
