/* The byte tests of decoders.py that pick a decoder (Decoder._decode, _plausible, the
 * regular expressions _B64_RUN, _HEX_RUN and _FORM), for expand.c: each gives exactly the
 * Python test's answer (tests/detect/test_expand.py). */

#ifndef EGRESS_BYTETESTS_H
#define EGRESS_BYTETESTS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Each byte's classes, looked up rather than tested with chains of comparisons: these tests
 * run over every byte of every layer (the base64 runs in text above all). */
enum {
  C_TEXT = 1,  /* _printable's text: printable ASCII, tab, newline, carriage return */
  C_SPACE = 2, /* what bytes.strip() strips */
  C_B64 = 4,   /* _B64_RUN's class: A-Z a-z 0-9 + / _ - */
  C_HEX = 8,   /* 0-9 a-f A-F */
  C_NAME = 16, /* _FORM's name class [\w.%\[\]$-] (\w of bytes: ASCII letters, digits, _) */
};
#define C_ALNUM (C_TEXT | C_B64 | C_NAME)

static const unsigned char byte_class[256] = {
  ['\t'] = C_TEXT | C_SPACE, ['\n'] = C_TEXT | C_SPACE, ['\v'] = C_SPACE, ['\f'] = C_SPACE,
  ['\r'] = C_TEXT | C_SPACE, [' '] = C_TEXT | C_SPACE,
  ['!' ... '#'] = C_TEXT, ['$' ... '%'] = C_TEXT | C_NAME, ['&' ... '*'] = C_TEXT,
  ['+'] = C_TEXT | C_B64, [','] = C_TEXT, ['-'] = C_ALNUM, ['.'] = C_TEXT | C_NAME,
  ['/'] = C_TEXT | C_B64, ['0' ... '9'] = C_ALNUM | C_HEX, [':' ... '@'] = C_TEXT,
  ['A' ... 'F'] = C_ALNUM | C_HEX, ['G' ... 'Z'] = C_ALNUM, ['['] = C_TEXT | C_NAME,
  ['\\'] = C_TEXT, [']'] = C_TEXT | C_NAME, ['^'] = C_TEXT, ['_'] = C_ALNUM, ['`'] = C_TEXT,
  ['a' ... 'f'] = C_ALNUM | C_HEX, ['g' ... 'z'] = C_ALNUM, ['{' ... '~'] = C_TEXT,
};

static inline int text_byte (unsigned char c)
{
  return byte_class[c] & C_TEXT;
}

/* decoders._printable: the share of text bytes in the first 4096. */
static inline double printable (const unsigned char *b, Py_ssize_t n)
{
  if (n == 0)
    return 0.0;
  Py_ssize_t head = n < 4096 ? n : 4096, other = 0;
  for (Py_ssize_t i = 0; i < head; i++)
    other += !text_byte (b[i]);
  return 1.0 - (double) other / (double) head;
}

static inline int space (unsigned char c) /* bytes.strip()'s */
{
  return byte_class[c] & C_SPACE;
}

/* decoders._plausible */
static inline int plausible (const unsigned char *b, Py_ssize_t n)
{
  if (n < 4)
    return 0;
  if ((b[0] == 0x1f && b[1] == 0x8b) || b[0] == 0x78)
    return 1;
  Py_ssize_t i = 0;
  while (i < n && space (b[i]))
    i++;
  if (i < n && (b[i] == '{' || b[i] == '['))
    return 1;
  double p = printable (b, n);
  if (p > 0.85)
    return 1;
  PyObject *u = PyUnicode_DecodeUTF8 ((const char *) b, n, NULL);
  if (u == NULL)
  {
    PyErr_Clear ();
    return 0;
  }
  Py_DECREF (u);
  return p > 0.6;
}

static inline int b64_byte (unsigned char c) /* _B64_RUN's class */
{
  return byte_class[c] & C_B64;
}

/* _B64_RUN.fullmatch: 24 or more of the class, then at most two '='. */
static inline int b64_whole (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t i = 0;
  while (i < n && b64_byte (s[i]))
    i++;
  if (i < 24)
    return 0;
  Py_ssize_t pad = n - i;
  if (pad > 2)
    return 0;
  for (; i < n; i++)
    if (s[i] != '=')
      return 0;
  return 1;
}

static inline int hexdigit (unsigned char c)
{
  return byte_class[c] & C_HEX;
}

/* _HEX_RUN.fullmatch: 16 or more pairs of hex digits (the \b at both ends always hold). */
static inline int hex_whole (const unsigned char *s, Py_ssize_t n)
{
  if (n < 32 || n % 2)
    return 0;
  for (Py_ssize_t i = 0; i < n; i++)
    if (!hexdigit (s[i]))
      return 0;
  return 1;
}

static inline int name_byte (unsigned char c) /* _FORM's [\w.%\[\]$-] */
{
  return byte_class[c] & C_NAME;
}

/* _FORM.match: '&'-separated parts, each a non-empty name of the class, '=', anything. */
static inline int form_whole (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t i = 0;
  for (;;)
  {
    Py_ssize_t start = i;
    while (i < n && name_byte (s[i]))
      i++;
    if (i == start || i == n || s[i] != '=')
      return 0;
    while (i < n && s[i] != '&')
      i++;
    if (i == n)
      return 1;
    i++; /* '&' */
  }
}

#endif
