/* A growable byte buffer's reserve, for the C extensions that write text into one
 * (parse/storejson.h's JBuf, detect/jsonbuf.h's Buf): each kept its own copy of the same
 * doubling loop. Header only, everything static inline: the check that there is room is
 * a compare in the caller, which runs it for every string and number it writes. */

#ifndef GROWBUF_H
#define GROWBUF_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* *p (n bytes used of *cap) reallocated to hold more bytes past them: *cap doubled from
 * first (when 0) until they fit. 0, or -1 with MemoryError (*p as it was). */
static inline int growbuf_grow (char **p, size_t n, size_t *cap, size_t more, size_t first)
{
  size_t c = *cap ? *cap : first;
  while (c - n < more)
  {
    if (c > PY_SSIZE_T_MAX / 2)
    {
      PyErr_NoMemory ();
      return -1;
    }
    c *= 2;
  }
  char *q = PyMem_Realloc (*p, c);
  if (q == NULL)
  {
    PyErr_NoMemory ();
    return -1;
  }
  *p = q;
  *cap = c;
  return 0;
}

/* Room for more bytes past the n used: growbuf_grow when there is not. 0, or -1 with
 * MemoryError. */
static inline int growbuf_reserve (char **p, size_t n, size_t *cap, size_t more, size_t first)
{
  return *cap - n >= more ? 0 : growbuf_grow (p, n, cap, more, first);
}

#endif
