/* JSON texts as rowcodec.Dumps writes them (json's C encoder with separators (",", ":"),
 * ensure_ascii, allow_nan, no sort), for plain lists and flat dicts; see storejson.h. */

#include "storejson.h"
#include "../detect/words.h"
#include "../growbuf.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static const char HEX[] = "0123456789abcdef"; /* Py_hexdigits, as json escapes */

void jbuf_free (JBuf *b)
{
  PyMem_Free (b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* 256 bytes first: a store row's JSON texts are short */
static inline int reserve (JBuf *b, size_t more)
{
  return growbuf_reserve (b, more, 256);
}

static inline int put (JBuf *b, const char *s, size_t n)
{
  return growbuf_put (b, s, n, 256);
}

static char *hex4 (char *o, Py_UCS4 c)
{
  *o++ = '\\';
  *o++ = 'u';
  *o++ = HEX[(c >> 12) & 0xf];
  *o++ = HEX[(c >> 8) & 0xf];
  *o++ = HEX[(c >> 4) & 0xf];
  *o++ = HEX[c & 0xf];
  return o;
}

/* One character as json.encoder's encode_basestring_ascii writes it: printable ASCII but "
 * and \ as it is, those two and \b \f \n \r \t as two-character escapes, everything else
 * as \uXXXX (lowercase), a character past the BMP as its UTF-16 surrogate pair. Writes at
 * o (room for 12 bytes), returns the end. */
static inline char *put_char (char *o, Py_UCS4 c, int *sur)
{
  if (c >= ' ' && c <= '~' && c != '\\' && c != '"')
  {
    *o++ = (char) c;
    return o;
  }
  switch (c)
  {
    case '\\': *o++ = '\\'; *o++ = '\\'; break;
    case '"': *o++ = '\\'; *o++ = '"'; break;
    case '\b': *o++ = '\\'; *o++ = 'b'; break;
    case '\f': *o++ = '\\'; *o++ = 'f'; break;
    case '\n': *o++ = '\\'; *o++ = 'n'; break;
    case '\r': *o++ = '\\'; *o++ = 'r'; break;
    case '\t': *o++ = '\\'; *o++ = 't'; break;
    default:
      if (c >= 0x10000)
      {
        o = hex4 (o, 0xd800 | (((c - 0x10000) >> 10) & 0x3ff));
        o = hex4 (o, 0xdc00 | ((c - 0x10000) & 0x3ff));
      }
      else
      {
        if (c >= 0xd800 && c <= 0xdfff)
          *sur = 1;
        o = hex4 (o, c);
      }
  }
  return o;
}

/* Whether none of 8 ASCII bytes needs an escape: no control, '"', '\' or DEL among them */
static inline int plain8 (uint64_t x)
{
  return (control_bytes (x) | bytes_equal (x, '"') | bytes_equal (x, '\\')
          | bytes_equal (x, 0x7f)) == 0;
}

/* Whether put_char writes an ASCII byte as it is: printable, and neither '"' nor '\\' */
static const unsigned char PLAIN[128] = {
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
  1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 /* 0x70 */
};

/* A str that is not ASCII as put_str writes it: each character by put_char. */
static __attribute__ ((noinline)) int put_wide (JBuf *b, PyObject *s, int *sur)
{
  Py_ssize_t n = PyUnicode_GET_LENGTH (s);
  int kind = PyUnicode_KIND (s);
  const void *data = PyUnicode_DATA (s);
  size_t most = kind == PyUnicode_4BYTE_KIND ? 12 : 6; /* bytes one character can take */
  if ((size_t) n > (PY_SSIZE_T_MAX - 2) / most)
  {
    PyErr_NoMemory ();
    return -1;
  }
  if (reserve (b, 2 + (size_t) n * most) < 0)
    return -1;
  char *o = b->data + b->len;
  *o++ = '"';
  for (Py_ssize_t i = 0; i < n; i++)
    o = put_char (o, PyUnicode_READ (kind, data, i), sur);
  *o++ = '"';
  b->len = (size_t) (o - b->data);
  return 0;
}

/* A str as json.encoder's encode_basestring_ascii writes it (put_char). An ASCII one,
 * most of them (header names and values), is copied 8 bytes at a time where none of
 * them needs an escape, and what is left a byte at a time by PLAIN: most are shorter than
 * 8 (~6 bytes left a string on the 20 MB benchmark), which put_char read through
 * PyUnicode_READ's switch on the kind. Inline, the ASCII part: called for every string
 * (~190,000 on that benchmark), a call's own work was ~25 instructions of each. */
static inline __attribute__ ((always_inline)) int put_str (JBuf *b, PyObject *s, int *sur)
{
  if (!PyUnicode_IS_ASCII (s))
    return put_wide (b, s, sur);
  Py_ssize_t n = PyUnicode_GET_LENGTH (s);
  const unsigned char *p = PyUnicode_DATA (s);
  if ((size_t) n > (PY_SSIZE_T_MAX - 2) / 6) /* an escape is 6 bytes at most */
  {
    PyErr_NoMemory ();
    return -1;
  }
  if (reserve (b, 2 + (size_t) n * 6) < 0)
    return -1;
  char *o = b->data + b->len;
  *o++ = '"';
  Py_ssize_t i = 0;
  for (; i + 8 <= n; i += 8)
  {
    uint64_t x;
    memcpy (&x, p + i, 8);
    if (plain8 (x))
    {
      memcpy (o, p + i, 8);
      o += 8;
    }
    else
      for (int k = 0; k < 8; k++)
        o = put_char (o, p[i + k], sur);
  }
  for (; i < n; i++)
    if (PLAIN[p[i]])
      *o++ = (char) p[i];
    else
      o = put_char (o, p[i], sur);
  *o++ = '"';
  b->len = (size_t) (o - b->data);
  return 0;
}

/* The items of a list or tuple (borrowed), and 1; 0 when v is neither (exactly). An empty
 * list's items may be NULL. */
static int items (PyObject *v, PyObject ***it, Py_ssize_t *n)
{
  if (PyList_CheckExact (v))
  {
    *n = PyList_GET_SIZE (v);
    *it = ((PyListObject *) v)->ob_item;
    return 1;
  }
  if (PyTuple_CheckExact (v))
  {
    *n = PyTuple_GET_SIZE (v);
    *it = ((PyTupleObject *) v)->ob_item;
    return 1;
  }
  return 0;
}

/* Nothing below calls back into Python between reading a list's items and using them, so
 * the list cannot change under the loop. */
int json_strings (JBuf *b, PyObject *v, int *sur)
{
  Py_ssize_t n;
  PyObject **it;
  if (!items (v, &it, &n))
    return 0;
  b->len = 0;
  if (put (b, "[", 1) < 0)
    return -1;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    if (!PyUnicode_CheckExact (it[i]))
      return 0;
    if ((i && put (b, ",", 1) < 0) || put_str (b, it[i], sur) < 0)
      return -1;
  }
  return put (b, "]", 1) < 0 ? -1 : 1;
}

int json_string_lists (JBuf *b, PyObject *v, int *sur)
{
  Py_ssize_t n;
  PyObject **it;
  if (!items (v, &it, &n))
    return 0;
  b->len = 0;
  if (put (b, "[", 1) < 0)
    return -1;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    Py_ssize_t m;
    PyObject **inner;
    if (!items (it[i], &inner, &m))
      return 0;
    if ((i && put (b, ",", 1) < 0) || put (b, "[", 1) < 0)
      return -1;
    for (Py_ssize_t j = 0; j < m; j++)
    {
      if (!PyUnicode_CheckExact (inner[j]))
        return 0;
      if ((j && put (b, ",", 1) < 0) || put_str (b, inner[j], sur) < 0)
        return -1;
    }
    if (put (b, "]", 1) < 0)
      return -1;
  }
  return put (b, "]", 1) < 0 ? -1 : 1;
}

/* "00" to "99" */
static const char TWO[201] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

size_t int_text (char *out, long long x)
{
  /* the magnitude as unsigned: -LLONG_MIN does not fit a long long */
  unsigned long long u = x < 0 ? 0ULL - (unsigned long long) x : (unsigned long long) x;
  /* its digits counted, then written from the last two at a time (a digit at a time into
   * a buffer, then reversed, was ~100 instructions a key id) */
  size_t sign = x < 0, n = 1;
  for (unsigned long long t = u; t >= 10; t /= 10)
    n++;
  out[0] = '-'; /* the first digit's place when there is no sign */
  char *o = out + sign + n;
  for (; u >= 100; u /= 100)
  {
    o -= 2;
    memcpy (o, TWO + 2 * (u % 100), 2);
  }
  if (u >= 10)
    memcpy (o - 2, TWO + 2 * u, 2);
  else
    o[-1] = (char) ('0' + u);
  return sign + n;
}

/* An int as json writes it (int.__repr__), when it is one (not a bool) within 64 bits;
 * 0 otherwise. */
static int put_int (JBuf *b, PyObject *v)
{
  if (!PyLong_CheckExact (v))
    return 0;
  int overflow;
  long long x = PyLong_AsLongLongAndOverflow (v, &overflow);
  if (overflow)
    return 0;
  if (x == -1 && PyErr_Occurred ())
    return -1;
  if (reserve (b, INT_TEXT_MAX) < 0)
    return -1;
  b->len += int_text (b->data + b->len, x);
  return 1;
}

int json_ints (JBuf *b, PyObject *v)
{
  Py_ssize_t n;
  PyObject **it;
  if (!items (v, &it, &n))
    return 0;
  b->len = 0;
  if (put (b, "[", 1) < 0)
    return -1;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    if (i && put (b, ",", 1) < 0)
      return -1;
    int r = put_int (b, it[i]);
    if (r <= 0)
      return r;
  }
  return put (b, "]", 1) < 0 ? -1 : 1;
}

/* A scalar as json writes it: null, true, false, an int, a finite float (float.__repr__),
 * a str; 0 for anything else. */
static int put_scalar (JBuf *b, PyObject *v, int *sur)
{
  if (v == Py_None)
    return put (b, "null", 4) < 0 ? -1 : 1;
  if (v == Py_True)
    return put (b, "true", 4) < 0 ? -1 : 1;
  if (v == Py_False)
    return put (b, "false", 5) < 0 ? -1 : 1;
  if (PyUnicode_CheckExact (v))
    return put_str (b, v, sur) < 0 ? -1 : 1;
  if (PyFloat_CheckExact (v))
  {
    double x = PyFloat_AS_DOUBLE (v);
    if (!isfinite (x))
      return 0;
    char *text = PyOS_double_to_string (x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL)
      return -1;
    int r = put (b, text, strlen (text));
    PyMem_Free (text);
    return r < 0 ? -1 : 1;
  }
  return put_int (b, v);
}

int json_put_str (JBuf *b, PyObject *s, int *sur)
{
  return put_str (b, s, sur);
}

int json_put_int (JBuf *b, PyObject *v)
{
  return put_int (b, v);
}

int json_flat_dict (JBuf *b, PyObject *v, int *sur)
{
  if (!PyDict_CheckExact (v))
    return 0;
  b->len = 0;
  if (put (b, "{", 1) < 0)
    return -1;
  Py_ssize_t pos = 0, i = 0;
  PyObject *key, *value;
  while (PyDict_Next (v, &pos, &key, &value))
  {
    if (!PyUnicode_CheckExact (key))
      return 0;
    if ((i++ && put (b, ",", 1) < 0) || put_str (b, key, sur) < 0 || put (b, ":", 1) < 0)
      return -1;
    int r = put_scalar (b, value, sur);
    if (r <= 0)
      return r;
  }
  return put (b, "}", 1) < 0 ? -1 : 1;
}

int json_column (JBuf *b, int j, PyObject *v, PyObject *dumps, PyObject **text, int *fast)
{
  int sur = 0, r;
  switch (j)
  {
    case J_HEADERS: r = json_string_lists (b, v, &sur); break;
    case J_EVENTS: r = json_ints (b, v); break;
    case J_META: r = json_flat_dict (b, v, &sur); break;
    default: r = json_strings (b, v, &sur);
  }
  if (r < 0)
    return -1;
  if (r > 0)
  {
    *fast &= !sur;
    return 0;
  }
  *fast = 0;
  *text = PyObject_CallOneArg (dumps, v);
  if (*text != NULL && !PyUnicode_Check (*text))
  {
    PyErr_SetString (PyExc_TypeError, "dumps gave no str");
    Py_CLEAR (*text);
  }
  return *text == NULL ? -1 : 0;
}
