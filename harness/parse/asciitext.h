/* Tests of a str against an ASCII literal, for the C that reads Python text: the HTTP
 * parsers (a URL's scheme, a pseudo-header's name) and the classifier (msgfields.h). One
 * test, affix, where each had its own copy.
 *
 * Header only, everything static inline (it is compiled into several extensions). */

#ifndef ASCIITEXT_H
#define ASCIITEXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

/* The str s starts (at_end 0) or ends (1) with the n ASCII characters t: str.startswith
 * and str.endswith of an ASCII text, without PyUnicode_Tailmatch's way there (five tests a
 * message, a fifth of the classifier's instructions through it) */
static inline int affix (PyObject *s, const char *t, Py_ssize_t n, int at_end)
{
  Py_ssize_t len = PyUnicode_GET_LENGTH (s);
  if (len < n)
    return 0;
  Py_ssize_t at = at_end ? len - n : 0;
  int kind = PyUnicode_KIND (s);
  const void *data = PyUnicode_DATA (s);
  if (kind == PyUnicode_1BYTE_KIND)
    return memcmp ((const char *) data + at, t, (size_t) n) == 0;
  for (Py_ssize_t i = 0; i < n; i++)
    if (PyUnicode_READ (kind, data, at + i) != (Py_UCS4) (unsigned char) t[i])
      return 0;
  return 1;
}

/* of a str literal t: s.startswith(t), s.endswith(t), s == t */
#define STARTS(s, t) affix (s, t, sizeof t - 1, 0)
#define ENDS(s, t) affix (s, t, sizeof t - 1, 1)
#define EQUALS(s, t) (PyUnicode_GET_LENGTH (s) == sizeof t - 1 && STARTS (s, t))

#endif
