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

/* key_id of a request's key that request_key did not read as a 64-bit int: its str()
 * (f"k{key}"). */
static PyObject *request_id (PyObject *req)
{
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

PyObject *request_key (PyTypeObject *draft, Py_ssize_t key_off, PyObject *request,
                       long long *x, int *small)
{
  *small = 0;
  if (request == Py_None)
    return Py_NewRef (Py_None);
  PyObject *key = key_of (draft, key_off, request);
  if (key == NULL)
    return NULL;
  int ge; /* key >= 0: an int's sign read off it */
  if (PyLong_CheckExact (key))
  {
    int overflow;
    long long k = PyLong_AsLongLongAndOverflow (key, &overflow);
    if (overflow)
      ge = overflow > 0;
    else if (k == -1 && PyErr_Occurred ())
      ge = -1;
    else
    {
      ge = k >= 0;
      *x = k;
      *small = ge;
    }
  }
  else
  {
    PyObject *zero = PyLong_FromLong (0);
    ge = zero ? PyObject_RichCompareBool (key, zero, Py_GE) : -1;
    Py_XDECREF (zero);
  }
  if (ge > 0)
    return key;
  Py_DECREF (key);
  return ge < 0 ? NULL : Py_NewRef (Py_None);
}

static int text_or_none (PyObject *v)
{
  return v == Py_None || PyUnicode_CheckExact (v);
}

static int int_or_none (PyObject *v)
{
  return v == Py_None || PyLong_CheckExact (v);
}

int scalars_read_back_as_given (PyObject *const *v)
{
  if (!(PyFloat_CheckExact (v[D_T]) && PyFloat_AS_DOUBLE (v[D_T]) != 0.0
        && PyBytes_CheckExact (v[D_BODY]) && int_or_none (v[D_PORT])
        && int_or_none (v[D_STATUS]) && int_or_none (v[D_BODY_LEN_WIRE])))
    return 0;
  static const int texts[] = {D_DIRECTION, D_SOURCE, D_CONN, D_PHASE, D_PROTOCOL, D_HOST,
                              D_IP, D_SNI, D_TLS_VERSION, D_CIPHER, D_METHOD, D_URL, D_SDK};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (!text_or_none (v[texts[i]]))
      return 0;
  return 1;
}

/* A list's or a tuple's items as a tuple (the tuple itself when it is one). */
static PyObject *as_tuple (PyObject *v)
{
  return PyTuple_CheckExact (v) ? Py_NewRef (v) : PyList_AsTuple (v);
}

/* The headers as rowcodec.decoded makes them of their text: a tuple of tuples. The
 * builder's pairs are tuples already: seq is then that (a tuple made anew of it was a
 * second allocation and a free a message). */
static PyObject *header_tuple (PyObject *v)
{
  PyObject *seq = as_tuple (v);
  if (seq == NULL)
    return NULL;
  Py_ssize_t n = PyTuple_GET_SIZE (seq), pairs = 0;
  while (pairs < n && PyTuple_CheckExact (PyTuple_GET_ITEM (seq, pairs)))
    pairs++;
  if (pairs == n)
    return seq;
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
                        long long key, PyObject *req, const long long *req_key,
                        PyObject *kind)
{
  PyObject *m[MN] = {0};
  m[M_ID] = key_id (key);
  m[M_KIND] = Py_NewRef (kind);
  m[M_REQUEST_ID] = req == Py_None ? Py_NewRef (Py_None)
    : req_key != NULL ? key_id (*req_key) : request_id (req);
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
  /* the fields made above (the rest are references to the draft's values) */
  if (m[M_ID] && m[M_REQUEST_ID] && m[M_LINKS] && m[M_HEADERS] && m[M_EVENTS] && m[M_FRAMES]
      && m[M_META] && m[M_NOTES])
    /* as rowcodec.new_message: a fresh instance, its slots set straight (it is frozen) */
    out = PyBaseObject_Type.tp_new (cls, m[M_LINKS], NULL); /* () */
  for (int i = 0; i < MN; i++)
  {
    if (out != NULL)
      *(PyObject **) ((char *) out + moff[i]) = m[i];
    else
      Py_XDECREF (m[i]);
  }
  return out;
}

