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

#include <stdint.h>

/* A byte's value in the base64 alphabet A-Z a-z 0-9 + /, with '-' as '+' and '_' as '/';
   -1 for any other byte. A constant expression, to make the tables below of. */
#define VALUE(c) ((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' \
    : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 \
    : (c) == '+' || (c) == '-' ? 62 : (c) == '/' || (c) == '_' ? 63 : -1)

/* A byte's value at place k (0 to 3) of a group, shifted to the bits it gives the group's
   24, or BAD above them for a byte that is no base64 character: a group's four or'ed are
   its three bytes, and whether one was not. */
#define BAD 0x80000000u
#define PLACED(c, k) (VALUE (c) < 0 ? BAD : (uint32_t) VALUE (c) << (18 - 6 * (k)))
#define ROW4(k, c) PLACED (c, k), PLACED ((c) + 1, k), PLACED ((c) + 2, k), PLACED ((c) + 3, k)
#define ROW16(k, c) ROW4 (k, c), ROW4 (k, (c) + 4), ROW4 (k, (c) + 8), ROW4 (k, (c) + 12)
#define ROW64(k, c) ROW16 (k, c), ROW16 (k, (c) + 16), ROW16 (k, (c) + 32), ROW16 (k, (c) + 48)
#define TABLE(k) { ROW64 (k, 0), ROW64 (k, 64), ROW64 (k, 128), ROW64 (k, 192) }
static const uint32_t PLACE[4][256] = { TABLE (0), TABLE (1), TABLE (2), TABLE (3) };

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

Py_ssize_t b64_size_if_valid (const unsigned char *s, Py_ssize_t n)
{
  /* the body can only be what is before the last run of '=': a byte that is no base64
     character before it is b64_decode_valid's to find */
  Py_ssize_t body = n;
  while (body > 0 && s[body - 1] == '=')
    body--;
  Py_ssize_t e = (n - body) + (4 - n % 4) % 4;
  Py_ssize_t b = body % 4;
  if ((body == 0 && e > 0) || b == 1 || (b == 2 && e != 2) || (b == 3 && e != 1))
    return -1;
  return body / 4 * 3 + (b ? b - 1 : 0);
}

int b64_decode_valid (const unsigned char *s, Py_ssize_t size, unsigned char *o)
{
  uint32_t seen = 0; /* every group's bits or'ed: BAD once a byte was no base64 character */
  for (; size >= 3; s += 4, size -= 3)
  {
    uint32_t q = PLACE[0][s[0]] | PLACE[1][s[1]] | PLACE[2][s[2]] | PLACE[3][s[3]];
    seen |= q;
    *o++ = (unsigned char) (q >> 16);
    *o++ = (unsigned char) (q >> 8);
    *o++ = (unsigned char) q;
  }
  if (size > 0) /* a last group of 2 or 3 characters: 1 or 2 bytes */
  {
    uint32_t q = PLACE[0][s[0]] | PLACE[1][s[1]] | (size == 2 ? PLACE[2][s[2]] : 0);
    seen |= q;
    *o++ = (unsigned char) (q >> 16);
    if (size == 2)
      *o = (unsigned char) (q >> 8);
  }
  return !(seen & BAD);
}

PyObject *b64_decode (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t size = b64_size_if_valid (s, n);
  if (size < 0)
    return Py_NewRef (Py_None);
  PyObject *out = PyBytes_FromStringAndSize (NULL, size);
  if (out != NULL && !b64_decode_valid (s, size, (unsigned char *) PyBytes_AS_STRING (out)))
    Py_SETREF (out, Py_NewRef (Py_None));
  return out;
}
