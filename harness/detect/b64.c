/* decoders._b64decode in C, exactly (tests/detect/test_b64.py compares the two):
 *
 *   t = s with '-' read as '+' and '_' as '/', then '=' appended to a multiple of 4;
 *   base64.b64decode(t, validate=True), i.e. binascii.a2b_base64(t, strict_mode=True) of
 *   Python 3.11; None where that raises.
 *
 * On such a t, 3.11's strict mode accepts exactly: base64 characters (the body), then only
 * '=' (e of them, counting the appended ones), where
 *   - an empty body has no '=' (else "Leading padding not allowed"): b"" decodes to b"";
 *   - body % 4 == 0: any e (3.11 skips '=' after a whole group; 3.13 would not);
 *   - body % 4 == 1: never (a character too many);
 *   - body % 4 == 2: e == 2, and 3: e == 1 (fewer is "Incorrect padding", more is "Excess
 *     data after padding").
 * Whitespace or any other byte anywhere is refused, and a base64 character after an '='
 * ("Discontinuous padding"). The bits of a last partial group that are not whole bytes are
 * dropped, not checked, as binascii does.
 */

#include "b64.h"

/* Each byte's value in the base64 alphabet A-Z a-z 0-9 + /, with '-' as '+' and '_' as '/';
 * -1 for any other byte. */
static const signed char B64_VALUE[256] = {
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, 62, -1, 63,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
  -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
  -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static inline int value (unsigned char c)
{
  return B64_VALUE[c];
}

/* Each byte's alphabet, for b64_blob: the other alphabet's is its own ^ 1. */
enum { NONE, BOTH, STANDARD = 2, URLSAFE = 3 };
static const unsigned char ALPHABET[256] = {
  ['0' ... '9'] = BOTH, ['A' ... 'Z'] = BOTH, ['a' ... 'z'] = BOTH,
  ['+'] = STANDARD, ['/'] = STANDARD, ['-'] = URLSAFE, ['_'] = URLSAFE,
};

Py_ssize_t b64_blob (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t i = 0;
  while (i < n && ALPHABET[s[i]] == BOTH)
    i++;
  if (i == n || ALPHABET[s[i]] == NONE)
    return i;
  unsigned char other = ALPHABET[s[i]] ^ 1;
  for (i++; i < n && ALPHABET[s[i]] != NONE && ALPHABET[s[i]] != other; i++)
    ;
  return i;
}

Py_ssize_t b64_size (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t body = 0;
  while (body < n && value (s[body]) >= 0)
    body++;
  for (Py_ssize_t i = body; i < n; i++)
    if (s[i] != '=')
      return -1;
  Py_ssize_t e = (n - body) + (4 - n % 4) % 4;
  Py_ssize_t b = body % 4;
  if ((body == 0 && e > 0) || b == 1 || (b == 2 && e != 2) || (b == 3 && e != 1))
    return -1;
  return body / 4 * 3 + (b ? b - 1 : 0);
}

void b64_decode_to (const unsigned char *s, Py_ssize_t size, unsigned char *o)
{
  Py_ssize_t i = 0;
  for (; size >= 3; i += 4, size -= 3)
  {
    unsigned int q = (unsigned int) value (s[i]) << 18 | (unsigned int) value (s[i + 1]) << 12
        | (unsigned int) value (s[i + 2]) << 6 | (unsigned int) value (s[i + 3]);
    *o++ = (unsigned char) (q >> 16);
    *o++ = (unsigned char) (q >> 8);
    *o++ = (unsigned char) q;
  }
  if (size > 0) /* a last group of 2 or 3 characters: 1 or 2 bytes */
  {
    unsigned int q = (unsigned int) value (s[i]) << 18 | (unsigned int) value (s[i + 1]) << 12
        | (size == 2 ? (unsigned int) value (s[i + 2]) << 6 : 0);
    *o++ = (unsigned char) (q >> 16);
    if (size == 2)
      *o++ = (unsigned char) (q >> 8);
  }
}

PyObject *b64_decode (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t size = b64_size (s, n);
  if (size < 0)
    return Py_NewRef (Py_None);
  PyObject *out = PyBytes_FromStringAndSize (NULL, size);
  if (out != NULL)
    b64_decode_to (s, size, (unsigned char *) PyBytes_AS_STRING (out));
  return out;
}
