/* JSON text into a growing buffer, for _outjson.c's findings.json and jsonindent.c's
 * indented documents: strings escaped as json's encode_basestring escapes them, then UTF-8
 * encoded as the harness's JSON files are written (a lone surrogate as its "\udxxx", what
 * their backslashreplace writes). */

#ifndef JSONBUF_H
#define JSONBUF_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "../growbuf.h"
#include "words.h"

/* A growing byte buffer, 64 KiB first */
typedef GrowBuf Buf;

static inline int reserve (Buf *b, size_t n)
{
  return growbuf_reserve (b, n, 1 << 16);
}

static inline int put (Buf *b, const char *s, size_t n)
{
  return growbuf_put (b, s, n, 1 << 16);
}

#define PUT(b, lit) put (b, lit, sizeof lit - 1)

static const char HEX[] = "0123456789abcdef";

/* What an ASCII character becomes in a JSON string (encode_basestring's escapes: the
   quote, the backslash, and the C0 controls, five of them by letter): 0 for itself */
static const char SHORT_ESCAPE[128] = {
  ['"'] = '"', ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', ['\b'] = 'b', ['\f'] = 'f',
};

/* The character c's JSON escape then UTF-8 into p, as findings.json has it: its end */
static inline char *put_char (char *p, Py_UCS4 c)
{
  if (c < 0x80)
  {
    if (c >= 0x20 && c != '"' && c != '\\')
      *p++ = (char) c;
    else if (SHORT_ESCAPE[c])
      *p++ = '\\', *p++ = SHORT_ESCAPE[c];
    else
      p[0] = '\\', p[1] = 'u', p[2] = '0', p[3] = '0', p[4] = HEX[c >> 4],
      p[5] = HEX[c & 15], p += 6;
  }
  else if (c < 0x800)
    *p++ = (char) (0xc0 | (c >> 6)), *p++ = (char) (0x80 | (c & 0x3f));
  else if (c >= 0xd800 && c <= 0xdfff) /* what the file's backslashreplace writes */
    p[0] = '\\', p[1] = 'u', p[2] = HEX[c >> 12], p[3] = HEX[(c >> 8) & 15],
    p[4] = HEX[(c >> 4) & 15], p[5] = HEX[c & 15], p += 6;
  else if (c < 0x10000)
    *p++ = (char) (0xe0 | (c >> 12)), *p++ = (char) (0x80 | ((c >> 6) & 0x3f)),
    *p++ = (char) (0x80 | (c & 0x3f));
  else
    *p++ = (char) (0xf0 | (c >> 18)), *p++ = (char) (0x80 | ((c >> 12) & 0x3f)),
    *p++ = (char) (0x80 | ((c >> 6) & 0x3f)), *p++ = (char) (0x80 | (c & 0x3f));
  return p;
}

/* One of the eight bytes of w is a quote, a backslash, a C0 control or not ASCII */
static inline int needs_more (uint64_t w)
{
  return ((w & HIGHS) | control_bytes (w) | bytes_equal (w, '"') | bytes_equal (w, '\\')) != 0;
}

/* The str s as encode_basestring writes it (quoted), encoded as above */
static inline int put_str (Buf *b, PyObject *s)
{
  Py_ssize_t n = PyUnicode_GET_LENGTH (s);
  if (reserve (b, 2 + 6 * (size_t) n) < 0) /* six bytes at most a character */
    return -1;
  char *p = b->data + b->len;
  *p++ = '"';
  int kind = PyUnicode_KIND (s);
  const void *data = PyUnicode_DATA (s);
  if (kind == PyUnicode_1BYTE_KIND)
  {
    const unsigned char *u = data;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8, p += 8) /* eight at a time while none needs more than itself */
    {
      uint64_t w;
      memcpy (&w, u + i, 8);
      if (needs_more (w))
        break;
      memcpy (p, &w, 8);
    }
    for (; i < n; i++)
    {
      unsigned char c = u[i];
      if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
        *p++ = (char) c;
      else
        p = put_char (p, c);
    }
  }
  else
    for (Py_ssize_t i = 0; i < n; i++)
      p = put_char (p, PyUnicode_READ (kind, data, i));
  *p++ = '"';
  b->len = (size_t) (p - b->data);
  return 0;
}

#endif
