/* A header block's fields as (str, str), for h2headers.c's decode, as _Direction._decode
 * makes them. Names, and values that are ASCII, decoded before are found by their bytes,
 * with the (name, value) tuples made of them (texttable.h): blocks repeat the same few
 * (HPACK's tables are there for it). */

#include <string.h>
#include "h2frames.h"
#include "texttable.h"

/* names: latin-1 texts of names; values: ASCII texts of values */
static PyObject *names[TT_SLOTS], *values[TT_SLOTS], *pairs[TT_SLOTS];

/* name.decode("latin-1"), from the table or into it */
static PyObject *name_text (const uint8_t *p, size_t n)
{
  if (n > TT_MAX)
    return PyUnicode_DecodeLatin1 ((const char *) p, (Py_ssize_t) n, NULL);
  size_t slot = tt_slot (p, n);
  PyObject *s = tt_text (names, slot, p, n);
  if (s == NULL && (s = PyUnicode_DecodeLatin1 ((const char *) p, (Py_ssize_t) n, NULL)))
    Py_XSETREF (names[slot], Py_NewRef (s));
  return s;
}

/* value.decode("utf-8"), from the table or into it if ASCII; NULL with the exception
 * (UnicodeDecodeError: not UTF-8) */
static PyObject *value_text (const uint8_t *p, size_t n)
{
  if (n > TT_MAX)
    return PyUnicode_DecodeUTF8 ((const char *) p, (Py_ssize_t) n, "strict");
  size_t slot = tt_slot (p, n);
  PyObject *s = tt_text (values, slot, p, n);
  if (s == NULL && (s = PyUnicode_DecodeUTF8 ((const char *) p, (Py_ssize_t) n, "strict"))
      && PyUnicode_IS_ASCII (s))
    Py_XSETREF (values[slot], Py_NewRef (s));
  return s;
}

/* buf's fields moved to the end of d->fields (made if none yet); 0 or -1 */
static int flush (decoded *d)
{
  PyObject *more = PyList_New (d->n);
  if (more == NULL)
    return -1;
  if (d->n > 0)
    memcpy (((PyListObject *) more)->ob_item, d->buf, (size_t) d->n * sizeof *d->buf);
  d->n = 0; /* the list holds them now */
  if (d->fields == NULL)
  {
    d->fields = more;
    return 0;
  }
  int rc = PyList_SetSlice (d->fields, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, more);
  Py_DECREF (more);
  return rc;
}

/* pair (a new reference; NULL: the error that made it) added after the fields before */
static int add (decoded *d, PyObject *pair)
{
  if (pair == NULL)
    return -1;
  if (d->n == DECODED_BUF && flush (d) < 0)
  {
    Py_DECREF (pair);
    return -1;
  }
  d->buf[d->n++] = pair;
  return 0;
}

PyObject *decoded_fields (decoded *d)
{
  PyObject *out = NULL;
  if ((d->fields != NULL && d->n == 0) || flush (d) == 0)
  {
    out = d->fields;
    d->fields = NULL;
  }
  decoded_clear (d);
  return out;
}

void decoded_clear (decoded *d)
{
  while (d->n > 0)
    Py_DECREF (d->buf[--d->n]);
  Py_CLEAR (d->fields);
  Py_CLEAR (d->notes);
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
  PyObject *pair = v ? tt_pair (pairs, n, v) : NULL;
  Py_DECREF (n);
  Py_XDECREF (v);
  return add (d, pair);
}
