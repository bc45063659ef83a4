/* A growable byte buffer, for the C extensions that write text into one (parse/storejson.h's
 * JBuf): each kept its own copy of the same struct, doubling loop and put. detect/jsonbuf.h's
 * Buf is a bytes object it returns, and grows by growbuf_capacity. Header only, everything
 * static inline: the check that there is room is a compare in the caller, which runs it for
 * every string and number it writes. */

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

/* The capacity a buffer of cap bytes (len used) grows to for more bytes past len: cap
 * doubled from first (when 0) until they fit, at most PY_SSIZE_T_MAX (so a bytes object can
 * hold it too). 0 with *to set, or -1 with MemoryError. */
static inline int growbuf_capacity (size_t cap, size_t len, size_t more, size_t first,
                                    size_t *to)
{
  size_t c = cap ? cap : first;
  while (c - len < more)
  {
    if (c > PY_SSIZE_T_MAX / 2)
    {
      PyErr_NoMemory ();
      return -1;
    }
    c *= 2;
  }
  *to = c;
  return 0;
}

/* b->data reallocated to hold more bytes past b->len (growbuf_capacity). 0, or -1 with
 * MemoryError (b as it was). */
static inline int growbuf_grow (GrowBuf *b, size_t more, size_t first)
{
  size_t c;
  if (growbuf_capacity (b->cap, b->len, more, first, &c) < 0)
    return -1;
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
