/* A growable byte buffer, for the C extensions that write text into one (parse/storejson.h's
 * JBuf; detect/jsonbuf.h's Buf was one too, and is now a bytes object it returns): each kept
 * its own copy of the same struct, doubling loop and put. Header only, everything static inline: the check that there is room is a
 * compare in the caller, which runs it for every string and number it writes. */

#ifndef GROWBUF_H
#define GROWBUF_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

/* data[:len] used of cap bytes (PyMem) */
typedef struct
{
  char *data;
  size_t len, cap;
} GrowBuf;

/* b->data reallocated to hold more bytes past b->len: cap doubled from first (when 0) until
 * they fit. 0, or -1 with MemoryError (b as it was). */
static inline int growbuf_grow (GrowBuf *b, size_t more, size_t first)
{
  size_t c = b->cap ? b->cap : first;
  while (c - b->len < more)
  {
    if (c > PY_SSIZE_T_MAX / 2)
    {
      PyErr_NoMemory ();
      return -1;
    }
    c *= 2;
  }
  char *q = PyMem_Realloc (b->data, c);
  if (q == NULL)
  {
    PyErr_NoMemory ();
    return -1;
  }
  b->data = q;
  b->cap = c;
  return 0;
}

/* Room for more bytes past b->len: growbuf_grow when there is not. 0, or -1 with
 * MemoryError. */
static inline int growbuf_reserve (GrowBuf *b, size_t more, size_t first)
{
  return b->cap - b->len >= more ? 0 : growbuf_grow (b, more, first);
}

/* s[:n] appended. 0, or -1 with MemoryError. */
static inline int growbuf_put (GrowBuf *b, const char *s, size_t n, size_t first)
{
  if (growbuf_reserve (b, n, first) < 0)
    return -1;
  memcpy (b->data + b->len, s, n);
  b->len += n;
  return 0;
}

#endif
