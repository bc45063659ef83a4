/* JSON text into a growing buffer, for findinglines.c's findings.json and jsonindent.c's
 * indented documents: strings escaped as json's encode_basestring escapes them, then UTF-8
 * encoded as the harness's JSON files are written (a lone surrogate as its "\udxxx", what
 * their backslashreplace writes). The buffer is the bytes object returned. */

#ifndef JSONBUF_H
#define JSONBUF_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "../growbuf.h"


#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* A growing buffer that is a bytes object (bytes, data[:len] used of cap), 64 KiB first: the
   text is the object the caller returns, resized to its length (buf_bytes), where a buffer
   of its own was copied into a new bytes object and freed: for the 200 MB benchmark's 40 MB
   of findings.json, a copy, the new object's page faults and the old one's munmap */
typedef struct
{
  char *data;
  size_t len, cap;
  PyObject *bytes;
} Buf;

#define BUF_FIRST ((size_t) 1 << 16)

/* b->bytes resized to hold more bytes past b->len, its size doubled from BUF_FIRST
   (growbuf_capacity). 0, or -1 with MemoryError (b then holds no text: _PyBytes_Resize lets
   go of what it cannot resize; a size too large leaves b as it was) */
static int buf_grow (Buf *b, size_t more)
{
  size_t c;
  if (growbuf_capacity (b->cap, b->len, more, BUF_FIRST, &c) < 0)
    return -1;
  if (b->bytes == NULL ? (b->bytes = PyBytes_FromStringAndSize (NULL, (Py_ssize_t) c)) == NULL
                       : _PyBytes_Resize (&b->bytes, (Py_ssize_t) c) < 0)
  {
    *b = (Buf) { NULL, 0, 0, NULL };
    return -1;
  }
  b->data = PyBytes_AS_STRING (b->bytes);
  b->cap = c;
  return 0;
}

static inline int reserve (Buf *b, size_t n)
{
  return b->cap - b->len >= n ? 0 : buf_grow (b, n);
}

/* The text as a bytes object (b then empty), or NULL with an exception */
static PyObject *buf_bytes (Buf *b)
{
  PyObject *out = b->bytes;
  if (out == NULL)
    out = PyBytes_FromStringAndSize ("", 0);
  else if (_PyBytes_Resize (&out, (Py_ssize_t) b->len) < 0)
    out = NULL;
  *b = (Buf) { NULL, 0, 0, NULL };
  return out;
}

/* Let go of the text (b then empty) */
static void buf_free (Buf *b)
{
  Py_XDECREF (b->bytes);
  *b = (Buf) { NULL, 0, 0, NULL };
}

/* Inlined always: most calls are PUT's, of a literal, whose copy is then a move or two, not
   a call of a put function and one of memcpy (~50 instructions, 84,000 times for the 20 MB
   run's findings.json) */
static inline __attribute__ ((always_inline)) int put (Buf *b, const char *s, size_t n)
{
  if (reserve (b, n) < 0)
    return -1;
  memcpy (b->data + b->len, s, n);
  b->len += n;
  return 0;
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

#ifdef __SSE2__
/* The r bytes at s (0 < r < 16) in the low bytes of a vector, zeros above, read without a
   byte past them: two loads that overlap, the second shifted past what the first holds */
static inline __m128i load_part (const unsigned char *s, Py_ssize_t r)
{
  uint64_t lo, hi = 0;
  if (r >= 8)
  {
    memcpy (&lo, s, 8);
    if (r > 8)
      memcpy (&hi, s + r - 8, 8), hi >>= 8 * (16 - r);
  }
  else if (r >= 4)
  {
    uint32_t x, y;
    memcpy (&x, s, 4), memcpy (&y, s + r - 4, 4);
    lo = x | (uint64_t) y << 8 * (r - 4); /* the bytes both hold are the same */
  }
  else
    lo = s[0] | (uint64_t) s[r / 2] << 8 * (r / 2) | (uint64_t) s[r - 1] << 8 * (r - 1);
  return _mm_set_epi64x ((long long) hi, (long long) lo);
}
#endif

/* The str s as encode_basestring writes it (quoted), encoded as above */
static inline int put_str (Buf *b, PyObject *s)
{
  Py_ssize_t n = PyUnicode_GET_LENGTH (s);
  /* six bytes at most a character, and sixteen to spare for the copy below */
  if (reserve (b, 18 + 6 * (size_t) n) < 0)
    return -1;
  char *p = b->data + b->len;
  *p++ = '"';
  int kind = PyUnicode_KIND (s);
  const void *data = PyUnicode_DATA (s);
  if (kind == PyUnicode_1BYTE_KIND)
  {
    const unsigned char *u = data;
#ifdef __SSE2__
    /* sixteen bytes at a time (every x86-64 has SSE2; the last few read by load_part),
       copied whole and the first that is not itself found, where the copy stops: an
       excerpt of a JSON body has a quote every few words, which sent the rest of it a byte
       at a time, as the last few bytes of every string were (~10 instructions a byte). A
       quote, a backslash, and below 0x20 or above 0x7f (a negative byte, signed) are not
       themselves */
    const __m128i quote = _mm_set1_epi8 ('"'), backslash = _mm_set1_epi8 ('\\');
    const __m128i space = _mm_set1_epi8 (' ');
    for (Py_ssize_t i = 0; i < n;)
    {
      Py_ssize_t r = n - i < 16 ? n - i : 16;
      __m128i v = r == 16 ? _mm_loadu_si128 ((const __m128i *) (u + i)) : load_part (u + i, r);
      _mm_storeu_si128 ((__m128i *) p, v);
      __m128i stop = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (v, quote),
          _mm_cmpeq_epi8 (v, backslash)), _mm_cmplt_epi8 (v, space));
      unsigned m = (unsigned) _mm_movemask_epi8 (stop) & ((1u << r) - 1);
      if (m == 0)
      {
        i += r, p += r;
        continue;
      }
      int k = __builtin_ctz (m);
      p = put_char (p + k, u[i + k]);
      i += k + 1;
    }
#else
    for (Py_ssize_t i = 0; i < n; i++)
      p = put_char (p, u[i]);
#endif
  }
  else
    for (Py_ssize_t i = 0; i < n; i++)
      p = put_char (p, PyUnicode_READ (kind, data, i));
  *p++ = '"';
  b->len = (size_t) (p - b->data);
  return 0;
}

#endif
