/* Drafts and Messages from C, for _store.c; see storemsg.h. */

#include "storemsg.h"

const char *const MESSAGE[MN] = {
  "id", "kind", "t", "direction", "source", "conn", "phase", "protocol", "host", "ip",
  "port", "sni", "tls_version", "cipher", "method", "url", "status", "headers", "body",
  "body_len_wire", "events", "request_id", "links", "sdk", "frames", "meta", "notes"};

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
  m[M_ID] = PyUnicode_FromFormat ("k%lld", key);
  m[M_KIND] = Py_NewRef (kind);
  m[M_REQUEST_ID] = req == Py_None ? Py_NewRef (Py_None)
    : PyUnicode_FromFormat ("k%S", req);
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

