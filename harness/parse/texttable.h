/* Texts kept between calls by their bytes, for the C that decodes header fields (the HTTP/2
 * reader's h2texts.c, _http1's h1head.c): a connection repeats the same few names and
 * values, and finding a str costs less than making it again. A table is an array of TT_SLOTS
 * strs, each slot keeping the last text that hashed there, for the module's life; a str
 * cannot change, so drafts sharing one cannot tell. Whoever fills a table says which texts
 * it holds (what their bytes decode to); every one is of the one-byte kind, where each
 * character is its byte.
 *
 * Header only, everything static: each file that includes it keeps its own tables. */

#ifndef TEXTTABLE_H
#define TEXTTABLE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define TT_SLOTS 256
#define TT_MAX 256 /* longer texts are decoded each time */

/* The slot of the bytes p[0..n), n <= TT_MAX */
static inline size_t tt_slot (const uint8_t *p, size_t n)
{
  uint64_t h = (uint64_t) n * 0x9E3779B97F4A7C15u;
  if (n >= 8) /* the first and last eight bytes */
  {
    uint64_t a, b;
    memcpy (&a, p, 8);
    memcpy (&b, p + n - 8, 8);
    h ^= a * 0xFF51AFD7ED558CCDu ^ (b * 0xC4CEB9FE1A85EC53u >> 7);
  }
  else if (n >= 4) /* the first and last four, which hold every byte */
  {
    uint32_t a, b;
    memcpy (&a, p, 4);
    memcpy (&b, p + n - 4, 4);
    h ^= a * 0xFF51AFD7ED558CCDu ^ b * 0xC4CEB9FE1A85EC53u;
  }
  else if (n > 0) /* the first, middle and last byte: every one (a byte at a time cost
                   * four or five instructions a byte, and most names and values are short) */
    h ^= (uint64_t) (p[0] | (uint32_t) p[n / 2] << 8 | (uint32_t) p[n - 1] << 16)
         * 0xFF51AFD7ED558CCDu;
  return (size_t) (h >> 40) & (TT_SLOTS - 1);
}

/* p[0..n) == q[0..n): short texts compared with loads here instead of a call to memcmp */
static inline int tt_same (const uint8_t *p, const uint8_t *q, size_t n)
{
  uint64_t a, b, c, d;
  if (n < 4)
    return n == 0 || (p[0] == q[0] && p[n / 2] == q[n / 2] && p[n - 1] == q[n - 1]);
  if (n < 8)
  {
    uint32_t w, x, y, z;
    memcpy (&w, p, 4), memcpy (&x, q, 4), memcpy (&y, p + n - 4, 4), memcpy (&z, q + n - 4, 4);
    return w == x && y == z;
  }
  if (n > 16)
    return memcmp (p, q, n) == 0;
  memcpy (&a, p, 8), memcpy (&b, q, 8), memcpy (&c, p + n - 8, 8), memcpy (&d, q + n - 8, 8);
  return a == b && c == d;
}

/* The str in table[slot] if its characters are the bytes p[0..n), a new reference; NULL
 * if not (no exception) */
static inline PyObject *tt_text (PyObject **table, size_t slot, const uint8_t *p, size_t n)
{
  PyObject *s = table[slot];
  if (s != NULL && (size_t) PyUnicode_GET_LENGTH (s) == n
      && tt_same (PyUnicode_1BYTE_DATA (s), p, n))
    return Py_NewRef (s);
  return NULL;
}

/* (n, v) as a new tuple, or the one made last of these two strs if pairs (TT_SLOTS tuples)
 * holds it. Only texts short enough for the tables are paired there, and a tuple held
 * keeps its two strs alive, so the same two pointers are the same two texts. */
static inline PyObject *tt_pair (PyObject **pairs, PyObject *n, PyObject *v)
{
  if (PyUnicode_GET_LENGTH (n) > TT_MAX || PyUnicode_GET_LENGTH (v) > TT_MAX)
    return PyTuple_Pack (2, n, v);
  uint64_t h = (uint64_t) (uintptr_t) n * 0x9E3779B97F4A7C15u
    + (uint64_t) (uintptr_t) v * 0xC4CEB9FE1A85EC53u;
  size_t slot = (size_t) (h >> 40) & (TT_SLOTS - 1);
  PyObject *p = pairs[slot];
  if (p != NULL && PyTuple_GET_ITEM (p, 0) == n && PyTuple_GET_ITEM (p, 1) == v)
    return Py_NewRef (p);
  p = PyTuple_Pack (2, n, v);
  if (p != NULL)
    Py_XSETREF (pairs[slot], Py_NewRef (p));
  return p;
}

#endif
