/* Drafts and Messages from C, for _store.c; see storemsg.h. */

#include "storemsg.h"

#include <limits.h>
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

/* The key k<key> names (key_id's text: 'k' and the decimal digits of a positive 64-bit
 * int), or -1 when id is not such a text. */
static long long key_of_id (PyObject *id)
{
  if (!PyUnicode_CheckExact (id) || PyUnicode_KIND (id) != PyUnicode_1BYTE_KIND)
    return -1;
  Py_ssize_t n = PyUnicode_GET_LENGTH (id);
  const Py_UCS1 *s = PyUnicode_1BYTE_DATA (id);
  if (n < 2 || n > 20 || s[0] != 'k' || s[1] == '0')
    return -1;
  unsigned long long k = 0;
  for (Py_ssize_t i = 1; i < n; i++)
  {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    k = k * 10 + (s[i] - '0');
  }
  return n == 20 && k > LLONG_MAX ? -1 : (long long) k; /* 19 digits: no wrap */
}

/* A request's key (new): a Draft's read from its slot; a Message become_message made of a
 * Draft, the key its id names (what that Draft's key slot held); anything else's
 * attribute. */
static PyObject *key_of (PyTypeObject *draft, Py_ssize_t key_off, PyTypeObject *message,
                         Py_ssize_t id_off, PyObject *r)
{
  if (Py_IS_TYPE (r, message))
  {
    PyObject *id = *(PyObject **) ((char *) r + id_off);
    long long k = id != NULL ? key_of_id (id) : -1;
    if (k >= 0)
      return PyLong_FromLongLong (k);
  }
  if (!Py_IS_TYPE (r, draft))
    return PyObject_GetAttrString (r, "key");
  PyObject *v = *(PyObject **) ((char *) r + key_off);
  if (v == NULL)
    PyErr_SetString (PyExc_AttributeError, "key");
  return Py_XNewRef (v);
}

PyObject *request_key (PyTypeObject *draft, Py_ssize_t key_off, PyTypeObject *message,
                       Py_ssize_t id_off, PyObject *request, long long *x, int *small)
{
  *small = 0;
  if (request == Py_None)
    return Py_NewRef (Py_None);
  PyObject *key = key_of (draft, key_off, message, id_off, request);
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

/* The fields a Message takes from its draft as they are, and the draft's fields they are */
static const int same[][2] = {
  {M_T, D_T}, {M_DIRECTION, D_DIRECTION}, {M_SOURCE, D_SOURCE}, {M_CONN, D_CONN},
  {M_PHASE, D_PHASE}, {M_PROTOCOL, D_PROTOCOL}, {M_HOST, D_HOST}, {M_IP, D_IP},
  {M_PORT, D_PORT}, {M_SNI, D_SNI}, {M_TLS_VERSION, D_TLS_VERSION}, {M_CIPHER, D_CIPHER},
  {M_METHOD, D_METHOD}, {M_URL, D_URL}, {M_STATUS, D_STATUS}, {M_BODY, D_BODY},
  {M_BODY_LEN_WIRE, D_BODY_LEN_WIRE}, {M_SDK, D_SDK}};
#define SAME ((int) (sizeof same / sizeof same[0]))

/* The draft's fields a Message does not take as they are */
static const int dropped[] = {D_KIND, D_FIRST_SEQ, D_HEADERS, D_EVENTS, D_REQUEST, D_FRAMES,
                              D_META, D_NOTES, D_KEY};
_Static_assert (SAME + sizeof dropped / sizeof dropped[0] == DN, "each Draft field once");

/* The Message's values (of class cls, slots at moff) of the draft values v, in m: new
 * references, but for the fields it takes as they are (same) where moved, which are v's
 * (the caller's to give); -1 with an exception and nothing in m where one could not be
 * made. As make_message and become_message take them; meta copied unless own_meta. */
static int message_values (PyObject **m, PyObject *const *v, PyTypeObject *cls,
                           const Py_ssize_t *moff, long long key, PyObject *req,
                           const long long *req_key, PyObject *kind, int own_meta, int moved)
{
  m[M_ID] = key_id (key);
  /* a request made a Message already (become_message's) has the id request_key read its
   * key from: the same text, given again */
  PyObject *rid = req != Py_None && Py_IS_TYPE (v[D_REQUEST], cls)
    ? *(PyObject **) ((char *) v[D_REQUEST] + moff[M_ID]) : NULL;
  m[M_REQUEST_ID] = req == Py_None ? Py_NewRef (Py_None) : rid != NULL ? Py_NewRef (rid)
    : req_key != NULL ? key_id (*req_key) : request_id (req);
  m[M_LINKS] = PyTuple_New (0);
  m[M_HEADERS] = header_tuple (v[D_HEADERS]);
  m[M_EVENTS] = as_tuple (v[D_EVENTS]);
  m[M_FRAMES] = as_tuple (v[D_FRAMES]);
  /* flat (storejson.c encoded it): its values are immutable, a copy is a copy of it all */
  m[M_META] = own_meta ? Py_NewRef (v[D_META]) : PyDict_Copy (v[D_META]);
  m[M_NOTES] = as_tuple (v[D_NOTES]);
  static const int made[] = {M_ID, M_REQUEST_ID, M_LINKS, M_HEADERS, M_EVENTS, M_FRAMES,
                             M_META, M_NOTES};
  int ok = 1;
  for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
    ok = ok && m[made[i]] != NULL;
  if (!ok)
  {
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
      Py_XDECREF (m[made[i]]);
    return -1;
  }
  m[M_KIND] = Py_NewRef (kind);
  for (int i = 0; i < SAME; i++)
    m[same[i][0]] = moved ? v[same[i][1]] : Py_NewRef (v[same[i][1]]);
  return 0;
}

PyObject *make_message (PyTypeObject *cls, const Py_ssize_t *moff, PyObject *const *v,
                        long long key, PyObject *req, const long long *req_key,
                        PyObject *kind)
{
  PyObject *m[MN];
  if (message_values (m, v, cls, moff, key, req, req_key, kind, 0, 0) < 0)
    return NULL;
  /* as rowcodec.new_message: a fresh instance, its slots set straight (it is frozen) */
  PyObject *out = PyBaseObject_Type.tp_new (cls, m[M_LINKS], NULL); /* () */
  for (int i = 0; i < MN; i++)
  {
    if (out != NULL)
      *(PyObject **) ((char *) out + moff[i]) = m[i];
    else
      Py_DECREF (m[i]);
  }
  return out;
}

static int by_offset (const void *a, const void *b)
{
  Py_ssize_t x = *(const Py_ssize_t *) a, y = *(const Py_ssize_t *) b;
  return (x > y) - (x < y);
}

int same_layout (PyTypeObject *draft, const Py_ssize_t *doff, PyTypeObject *message,
                 const Py_ssize_t *moff)
{
  PyTypeObject *t[] = {draft, message};
  for (int i = 0; i < 2; i++)
    if (!(t[i]->tp_flags & Py_TPFLAGS_HEAPTYPE) || !(t[i]->tp_flags & Py_TPFLAGS_HAVE_GC)
        || t[i]->tp_base != &PyBaseObject_Type || t[i]->tp_itemsize != 0
        || t[i]->tp_dictoffset != 0 || t[i]->tp_weaklistoffset != 0
        || t[i]->tp_finalize != NULL || t[i]->tp_del != NULL)
      return 0;
  if ((int) DN != (int) MN || draft->tp_basicsize != message->tp_basicsize
      || draft->tp_dealloc != message->tp_dealloc || draft->tp_free != message->tp_free
      || draft->tp_alloc != message->tp_alloc)
    return 0;
  /* slot_offsets checked that each class has exactly these slots: the same offsets, and
   * the instance's object slots are those (object's own fields before them) */
  Py_ssize_t a[DN], b[MN];
  memcpy (a, doff, sizeof a);
  memcpy (b, moff, sizeof b);
  qsort (a, DN, sizeof a[0], by_offset);
  qsort (b, MN, sizeof b[0], by_offset);
  for (int i = 0; i < DN; i++)
    if (a[i] != b[i] || (i > 0 && a[i] == a[i - 1]))
      return 0;
  return 1;
}

PyObject *become_message (PyObject *d, const Py_ssize_t *doff, PyTypeObject *cls,
                          const Py_ssize_t *moff, PyObject *const *v, long long key,
                          PyObject *req, const long long *req_key, PyObject *kind)
{
  PyObject *dv[DN], *m[MN];
  for (int i = 0; i < DN; i++)
    dv[i] = *(PyObject **) ((char *) d + doff[i]);
  /* its slot and v: nothing else holds the dict (a Draft's own, the usual case) */
  int own_meta = v[D_META] == dv[D_META] && Py_REFCNT (dv[D_META]) == 2;
  /* the fields the Message takes as they are move from the draft's slots to its own */
  if (message_values (m, dv, cls, moff, key, req, req_key, kind, own_meta, 1) < 0)
    return NULL;
  for (int i = 0; i < MN; i++)
    *(PyObject **) ((char *) d + moff[i]) = m[i];
  /* as object.__class__'s setter does: the instance holds a reference to its heap class */
  PyTypeObject *draft = Py_TYPE (d);
  Py_SET_TYPE (d, (PyTypeObject *) Py_NewRef (cls));
  Py_DECREF (draft);
  /* let go of the Draft's other values last, d a whole Message by then (freeing one may
   * run Python code) */
  for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
    Py_XDECREF (dv[dropped[i]]);
  return Py_NewRef (d);
}
