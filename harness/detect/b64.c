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

static inline int value (unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

PyObject *b64_decode (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t body = 0;
  while (body < n && value (s[body]) >= 0)
    body++;
  for (Py_ssize_t i = body; i < n; i++)
    if (s[i] != '=')
      return Py_NewRef (Py_None);
  Py_ssize_t e = (n - body) + (4 - n % 4) % 4;
  Py_ssize_t b = body % 4;
  if ((body == 0 && e > 0) || b == 1 || (b == 2 && e != 2) || (b == 3 && e != 1))
    return Py_NewRef (Py_None);
  PyObject *out = PyBytes_FromStringAndSize (NULL, body / 4 * 3 + (b ? b - 1 : 0));
  if (out == NULL)
    return NULL;
  unsigned char *o = (unsigned char *) PyBytes_AS_STRING (out);
  Py_ssize_t i = 0;
  for (; i + 4 <= body; i += 4)
  {
    unsigned int q = (unsigned int) value (s[i]) << 18 | (unsigned int) value (s[i + 1]) << 12
        | (unsigned int) value (s[i + 2]) << 6 | (unsigned int) value (s[i + 3]);
    *o++ = (unsigned char) (q >> 16);
    *o++ = (unsigned char) (q >> 8);
    *o++ = (unsigned char) q;
  }
  if (b >= 2)
  {
    unsigned int q = (unsigned int) value (s[i]) << 18 | (unsigned int) value (s[i + 1]) << 12
        | (b == 3 ? (unsigned int) value (s[i + 2]) << 6 : 0);
    *o++ = (unsigned char) (q >> 16);
    if (b == 3)
      *o++ = (unsigned char) (q >> 8);
  }
  return out;
}
