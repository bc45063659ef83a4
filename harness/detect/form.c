/* The form decoder in C (decoders.py's Decoder._form, which stays the reference and the
 * Python walk's): the children of a layer that _FORM matched (form_whole), for children.c.
 *
 * It was a Python callback of the C walk, where the Python was only plumbing (a split, a
 * dict, an f-string per field) around calls already in C (unquote, b64decode, java_hash):
 * ~100,000 instructions per Sensors upload. Here every step is Decoder._form's, in its
 * order:
 *   - the fields are the '&'-separated parts, each partitioned at its first '='; a name is
 *     urllib.parse.unquote of its bytes (ASCII, form_whole's name class: unquote_to_bytes
 *     decoded as UTF-8 with "replace"), a value unquote_to_bytes of its bytes; a name that
 *     comes again keeps its first place and takes the last value (a dict: equal names are
 *     equal str, which two different escapes can decode to);
 *   - a Sensors upload ("data_list", else "data", next to "gzip"): its payload's base64
 *     under "sensors:<key> (<verdict>)", the crc verdict as Java's String.hashCode of the
 *     payload decoded with "replace", then every other field as "form:<name>";
 *   - else every field, "data" as "mixpanel:data" when _is_mixpanel holds.
 * tests/detect/test_form.py compares the two on generated forms.
 */

#include "expand.h"
#include "b64.h"
#include "bytetests.h"
#include "unquote.h"

#include <string.h>

uint32_t java_hash_of (PyObject *s)
{
  Py_ssize_t n = PyUnicode_GET_LENGTH (s);
  int kind = PyUnicode_KIND (s);
  const void *data = PyUnicode_DATA (s);
  uint32_t h = 0;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    Py_UCS4 c = PyUnicode_READ (kind, data, i);
    if (c >= 0x10000)
    { /* a UTF-16 surrogate pair: two code units */
      c -= 0x10000;
      h = 31 * h + (0xD800 + (c >> 10));
      h = 31 * h + (0xDC00 + (c & 0x3FF));
    }
    else
      h = 31 * h + c;
  }
  return h;
}

/* unquote_to_bytes(s[0, n)) as a new bytes (NULL with an exception). */
static PyObject *unquoted (const unsigned char *s, Py_ssize_t n)
{
  PyObject *r = PyBytes_FromStringAndSize (NULL, n);
  if (r == NULL)
    return NULL;
  Py_ssize_t k = unquote (s, n, (unsigned char *) PyBytes_AS_STRING (r), 0);
  if (k < n && _PyBytes_Resize (&r, k) < 0)
    return NULL;
  return r;
}

/* _CRC.fullmatch(crc) and int(crc) == java_hash(payload.decode("utf-8", "replace")). -1 with
   an exception. */
static int crc_ok (PyObject *crc, PyObject *payload)
{
  const char *c = PyBytes_AS_STRING (crc);
  Py_ssize_t n = PyBytes_GET_SIZE (crc), i = c[0] == '-';
  if (n - i < 1 || n - i > 10)
    return 0;
  long long v = 0;
  for (; i < n; i++)
  {
    if (c[i] < '0' || c[i] > '9')
      return 0;
    v = v * 10 + (c[i] - '0');
  }
  if (c[0] == '-')
    v = -v;
  PyObject *text = PyUnicode_DecodeUTF8 (PyBytes_AS_STRING (payload),
      PyBytes_GET_SIZE (payload), "replace");
  if (text == NULL)
    return -1;
  int32_t h = (int32_t) java_hash_of (text);
  Py_DECREF (text);
  return v == h;
}

/* decoders._is_mixpanel. -1 with an exception. */
static int is_mixpanel (PyObject *fields)
{
  PyObject *text = PyDict_GetItemString (fields, "data"); /* borrowed; no error raised */
  if (text == NULL || !(PyDict_GetItemString (fields, "ip") != NULL
          || PyDict_GetItemString (fields, "verbose") != NULL))
    return 0;
  const unsigned char *s = (const unsigned char *) PyBytes_AS_STRING (text);
  Py_ssize_t a = 0, z = PyBytes_GET_SIZE (text);
  while (a < z && space (s[a]))
    a++;
  PyObject *decoded = NULL;
  if (!(a < z && (s[a] == '{' || s[a] == '[')))
  {
    while (z > a && space (s[z - 1]))
      z--;
    if ((decoded = b64_decode (s + a, z - a)) == NULL)
      return -1;
    /* None, or b"": b"" */
    s = decoded == Py_None ? (const unsigned char *) "" : (const unsigned char *)
        PyBytes_AS_STRING (decoded);
    a = 0;
    z = decoded == Py_None ? 0 : PyBytes_GET_SIZE (decoded);
  }
  int found = memmem (s + a, (size_t) (z - a), "\"token\"", 7) != NULL
      || memmem (s + a, (size_t) (z - a), "\"$token\"", 8) != NULL;
  Py_XDECREF (decoded);
  return found;
}

/* Pushes (*chain, *steps[0, k)) with data (a new reference to it) onto out. Takes the
   references of the steps, which may be NULL (failed to make: an exception set). 0 with an
   exception. */
static int add (Layers *out, PyObject *chain, PyObject **steps, int k, PyObject *data,
    int depth)
{
  Py_ssize_t n = PyTuple_GET_SIZE (chain);
  PyObject *t = PyTuple_New (n + k);
  for (int j = 0; j < k; j++)
    if (steps[j] == NULL)
      Py_CLEAR (t);
  if (t == NULL)
  {
    for (int j = 0; j < k; j++)
      Py_XDECREF (steps[j]);
    return 0;
  }
  for (Py_ssize_t i = 0; i < n; i++)
    PyTuple_SET_ITEM (t, i, Py_NewRef (PyTuple_GET_ITEM (chain, i)));
  for (int j = 0; j < k; j++)
    PyTuple_SET_ITEM (t, n + j, steps[j]);
  return push (out, t, Py_NewRef (data), depth, 0);
}

/* The fields of s[0, n) in Decoder._form's dict: name (str) -> value (bytes). */
static PyObject *fields_of (const unsigned char *s, Py_ssize_t n)
{
  PyObject *fields = PyDict_New ();
  for (Py_ssize_t i = 0; fields != NULL && i <= n;)
  {
    const unsigned char *amp = memchr (s + i, '&', (size_t) (n - i));
    Py_ssize_t end = amp != NULL ? amp - s : n;
    const unsigned char *eq = memchr (s + i, '=', (size_t) (end - i));
    Py_ssize_t name_end = eq != NULL ? eq - s : end, value = eq != NULL ? name_end + 1 : end;
    PyObject *raw = unquoted (s + i, name_end - i), *name = NULL, *v = NULL;
    if (raw != NULL)
      name = PyUnicode_DecodeUTF8 (PyBytes_AS_STRING (raw), PyBytes_GET_SIZE (raw), "replace");
    if (name != NULL)
      v = unquoted (s + value, end - value);
    if (v == NULL || PyDict_SetItem (fields, name, v) < 0)
      Py_CLEAR (fields);
    Py_XDECREF (raw);
    Py_XDECREF (name);
    Py_XDECREF (v);
    i = end + 1;
  }
  return fields;
}

int form_children (const unsigned char *s, Py_ssize_t n, PyObject *chain, Layers *out,
    int depth)
{
  PyObject *fields = fields_of (s, n);
  if (fields == NULL)
    return 0;
  const char *key = PyDict_GetItemString (fields, "data_list") != NULL ? "data_list"
      : PyDict_GetItemString (fields, "data") != NULL ? "data" : NULL;
  int ok = 1, mixpanel = 0;
  if (key != NULL && PyDict_GetItemString (fields, "gzip") != NULL)
  {
    PyObject *payload = PyDict_GetItemString (fields, key), *crc = PyDict_GetItemString (
        fields, "crc");
    int verdict = crc == NULL ? 0 : crc_ok (crc, payload);
    PyObject *raw = verdict < 0 ? NULL : b64_decode (
        (const unsigned char *) PyBytes_AS_STRING (payload), PyBytes_GET_SIZE (payload));
    ok = raw != NULL;
    if (ok && raw != Py_None)
    {
      PyObject *steps[2] = { PyUnicode_FromFormat ("sensors:%s (%s)", key, crc == NULL
          ? "no crc" : verdict ? "crc ok" : "crc mismatch"), PyUnicode_FromString ("base64") };
      ok = add (out, chain, steps, 2, raw, depth);
    }
    Py_XDECREF (raw);
  }
  else if ((mixpanel = is_mixpanel (fields)) < 0)
    ok = 0;
  else
    key = NULL; /* every field */
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  while (ok && PyDict_Next (fields, &pos, &k, &v))
  {
    int is_data = PyUnicode_CompareWithASCIIString (k, "data") == 0;
    if (key != NULL && PyUnicode_CompareWithASCIIString (k, key) == 0)
      continue; /* the Sensors payload, given above */
    PyObject *step = PyUnicode_FromFormat ("%s:%U", mixpanel && is_data ? "mixpanel" : "form",
        k);
    ok = add (out, chain, &step, 1, v, depth);
  }
  Py_DECREF (fields);
  return ok;
}
