/* A header block's fields as (str, str), for h2headers.c's decode, as _Direction._decode
 * makes them. Names, and values that are ASCII, decoded before are found by their bytes,
 * with the (name, value) tuples made of them: blocks repeat the same few (HPACK's tables
 * are there for it), and finding a str costs less than making it again. */

#include <string.h>
#include "h2frames.h"

/* Each slot of a table keeps the last text that hashed there, for the module's life; a str
 * cannot change, so drafts sharing one cannot tell. */
#define TEXTS 256
#define TEXT_MAX 256 /* longer texts are decoded each time */
static PyObject *names[TEXTS], *values[TEXTS];

static size_t text_slot (const uint8_t *p, size_t n)
{
  uint64_t h = (uint64_t) n * 0x9E3779B97F4A7C15u;
  if (n >= 8) /* the first and last eight bytes */
  {
    uint64_t a, b;
    memcpy (&a, p, 8);
    memcpy (&b, p + n - 8, 8);
    h ^= a * 0xFF51AFD7ED558CCDu ^ (b * 0xC4CEB9FE1A85EC53u >> 7);
  }
  else
    for (size_t i = 0; i < n; i++)
      h = (h ^ p[i]) * 0x100000001B3u;
  return (size_t) (h >> 40) & (TEXTS - 1);
}

/* The str in table[slot] if its characters are the bytes p[0..n), a new reference; NULL
 * if not (no exception). Every str the tables hold is of the one-byte kind, latin-1 for a
 * name and ASCII for a value, where each character is its byte. */
static PyObject *text_at (PyObject **table, size_t slot, const uint8_t *p, size_t n)
{
  PyObject *s = table[slot];
  if (s != NULL && (size_t) PyUnicode_GET_LENGTH (s) == n
      && memcmp (PyUnicode_1BYTE_DATA (s), p, n) == 0)
    return Py_NewRef (s);
  return NULL;
}

/* name.decode("latin-1"), from the table or into it */
static PyObject *name_text (const uint8_t *p, size_t n)
{
  if (n > TEXT_MAX)
    return PyUnicode_DecodeLatin1 ((const char *) p, (Py_ssize_t) n, NULL);
  size_t slot = text_slot (p, n);
  PyObject *s = text_at (names, slot, p, n);
  if (s == NULL && (s = PyUnicode_DecodeLatin1 ((const char *) p, (Py_ssize_t) n, NULL)))
    Py_XSETREF (names[slot], Py_NewRef (s));
  return s;
}

/* value.decode("utf-8"), from the table or into it if ASCII; NULL with the exception
 * (UnicodeDecodeError: not UTF-8) */
static PyObject *value_text (const uint8_t *p, size_t n)
{
  if (n > TEXT_MAX)
    return PyUnicode_DecodeUTF8 ((const char *) p, (Py_ssize_t) n, "strict");
  size_t slot = text_slot (p, n);
  PyObject *s = text_at (values, slot, p, n);
  if (s == NULL && (s = PyUnicode_DecodeUTF8 ((const char *) p, (Py_ssize_t) n, "strict"))
      && PyUnicode_IS_ASCII (s))
    Py_XSETREF (values[slot], Py_NewRef (s));
  return s;
}

/* (name, value), a new reference: the tuple made last of these two strs if a table holds
 * it. Only texts short enough for the tables are paired there, and a tuple held keeps its
 * two strs alive, so the same two pointers are the same two texts. */
static PyObject *pairs[TEXTS];

static PyObject *pair_of (PyObject *n, PyObject *v)
{
  if (PyUnicode_GET_LENGTH (n) > TEXT_MAX || PyUnicode_GET_LENGTH (v) > TEXT_MAX)
    return PyTuple_Pack (2, n, v);
  uint64_t h = (uint64_t) (uintptr_t) n * 0x9E3779B97F4A7C15u
    + (uint64_t) (uintptr_t) v * 0xC4CEB9FE1A85EC53u;
  size_t slot = (size_t) (h >> 40) & (TEXTS - 1);
  PyObject *p = pairs[slot];
  if (p != NULL && PyTuple_GET_ITEM (p, 0) == n && PyTuple_GET_ITEM (p, 1) == v)
    return Py_NewRef (p);
  p = PyTuple_Pack (2, n, v);
  if (p != NULL)
    Py_XSETREF (pairs[slot], Py_NewRef (p));
  return p;
}

int emit_str (void *arg, const nghttp2_nv *nv)
{
  decoded *d = arg;
  PyObject *n = name_text (nv->name, nv->namelen);
  if (n == NULL)
    return -1;
  PyObject *v = value_text (nv->value, nv->valuelen);
  if (v == NULL && PyErr_ExceptionMatches (PyExc_UnicodeDecodeError))
  {
    PyErr_Clear ();
    PyObject *short_name = PyUnicode_Substring (n, 0, 40);
    if (short_name == NULL
        || add_note (&d->notes, PyUnicode_FromFormat ("header %R is not UTF-8; decoded as"
            " Latin-1", short_name)) < 0)
    {
      Py_XDECREF (short_name);
      Py_DECREF (n);
      return -1;
    }
    Py_DECREF (short_name);
    v = PyUnicode_DecodeLatin1 ((const char *) nv->value, (Py_ssize_t) nv->valuelen, NULL);
  }
  PyObject *pair = v ? pair_of (n, v) : NULL;
  Py_DECREF (n);
  Py_XDECREF (v);
  return add_note (&d->fields, pair); /* appends and releases; NULL: the error passed on */
}
