/* Drafts and Messages from C, for _store.c; see storemsg.h. */

#include "storemsg.h"

#include <string.h>

#include "storejson.h"

const char *const MESSAGE[MN] = {
  "id", "kind", "t", "direction", "source", "conn", "phase", "protocol", "host", "ip",
  "port", "sni", "tls_version", "cipher", "method", "url", "status", "headers", "body",
  "body_len_wire", "events", "request_id", "links", "sdk", "frames", "meta", "notes"};

/* "k<key>": store.key_id's text, written here (PyUnicode_FromFormat parses its format and
 * grows a writer: two of these were half of a Message's making). */
static PyObject *key_id (long long key)
{
  char text[1 + INT_TEXT_MAX];
  text[0] = 'k';
  size_t n = 1 + int_text (text + 1, key);
  PyObject *s = PyUnicode_New ((Py_ssize_t) n, 127);
  if (s != NULL)
    memcpy (PyUnicode_1BYTE_DATA (s), text, n);
  return s;
}

/* key_id of a request's key: an int's own, anything else's str() (f"k{key}"). */
static PyObject *request_id (PyObject *req)
{
  if (PyLong_CheckExact (req))
  {
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow (req, &overflow);
    if (!overflow)
      return x == -1 && PyErr_Occurred () ? NULL : key_id (x);
  }
  return PyUnicode_FromFormat ("k%S", req);
}

/* A request's key (new): a Draft's read from its slot, anything else's attribute. */
static PyObject *key_of (PyTypeObject *draft, Py_ssize_t key_off, PyObject *r)
{
  if (!Py_IS_TYPE (r, draft))
    return PyObject_GetAttrString (r, "key");
  PyObject *v = *(PyObject **) ((char *) r + key_off);
  if (v == NULL)
    PyErr_SetString (PyExc_AttributeError, "key");
  return Py_XNewRef (v);
}

/* key >= 0: 1, 0, or -1 with an exception set (an int's sign read off it). */
static int non_negative (PyObject *key)
{
  if (PyLong_CheckExact (key))
  {
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow (key, &overflow);
    if (overflow)
      return overflow > 0;
    return x == -1 && PyErr_Occurred () ? -1 : x >= 0;
  }
  PyObject *zero = PyLong_FromLong (0);
  int ge = zero ? PyObject_RichCompareBool (key, zero, Py_GE) : -1;
  Py_XDECREF (zero);
  return ge;
}

PyObject *request_key (PyTypeObject *draft, Py_ssize_t key_off, PyObject *request)
{
  if (request == Py_None)
    return Py_NewRef (Py_None);
  PyObject *key = key_of (draft, key_off, request);
  int ge = key != NULL ? non_negative (key) : -1;
  if (ge > 0)
    return key;
  Py_XDECREF (key);
  return ge < 0 ? NULL : Py_NewRef (Py_None);
}

/* A list's or a tuple's items as a tuple (the tuple itself when it is one). */
static PyObject *as_tuple (PyObject *v)
{
  return PyTuple_CheckExact (v) ? Py_NewRef (v) : PyList_AsTuple (v);
}

/* The headers as rowcodec.decoded makes them of their text: a tuple of tuples. */
static PyObject *header_tuple (PyObject *v)
{
  PyObject *seq = as_tuple (v);
  if (seq == NULL || PyTuple_GET_SIZE (seq) == 0)
    return seq;
  Py_ssize_t n = PyTuple_GET_SIZE (seq);
  PyObject *out = PyTuple_New (n);
  for (Py_ssize_t i = 0; out != NULL && i < n; i++)
  {
    PyObject *item = as_tuple (PyTuple_GET_ITEM (seq, i));
    if (item == NULL)
      Py_CLEAR (out);
    else
      PyTuple_SET_ITEM (out, i, item);
  }
  Py_DECREF (seq);
  return out;
}

PyObject *make_message (PyTypeObject *cls, const Py_ssize_t *moff, PyObject *const *v,
                        long long key, PyObject *req, PyObject *kind)
{
  PyObject *m[MN] = {0};
  m[M_ID] = key_id (key);
  m[M_KIND] = Py_NewRef (kind);
  m[M_REQUEST_ID] = req == Py_None ? Py_NewRef (Py_None) : request_id (req);
  m[M_LINKS] = PyTuple_New (0);
  m[M_HEADERS] = header_tuple (v[D_HEADERS]);
  m[M_EVENTS] = as_tuple (v[D_EVENTS]);
  m[M_FRAMES] = as_tuple (v[D_FRAMES]);
  m[M_META] = PyDict_Copy (v[D_META]); /* flat: its values are immutable */
  m[M_NOTES] = as_tuple (v[D_NOTES]);
  static const int same[][2] = {
    {M_T, D_T}, {M_DIRECTION, D_DIRECTION}, {M_SOURCE, D_SOURCE}, {M_CONN, D_CONN},
    {M_PHASE, D_PHASE}, {M_PROTOCOL, D_PROTOCOL}, {M_HOST, D_HOST}, {M_IP, D_IP},
    {M_PORT, D_PORT}, {M_SNI, D_SNI}, {M_TLS_VERSION, D_TLS_VERSION}, {M_CIPHER, D_CIPHER},
    {M_METHOD, D_METHOD}, {M_URL, D_URL}, {M_STATUS, D_STATUS}, {M_BODY, D_BODY},
    {M_BODY_LEN_WIRE, D_BODY_LEN_WIRE}, {M_SDK, D_SDK}};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
    m[same[i][0]] = Py_NewRef (v[same[i][1]]);
  PyObject *out = NULL;
  int i = 0;
  while (i < MN && m[i] != NULL)
    i++;
  /* as rowcodec.new_message: a fresh instance, its slots set straight (it is frozen) */
  if (i == MN)
    out = PyBaseObject_Type.tp_new (cls, m[M_LINKS], NULL); /* () */
  for (i = 0; i < MN; i++)
  {
    if (out != NULL)
      *(PyObject **) ((char *) out + moff[i]) = m[i];
    else
      Py_XDECREF (m[i]);
  }
  return out;
}

