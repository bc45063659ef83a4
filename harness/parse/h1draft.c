/* Drafts and flows for _http1.c and _hpack.c (see h1draft.h). */

#include "h1draft.h"

#include <string.h>

H1State h1s;

/* The attributes h1_ctx_open reads, by name: interned once, so that each getattr finds
 * them in the type's attribute cache instead of making the name and walking the MRO (14
 * of them a direction cost ~1,000 instructions each through PyObject_GetAttrString) */
enum { A_LOSSY, A_SCHEME, A_DATA, A_STARTS, A_SEQS, A_TS, A_CHUNKS, A_DIRECTION, A_SOURCE,
  A_CONN, A_IP, A_PORT, A_SNI, A_TLS_VERSION, A_CIPHER, A_CODED, NATTR };
static const char *const ATTR[NATTR] = { "lossy", "scheme", "data", "_starts", "_seqs", "_ts",
  "chunks", "direction", "source", "conn", "ip", "port", "sni", "tls_version", "cipher",
  "coded" };
static PyObject *attr[NATTR];

int h1_init (void)
{
  for (int i = 0; i < NATTR; i++)
    if ((attr[i] = PyUnicode_InternFromString (ATTR[i])) == NULL)
      return -1;
  return (h1s.minus_one = PyLong_FromLong (-1)) && (h1s.zero = PyLong_FromLong (0))
    && (h1s.zero_float = PyFloat_FromDouble (0.0)) && (h1s.no_args = PyTuple_New (0))
    && (h1s.empty_bytes = PyBytes_FromStringAndSize (NULL, 0))
    && (h1s.empty_str = PyUnicode_New (0, 0))
    && (h1s.reason = PyUnicode_InternFromString ("reason"))
    && (h1s.scheme_sep = PyUnicode_InternFromString ("://")) ? 0 : -1;
}

int h1_setup (PyObject *draft, PyObject *request, PyObject *response, PyObject *raw)
{
  Py_ssize_t offset[DN];
  if (!PyType_Check (draft))
    return PyErr_SetString (PyExc_TypeError, "Draft must be a class"), -1;
  if (slot_offsets ((PyTypeObject *) draft, DRAFT, DN, offset, "draftfields.h") < 0)
    return -1;
  memcpy (h1s.offset, offset, sizeof offset);
  Py_XSETREF (h1s.draft, (PyTypeObject *) Py_NewRef (draft));
  Py_XSETREF (h1s.request, Py_NewRef (request));
  Py_XSETREF (h1s.response, Py_NewRef (response));
  Py_XSETREF (h1s.raw, Py_NewRef (raw));
  return 0;
}

void h1_ctx_close (Ctx *c)
{
  PyObject **refs[] = {&c->b.data, &c->chunks, &c->starts, &c->seqs, &c->ts, &c->direction,
                       &c->source, &c->conn,
                       &c->ip, &c->port, &c->sni, &c->tls_version, &c->cipher, &c->scheme,
                       &c->keep};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
    Py_CLEAR (*refs[i]);
  h1_chunks_free (&c->ix);
}

int h1_ctx_open (Ctx *c, PyObject *flow, PyObject *facts, PyObject *budget)
{
  memset (c, 0, sizeof *c);
  c->budget = budget;
  c->budget_n = PyLong_AsSsize_t (budget);
  c->budget_ok = !(c->budget_n == -1 && PyErr_Occurred ());
  if (!c->budget_ok)
    PyErr_Clear (); /* past Py_ssize_t (or not an int): finish_body takes it as it is */
  PyObject *lossy = PyObject_GetAttr (flow, attr[A_LOSSY]);
  c->lossy = lossy ? PyObject_IsTrue (lossy) : -1;
  Py_XDECREF (lossy);
  PyObject *scheme = c->lossy < 0 ? NULL : PyObject_GetAttr (facts, attr[A_SCHEME]);
  if (scheme != NULL)
    c->scheme = PyObject_Format (scheme, h1s.empty_str);
  Py_XDECREF (scheme);
  if (c->lossy < 0 || c->scheme == NULL
      || !(c->b.data = PyObject_GetAttr (flow, attr[A_DATA]))
      || !(c->starts = PyObject_GetAttr (flow, attr[A_STARTS]))
      || !(c->seqs = PyObject_GetAttr (flow, attr[A_SEQS]))
      || !(c->ts = PyObject_GetAttr (flow, attr[A_TS]))
      /* the Chunks only for what was lost (Flow.span reads missing and lengths) */
      || (c->lossy && !(c->chunks = PyObject_GetAttr (flow, attr[A_CHUNKS])))
      || !(c->direction = PyObject_GetAttr (flow, attr[A_DIRECTION]))
      || !(c->source = PyObject_GetAttr (facts, attr[A_SOURCE]))
      || !(c->conn = PyObject_GetAttr (facts, attr[A_CONN]))
      || !(c->ip = PyObject_GetAttr (facts, attr[A_IP]))
      || !(c->port = PyObject_GetAttr (facts, attr[A_PORT]))
      || !(c->sni = PyObject_GetAttr (facts, attr[A_SNI]))
      || !(c->tls_version = PyObject_GetAttr (facts, attr[A_TLS_VERSION]))
      || !(c->cipher = PyObject_GetAttr (facts, attr[A_CIPHER])))
    return -1;
  if (!PyBytes_Check (c->b.data) || !PyList_Check (c->starts) || !PyList_Check (c->seqs)
      || !PyList_Check (c->ts) || PyList_GET_SIZE (c->ts) != PyList_GET_SIZE (c->seqs)
      || (c->chunks != NULL && (!PyList_Check (c->chunks)
                                || PyList_GET_SIZE (c->chunks) != PyList_GET_SIZE (c->seqs))))
  {
    PyErr_SetString (PyExc_TypeError,
                     "a Flow with bytes data and lists of starts, seqs, times (and chunks)");
    return -1;
  }
  /* a flow without coded notes no body (as finish_body given None) */
  if (!(c->keep = PyObject_GetAttr (flow, attr[A_CODED])))
  {
    if (!PyErr_ExceptionMatches (PyExc_AttributeError))
      return -1;
    PyErr_Clear ();
  }
  c->b.p = (const unsigned char *) PyBytes_AS_STRING (c->b.data);
  c->b.n = PyBytes_GET_SIZE (c->b.data);
  return h1_chunks_of (&c->ix, c->starts);
}

int h1_chunks_of (H1Chunks *ix, PyObject *starts)
{
  memset (ix, 0, sizeof *ix);
  Py_ssize_t n = PyList_GET_SIZE (starts);
  if (n == 0)
    return 0;
  if ((ix->starts = PyMem_New (Py_ssize_t, (size_t) n)) == NULL)
    return PyErr_NoMemory (), -1;
  ix->n = n;
  for (Py_ssize_t i = 0; i < n; i++)
    if ((ix->starts[i] = PyLong_AsSsize_t (PyList_GET_ITEM (starts, i))) == -1
        && PyErr_Occurred ())
      return -1;
  return 0;
}

void h1_chunks_free (H1Chunks *ix)
{
  PyMem_Free (ix->starts);
  memset (ix, 0, sizeof *ix);
}

/* Whether bisect_right(starts, off) is i + 1: starts never decrease, so it is when
 * starts[i] <= off < starts[i + 1] (or i is the last chunk) */
static int in_chunk (const H1Chunks *ix, Py_ssize_t i, Py_ssize_t off)
{
  return i < ix->n && ix->starts[i] <= off && (i + 1 == ix->n || off < ix->starts[i + 1]);
}

Py_ssize_t h1_chunk_at (H1Chunks *ix, Py_ssize_t off)
{
  if (in_chunk (ix, ix->last, off))
    return ix->last;
  if (in_chunk (ix, ix->last + 1, off))
    return ++ix->last;
  Py_ssize_t lo = 0, hi = ix->n; /* bisect_right(starts, off) */
  while (lo < hi)
  {
    Py_ssize_t mid = lo + (hi - lo) / 2;
    if (off < ix->starts[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo > 0 ? (ix->last = lo - 1) : 0;
}

/* flow.chunks[i], a Chunk (offset, length, seq, t, missing); borrowed; lossy flows only. */
static PyObject *chunk (Ctx *c, Py_ssize_t i)
{
  PyObject *ch = PyList_GET_ITEM (c->chunks, i);
  if (PyTuple_Check (ch) && PyTuple_GET_SIZE (ch) >= 5)
    return ch;
  PyErr_SetString (PyExc_TypeError, "a flow's chunk is not a Chunk");
  return NULL;
}

/* Flow._index: the chunk holding off, clamped to the seqs there are */
static Py_ssize_t chunk_index (Ctx *c, Py_ssize_t off)
{
  Py_ssize_t i = h1_chunk_at (&c->ix, off), last = PyList_GET_SIZE (c->seqs) - 1;
  if (i > last)
    i = last;
  return i > 0 ? i : 0;
}

PyObject *h1_seqs (Ctx *c, Py_ssize_t start, Py_ssize_t end)
{
  if (PyList_GET_SIZE (c->seqs) == 0)
    return PyTuple_New (0);
  Py_ssize_t a = chunk_index (c, start);
  Py_ssize_t b = end - 1 <= start ? a : chunk_index (c, end - 1);
  PyObject *out = PyTuple_New (b - a + 1);
  for (Py_ssize_t i = a; out != NULL && i <= b; i++)
    PyTuple_SET_ITEM (out, i - a, Py_NewRef (PyList_GET_ITEM (c->seqs, i)));
  return out;
}

int h1_span (Ctx *c, Py_ssize_t start, Py_ssize_t end, PyObject **t, PyObject **seq,
                 PyObject *notes)
{
  *t = h1s.zero_float;
  *seq = h1s.zero;
  if (PyList_GET_SIZE (c->seqs) == 0)
    return 0;
  Py_ssize_t a = chunk_index (c, start);
  *t = PyList_GET_ITEM (c->ts, a);
  *seq = PyList_GET_ITEM (c->seqs, a);
  if (!c->lossy)
    return 0;
  Py_ssize_t b = end - 1 <= start ? a : chunk_index (c, end - 1);
  PyObject *lost = Py_NewRef (h1s.zero); /* sum() starts at 0 */
  for (Py_ssize_t i = a; lost != NULL && i <= b; i++)
  {
    PyObject *ch = chunk (c, i);
    PyObject *missing = ch ? PyTuple_GET_ITEM (ch, 4) : NULL;
    int some = missing ? PyObject_IsTrue (missing) : -1;
    Py_ssize_t off = some > 0 ? PyLong_AsSsize_t (PyTuple_GET_ITEM (ch, 0)) : 0;
    Py_ssize_t len = some > 0 && !PyErr_Occurred ()
      ? PyLong_AsSsize_t (PyTuple_GET_ITEM (ch, 1)) : 0;
    if (some < 0 || PyErr_Occurred ())
      Py_CLEAR (lost);
    else if (some && off + len <= end)
      Py_SETREF (lost, PyNumber_Add (lost, missing));
  }
  int r = lost ? PyObject_IsTrue (lost) : -1;
  if (r > 0)
  {
    PyObject *note = PyUnicode_FromFormat (
      "capture truncated: %S bytes of this stream were not recorded", lost);
    r = note ? PyList_Append (notes, note) : -1;
    Py_XDECREF (note);
  }
  Py_XDECREF (lost);
  return r < 0 ? -1 : 0;
}

PyObject *h1_new_draft (PyObject **v)
{
  PyObject *d = h1s.draft->tp_new (h1s.draft, h1s.no_args, NULL);
  for (int i = 0; d != NULL && i < DN; i++)
  {
    PyObject *value = v[i], *made = NULL;
    if (value == NULL)
    {
      switch (i)
      {
        case D_HEADERS: case D_NOTES: value = made = PyList_New (0); break;
        case D_META: value = made = PyDict_New (); break;
        case D_BODY: value = h1s.empty_bytes; break;
        case D_BODY_LEN_WIRE: /* the body is as it was on the wire */
          value = v[D_BODY] == NULL ? Py_None
                                    : (made = PyLong_FromSsize_t (PyBytes_GET_SIZE (v[D_BODY])));
          break;
        case D_EVENTS: case D_FRAMES: value = h1s.no_args; break;
        case D_KEY: value = h1s.minus_one; break;
        default: value = Py_None;
      }
    }
    if (value == NULL)
      Py_CLEAR (d);
    else /* what the slot's member descriptor does on a fresh instance (T_OBJECT_EX) */
      *(PyObject **) ((char *) d + h1s.offset[i]) = made ? made : Py_NewRef (value);
  }
  return d;
}

PyObject *h1_field (PyObject *draft, int i)
{
  PyObject *v = Py_TYPE (draft) == h1s.draft
    ? *(PyObject **) ((char *) draft + h1s.offset[i]) : NULL;
  return v != NULL ? Py_NewRef (v) : PyObject_GetAttrString (draft, DRAFT[i]);
}

PyObject *h1_responses_last (PyObject *self, PyObject *drafts)
{
  (void) self;
  if (!PyList_CheckExact (drafts))
    return PyErr_SetString (PyExc_TypeError, "responses_last(drafts: list)"), NULL;
  Py_ssize_t n = PyList_GET_SIZE (drafts), back = n;
  PyObject **item = ((PyListObject *) drafts)->ob_item;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *kind = Py_TYPE (item[i]) == h1s.draft && h1s.draft != NULL
      ? *(PyObject **) ((char *) item[i] + h1s.offset[D_KIND]) : NULL;
    if (kind == NULL) /* another class, or a kind never set: the key's getattr decides */
      Py_RETURN_FALSE;
    if (kind == h1s.response && back == n)
      back = i; /* the first response: the list is in order so far */
    else if (kind != h1s.response && back < n)
      back = -1; /* a request after a response: to reorder */
  }
  if (back >= 0)
    Py_RETURN_TRUE;
  PyObject **order = PyMem_New (PyObject *, (size_t) n);
  if (order == NULL)
    return PyErr_NoMemory ();
  Py_ssize_t k = 0;
  for (int responses = 0; responses < 2; responses++)
    for (Py_ssize_t i = 0; i < n; i++)
      if ((*(PyObject **) ((char *) item[i] + h1s.offset[D_KIND]) == h1s.response) == responses)
        order[k++] = item[i];
  memcpy (item, order, (size_t) n * sizeof *item); /* the same references, moved */
  PyMem_Free (order);
  Py_RETURN_TRUE;
}

PyObject *h1_join_url (PyObject *scheme, PyObject *where, PyObject *path)
{
  PyObject *part[4] = { scheme, h1s.scheme_sep, where, path };
  int n = path ? 4 : 3;
  Py_ssize_t len = 0;
  Py_UCS4 max = 0;
  for (int i = 0; i < n; i++)
  {
    if (!PyUnicode_CheckExact (part[i]))
      return path ? PyUnicode_FromFormat ("%S://%S%U", scheme, where, path)
                  : PyUnicode_FromFormat ("%S://%S", scheme, where);
    len += PyUnicode_GET_LENGTH (part[i]);
    if (PyUnicode_MAX_CHAR_VALUE (part[i]) > max)
      max = PyUnicode_MAX_CHAR_VALUE (part[i]);
  }
  PyObject *url = PyUnicode_New (len, max);
  Py_ssize_t at = 0;
  for (int i = 0; url != NULL && i < n; i++)
  {
    Py_ssize_t k = PyUnicode_GET_LENGTH (part[i]);
    if (max <= 0xff) /* every part of the one-byte kind, as the url */
      memcpy (PyUnicode_1BYTE_DATA (url) + at, PyUnicode_1BYTE_DATA (part[i]), (size_t) k);
    else if (PyUnicode_CopyCharacters (url, at, part[i], 0, k) < 0)
      Py_CLEAR (url);
    at += k;
  }
  return url;
}

void h1_flow_fields (Ctx *c, PyObject **v, PyObject *kind, PyObject *t, PyObject *seq)
{
  v[D_KIND] = kind;
  v[D_T] = t;
  v[D_DIRECTION] = c->direction;
  v[D_SOURCE] = c->source;
  v[D_FIRST_SEQ] = seq;
  v[D_CONN] = c->conn;
  v[D_IP] = c->ip;
  v[D_PORT] = c->port;
  v[D_SNI] = c->sni;
  v[D_TLS_VERSION] = c->tls_version;
  v[D_CIPHER] = c->cipher;
}

PyObject *h1_raw (Ctx *c, Py_ssize_t start, Py_ssize_t end, const char *note)
{
  PyObject *text = PyUnicode_FromString (note);
  PyObject *d = text ? h1_raw_as (c, start, end, text, NULL) : NULL;
  Py_XDECREF (text);
  return d;
}

PyObject *h1_raw_as (Ctx *c, Py_ssize_t start, Py_ssize_t end, PyObject *note,
                     PyObject *protocol)
{
  PyObject *v[DN] = {0}, *t, *seq, *d = NULL;
  PyObject *notes = PyList_New (0), *events = NULL, *body = NULL;
  if (notes != NULL && h1_span (c, start, end, &t, &seq, notes) == 0
      && PyList_Append (notes, note) == 0
      && (events = h1_seqs (c, start, end))
      && (body = PyBytes_FromStringAndSize ((const char *) c->b.p + start, end - start)))
  {
    h1_flow_fields (c, v, h1s.raw, t, seq);
    v[D_PROTOCOL] = protocol;
    v[D_NOTES] = notes;
    v[D_EVENTS] = events;
    v[D_BODY] = body;
    d = h1_new_draft (v);
  }
  Py_XDECREF (notes);
  Py_XDECREF (events);
  Py_XDECREF (body);
  return d;
}
