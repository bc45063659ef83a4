/* A finding's excerpt rendered from its clip as findings.py's render does it, for the
 * numbering (numbering.c), which renders one for every finding it makes: straight from the
 * bytes where the clip's three parts are printable ASCII (all but ~3% on the benchmark),
 * else decoded and escaped as render does (render_any). tests/detect/test_numbering.py
 * compares it with render on generated clips and every pair of its edge samples. */

#include "excerpt.h"
#include "words.h"

#include <stdint.h>

/* n bytes, all printable ASCII (' ' to '~': what str.isprintable says yes to among them) */
static int printable_ascii (const char *s, Py_ssize_t n)
{
  Py_ssize_t i = 0;
  for (; i + 8 <= n; i += 8)
  {
    uint64_t w = load8 ((const unsigned char *) s + i);
    if ((w & HIGHS) | control_bytes (w) | bytes_equal (w, 0x7f))
      return 0;
  }
  for (; i < n; i++)
    if (s[i] < 0x20 || s[i] > 0x7e)
      return 0;
  return 1;
}

/* render(clip) of a clip of the types render_clip takes, for any bytes: each part
   decoded as bytes.decode("utf-8", "replace") does, then, where a character of the three is
   not printable, each character that is not as \\xNN below U+0100 (_escaped: a printable
   part is itself). A new str, or NULL with an exception */
static PyObject *render_any (PyObject *const *c)
{
  PyObject *part[3] = { NULL, NULL, NULL }, *out = NULL;
  Py_UCS4 *buf = NULL;
  Py_ssize_t n = 2;
  for (int i = 0; i < 3; i++)
  {
    part[i] = PyUnicode_DecodeUTF8 (PyBytes_AS_STRING (c[i]), PyBytes_GET_SIZE (c[i]),
                                    "replace");
    if (part[i] == NULL)
      goto done;
    n += 4 * PyUnicode_GET_LENGTH (part[i]) + 2;
  }
  if ((buf = PyMem_Malloc (sizeof (Py_UCS4) * (size_t) n)) == NULL)
  {
    PyErr_NoMemory ();
    goto done;
  }
  Py_UCS4 *p = buf;
  if (c[3] == Py_True)
    *p++ = 0x2026;
  for (int i = 0; i < 3; i++)
  {
    int kind = PyUnicode_KIND (part[i]);
    const void *data = PyUnicode_DATA (part[i]);
    for (Py_ssize_t j = 0, len = PyUnicode_GET_LENGTH (part[i]); j < len; j++)
    {
      Py_UCS4 ch = PyUnicode_READ (kind, data, j);
      if (ch < 256 && !Py_UNICODE_ISPRINTABLE (ch))
        *p++ = '\\', *p++ = 'x', *p++ = (Py_UCS4) "0123456789abcdef"[ch >> 4],
        *p++ = (Py_UCS4) "0123456789abcdef"[ch & 15];
      else
        *p++ = ch;
    }
    if (i < 2)
      *p++ = i ? ']' : '[', *p++ = i ? ']' : '[';
  }
  if (c[4] == Py_True)
    *p++ = 0x2026;
  out = PyUnicode_FromKindAndData (PyUnicode_4BYTE_KIND, buf, p - buf);
done:
  PyMem_Free (buf);
  for (int i = 0; i < 3; i++)
    Py_XDECREF (part[i]);
  return out;
}

/* render(clip) (findings.py) of a 5-tuple of three bytes and two bools: a new str, made
   here where the three parts are printable ASCII (most), else by render_any; NULL with an
   exception, or without one for a clip of other types */
PyObject *render_clip (PyObject *clip)
{
  if (!PyTuple_CheckExact (clip) || PyTuple_GET_SIZE (clip) != 5)
    return NULL;
  PyObject *const *c = &PyTuple_GET_ITEM (clip, 0);
  if (!PyBytes_CheckExact (c[0]) || !PyBytes_CheckExact (c[1]) || !PyBytes_CheckExact (c[2])
      || !PyBool_Check (c[3]) || !PyBool_Check (c[4]))
    return NULL;
  const char *part[3];
  Py_ssize_t len[3], n = 4; /* "[[" and "]]" */
  for (int i = 0; i < 3; i++)
  {
    part[i] = PyBytes_AS_STRING (c[i]), len[i] = PyBytes_GET_SIZE (c[i]);
    if (!printable_ascii (part[i], len[i]))
      return render_any (c);
    n += len[i];
  }
  int before = c[3] == Py_True, after = c[4] == Py_True;
  n += before + after;
  static const char *const opens = "[[", *const closes = "]]";
  PyObject *s = PyUnicode_New (n, before || after ? 0x2026 : 127);
  if (s == NULL)
    return NULL;
  if (!before && !after)
  {
    char *p = PyUnicode_DATA (s);
    memcpy (p, part[0], (size_t) len[0]), p += len[0];
    memcpy (p, opens, 2), p += 2;
    memcpy (p, part[1], (size_t) len[1]), p += len[1];
    memcpy (p, closes, 2), p += 2;
    memcpy (p, part[2], (size_t) len[2]);
    return s;
  }
  Py_UCS2 *p = PyUnicode_DATA (s);
  if (before)
    *p++ = 0x2026;
  for (int i = 0; i < 3; i++)
  {
    for (Py_ssize_t j = 0; j < len[i]; j++)
      *p++ = (unsigned char) part[i][j];
    if (i < 2)
      *p++ = (Py_UCS2) (i ? ']' : '['), *p++ = (Py_UCS2) (i ? ']' : '[');
  }
  if (after)
    *p++ = 0x2026;
  return s;
}
