/* %-escapes read as urllib.parse reads them, for the form decoder (_detect.unquote) and the
 * query of a message's URL (roots.c); and the hex digit's value that they and JSON's \u
 * escapes (jsonparse.c) share. One copy, so the three cannot come to read a digit apart. */

#ifndef EGRESS_UNQUOTE_H
#define EGRESS_UNQUOTE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* c's value as a hex digit (either case); -1 when it is none. */
static inline int hex_value (unsigned char c)
{
  return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ?
      (c | 0x20) - 'a' + 10 : -1;
}

/* urllib.parse.unquote_to_bytes of s[0, n) into o (n bytes at least), with '+' read as ' '
   first when plus (parse_qsl's order); its length. Each '%' and two hex digits is that byte;
   any other '%' stays as it is, and the bytes after it are read again. */
static inline Py_ssize_t unquote (const unsigned char *s, Py_ssize_t n, unsigned char *o,
    int plus)
{
  Py_ssize_t k = 0;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = hex_value (s[i + 1])) >= 0
        && (lo = hex_value (s[i + 2])) >= 0)
    {
      o[k++] = (unsigned char) (hi << 4 | lo);
      i += 2;
    }
    else
      o[k++] = plus && s[i] == '+' ? ' ' : s[i];
  }
  return k;
}

#endif
