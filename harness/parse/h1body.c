/* Bodies of HTTP/1.x messages as Python objects (see h1head.h): _read_body, _read_chunked
 * and the part of finish_body that decides whether there is a coding to undo. */

#include "h1head.h"

#include <stdint.h>
#include <string.h>

#include "h1wire.h"

/* "chunked" in te.lower(): 1, 0 or -1. */
static int says_chunked (PyObject *te)
{
  if (PyUnicode_IS_ASCII (te))
  {
    Py_ssize_t n = PyUnicode_GET_LENGTH (te);
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA (te);
    for (Py_ssize_t i = 0; i + 7 <= n; i++)
      if (strncasecmp ((const char *) s + i, "chunked", 7) == 0)
        return 1;
    return 0;
  }
  PyObject *low = PyObject_CallMethod (te, "lower", NULL);
  if (low == NULL)
    return -1;
  PyObject *word = PyUnicode_FromString ("chunked");
  int r = word ? PyUnicode_Contains (low, word) : -1;
  Py_XDECREF (word);
  Py_DECREF (low);
  return r;
}

/* int(s[a:z]) when it is 1 to 18 ASCII digits, else -1 */
static long long digits (const Py_UCS1 *s, Py_ssize_t a, Py_ssize_t z)
{
  long long n = z - a >= 1 && z - a <= 18 ? 0 : -1;
  for (Py_ssize_t i = a; i < z && n >= 0; i++)
    n = s[i] >= '0' && s[i] <= '9' ? n * 10 + (s[i] - '0') : -1;
  return n;
}

/* int(first) for first = cl.split(",")[0].strip() when is_digits(first) and it has at most
 * 18 digits, else -1; -2 on error. An ASCII value (the usual one) is read in place, with
 * the ASCII strip of h1_str_strip, without making the two strs. */
static long long content_length (PyObject *cl)
{
  Py_ssize_t len = PyUnicode_GET_LENGTH (cl);
  if (PyUnicode_IS_ASCII (cl))
  {
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA (cl), *comma = memchr (s, ',', (size_t) len);
    Py_ssize_t a = 0, z = comma ? comma - s : len;
    while (a < z && h1_str_space (s[a]))
      a++;
    while (z > a && h1_str_space (s[z - 1]))
      z--;
    return digits (s, a, z);
  }
  Py_ssize_t comma = PyUnicode_FindChar (cl, ',', 0, len, 1);
  if (comma == -2)
    return -2;
  PyObject *part = PyUnicode_Substring (cl, 0, comma < 0 ? len : comma);
  PyObject *first = part ? h1_str_strip (part) : NULL;
  Py_XDECREF (part);
  if (first == NULL)
    return -2;
  long long n = PyUnicode_Check (first) && PyUnicode_IS_ASCII (first)
    ? digits (PyUnicode_1BYTE_DATA (first), 0, PyUnicode_GET_LENGTH (first)) : -1;
  Py_DECREF (first);
  return n;
}

static PyObject *slice (const H1Buf *b, Py_ssize_t a, Py_ssize_t z)
{
  return PyBytes_FromStringAndSize ((const char *) b->p + a, z - a);
}

/* p[a:z] stripped of Latin-1 whitespace, decoded as Latin-1 */
static PyObject *latin1_stripped (const H1Buf *b, Py_ssize_t a, Py_ssize_t z)
{
  while (a < z && h1_latin1_space (b->p[a]))
    a++;
  while (z > a && h1_latin1_space (b->p[z - 1]))
    z--;
  return PyUnicode_DecodeLatin1 ((const char *) b->p + a, z - a, NULL);
}

/* The trailer lines after the last chunk, until an empty line (or the end). */
static int trailers (const H1Buf *b, Py_ssize_t pos, PyObject *headers, Py_ssize_t *end)
{
  const unsigned char *p = b->p;
  for (;;)
  {
    const unsigned char *nl = pos < b->n ? memchr (p + pos, '\n', (size_t) (b->n - pos)) : NULL;
    if (nl == NULL)
    {
      *end = b->n;
      return 0;
    }
    Py_ssize_t a = pos, z = nl - p;
    pos = z + 1;
    while (z > a && p[z - 1] == '\r')
      z--;
    if (z == a)
    {
      *end = pos;
      return 0;
    }
    const unsigned char *colon = memchr (p + a, ':', (size_t) (z - a));
    Py_ssize_t nz = colon ? colon - p : z;
    PyObject *name = latin1_stripped (b, a, nz);
    PyObject *value = name ? latin1_stripped (b, colon ? nz + 1 : z, z) : NULL;
    PyObject *pair = value ? PyTuple_Pack (2, name, value) : NULL;
    Py_XDECREF (name);
    Py_XDECREF (value);
    if (pair == NULL || PyList_Append (headers, pair) < 0)
    {
      Py_XDECREF (pair);
      return -1;
    }
    Py_DECREF (pair);
  }
}

static PyObject *read_chunked (const H1Buf *b, Py_ssize_t pos, PyObject *headers,
                               PyObject *notes, Py_ssize_t *end)
{
  const unsigned char *p = b->p;
  Py_ssize_t n = b->n, total = 0, count = 0, room = 0;
  Py_ssize_t (*parts)[2] = NULL; /* (offset, length) of each chunk's data */
  const char *note = NULL;
  PyObject *bad = NULL;
  int failed = 0;
  for (;;)
  {
    Py_ssize_t lim = n - pos < 1024 ? n : pos + 1024;
    const unsigned char *nl = pos < lim ? memchr (p + pos, '\n', (size_t) (lim - pos)) : NULL;
    if (nl == NULL)
    {
      int cut = pos >= n || n - pos < 1024;
      note = cut ? "chunked body truncated: stream ended inside it"
                 : "bad chunk size line; resynchronising on the next message";
      *end = cut ? n : pos;
      break;
    }
    Py_ssize_t eol = nl - p, sa = pos;
    const unsigned char *semi = memchr (p + pos, ';', (size_t) (eol - pos));
    Py_ssize_t sz = semi ? semi - p : eol;
    uint64_t size;
    h1_strip (p, &sa, &sz);
    if (!h1_chunk_size (p, sa, sz, &size))
    {
      bad = slice (b, sa, sz - sa > 20 ? sa + 20 : sz);
      failed = bad == NULL;
      *end = pos;
      break;
    }
    pos = eol + 1;
    if (size == 0)
    {
      failed = trailers (b, pos, headers, end) < 0;
      break;
    }
    if (count == room)
    {
      room = room ? 2 * room : 8;
      void *grown = PyMem_Realloc (parts, (size_t) room * sizeof *parts);
      if (grown == NULL)
      {
        PyErr_NoMemory ();
        failed = 1;
        break;
      }
      parts = grown;
    }
    int cut = size > (uint64_t) (n - pos);
    Py_ssize_t take = cut ? n - pos : (Py_ssize_t) size;
    parts[count][0] = pos;
    parts[count++][1] = take;
    total += take;
    if (cut)
    {
      note = "chunked body truncated: stream ended inside a chunk";
      *end = n;
      break;
    }
    pos += take;
    if (pos + 1 < n && p[pos] == '\r' && p[pos + 1] == '\n')
      pos += 2;
    else if (pos < n && p[pos] == '\n')
      pos += 1;
  }
  PyObject *wire = NULL;
  if (!failed && bad != NULL)
    failed = h1_append_note (notes, PyUnicode_FromFormat (
      "bad chunk size %R; resynchronising on the next message", bad)) < 0;
  else if (!failed && note != NULL)
    failed = h1_append_note (notes, PyUnicode_FromString (note)) < 0;
  if (!failed && (wire = PyBytes_FromStringAndSize (NULL, total)) != NULL)
  {
    char *w = PyBytes_AS_STRING (wire);
    for (Py_ssize_t i = 0; i < count; w += parts[i][1], i++)
      memcpy (w, p + parts[i][0], (size_t) parts[i][1]);
  }
  Py_XDECREF (bad);
  PyMem_Free (parts);
  return wire;
}

PyObject *h1_read_body (const H1Buf *b, Py_ssize_t pos, PyObject *headers, int to_close,
                        PyObject *notes, Py_ssize_t *end)
{
  PyObject *te = NULL, *cl = NULL;
  int r = h1_get (headers, "transfer-encoding", &te);
  if (r < 0 || (r == 1 && (r = says_chunked (te)) < 0))
    return NULL;
  if (r == 1)
    return read_chunked (b, pos, headers, notes, end);
  if ((r = h1_get (headers, "content-length", &cl)) < 0)
    return NULL;
  *end = pos;
  if (r == 1)
  {
    long long len = content_length (cl);
    if (len == -2)
      return NULL;
    if (len < 0)
    {
      if (h1_append_note (notes, PyUnicode_FromFormat (
            "bad Content-Length %R; resynchronising on the next message", cl)) < 0)
        return NULL;
      return PyBytes_FromStringAndSize (NULL, 0);
    }
    if (len > b->n - pos)
    {
      if (h1_append_note (notes, PyUnicode_FromFormat (
            "body truncated: Content-Length %zd, %zd bytes captured", (Py_ssize_t) len,
            b->n - pos)) < 0)
        return NULL;
      *end = b->n;
      return slice (b, pos, b->n);
    }
    *end = pos + (Py_ssize_t) len;
    return slice (b, pos, *end);
  }
  if (to_close)
  {
    *end = b->n;
    return slice (b, pos, b->n);
  }
  return PyBytes_FromStringAndSize (NULL, 0);
}

/* Every comma-separated part of an ASCII te, stripped, is empty or "chunked". */
static int only_chunked (PyObject *te)
{
  if (!PyUnicode_IS_ASCII (te))
    return 0;
  const Py_UCS1 *s = PyUnicode_1BYTE_DATA (te);
  Py_ssize_t n = PyUnicode_GET_LENGTH (te), a = 0;
  while (a <= n)
  {
    const Py_UCS1 *comma = memchr (s + a, ',', (size_t) (n - a));
    Py_ssize_t z = comma ? comma - s : n, e = z;
    while (a < z && h1_str_space (s[a]))
      a++;
    while (z > a && h1_str_space (s[z - 1]))
      z--;
    if (z > a && (z - a != 7 || strncasecmp ((const char *) s + a, "chunked", 7) != 0))
      return 0;
    a = e + 1;
  }
  return 1;
}

int h1_plain_body (PyObject *headers, PyObject *wire)
{
  PyObject *ce = NULL, *te = NULL;
  if (PyBytes_GET_SIZE (wire) == 0)
    return 1;
  int r = h1_get (headers, "content-encoding", &ce);
  if (r < 0)
    return -1;
  if (r == 1 && PyUnicode_GET_LENGTH (ce) > 0)
    return 0;
  if ((r = h1_get (headers, "transfer-encoding", &te)) < 0)
    return -1;
  return r == 0 || only_chunked (te);
}
