/* Header blocks for h2frames.c: decoded by hd_decode into (str, str) fields as
 * _Direction._decode makes them, and applied to a stream as _Direction._apply and
 * _headers_done do. */

#include <string.h>
#include "h2frames.h"

typedef struct
{
  PyObject *fields, *notes;
} decoded;

static int emit_str (void *arg, const nghttp2_nv *nv)
{
  decoded *d = arg;
  PyObject *n = PyUnicode_DecodeLatin1 ((const char *) nv->name, (Py_ssize_t) nv->namelen, NULL);
  if (n == NULL)
    return -1;
  PyObject *v = PyUnicode_DecodeUTF8 ((const char *) nv->value, (Py_ssize_t) nv->valuelen,
      "strict");
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
  PyObject *pair = v ? PyTuple_Pack (2, n, v) : NULL;
  Py_DECREF (n);
  Py_XDECREF (v);
  return add_note (&d->fields, pair); /* appends and releases; NULL: the error passed on */
}

/* The block's fields as (str, str), or [] with a note if it does not decode (new ref). */
static PyObject *decode (reader *r, stream *st, const uint8_t *p, size_t len)
{
  char msg[200];
  decoded d = { PyList_New (0), NULL };
  if (d.fields == NULL)
    return NULL;
  int rc = hd_decode (&r->hd, p, len, emit_str, &d, msg, sizeof msg);
  if (rc == 0)
  {
    for (Py_ssize_t i = 0; d.notes != NULL && i < PyList_GET_SIZE (d.notes); i++)
    {
      PyObject *n = PyList_GET_ITEM (d.notes, i);
      Py_INCREF (n);
      if (add_note (&st->notes, n) < 0)
        rc = -1;
    }
  }
  Py_XDECREF (d.notes);
  if (rc == 0)
    return d.fields;
  Py_DECREF (d.fields);
  if (rc < 0)
    return NULL;
  if (r->lost[0])
    rc = note (&st->notes, "headers not decodable: they refer to HPACK entries lost earlier"
        " (%s); %s", r->lost, msg);
  else
    rc = note (&st->notes, "malformed HPACK header block: %s", msg);
  if (rc < 0 || lose_table (r, "undecodable header block (%s)", msg) < 0)
    return NULL;
  return PyList_New (0);
}

/* Whether name is ``want`` (lowercase ASCII) as Draft.header compares: latin-1 names, of
 * which only ASCII letters lower() to ASCII ones. */
static int name_is (PyObject *name, const char *want)
{
  Py_ssize_t n = (Py_ssize_t) strlen (want);
  if (PyUnicode_GET_LENGTH (name) != n)
    return 0;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    Py_UCS4 c = PyUnicode_READ_CHAR (name, i);
    if (c >= 'A' && c <= 'Z')
      c += 'a' - 'A';
    if (c != (Py_UCS4) want[i])
      return 0;
  }
  return 1;
}

/* draft.status_code on text: three ASCII digits, the first not 0; else -1 */
static long status_code (PyObject *v)
{
  if (PyUnicode_GET_LENGTH (v) != 3)
    return -1;
  long n = 0;
  for (Py_ssize_t i = 0; i < 3; i++)
  {
    Py_UCS4 c = PyUnicode_READ_CHAR (v, i);
    if (c < (i ? '0' : '1') || c > '9')
      return -1;
    n = n * 10 + (long) (c - '0');
  }
  return n;
}

static void set (PyObject **field, PyObject *v) /* steals v */
{
  Py_XSETREF (*field, v);
}

/* _Direction._apply; steals headers */
static int apply (reader *r, stream *st, PyObject *headers)
{
  PyObject *status = NULL, *method = NULL, *authority = NULL, *path = NULL, *scheme = NULL;
  set (&st->headers, headers);
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE (headers); i++)
  {
    PyObject *k = PyTuple_GET_ITEM (PyList_GET_ITEM (headers, i), 0);
    PyObject *v = PyTuple_GET_ITEM (PyList_GET_ITEM (headers, i), 1);
    if (PyUnicode_GET_LENGTH (k) == 0 || PyUnicode_READ_CHAR (k, 0) != ':')
      continue;
    if (PyUnicode_CompareWithASCIIString (k, ":status") == 0)
      status = v;
    else if (PyUnicode_CompareWithASCIIString (k, ":method") == 0)
      method = v;
    else if (PyUnicode_CompareWithASCIIString (k, ":authority") == 0)
      authority = v;
    else if (PyUnicode_CompareWithASCIIString (k, ":path") == 0)
      path = v;
    else if (PyUnicode_CompareWithASCIIString (k, ":scheme") == 0)
      scheme = v;
  }
  if (status != NULL && (st->status = status_code (status)) < 0)
  {
    PyObject *s = PyUnicode_Substring (status, 0, 40);
    if (s == NULL)
      return -1;
    int rc = note (&st->notes, "bad :status %R", s);
    Py_DECREF (s);
    if (rc < 0)
      return -1;
  }
  if (method != NULL)
  {
    Py_INCREF (method);
    set (&st->method, method);
  }
  if (authority == NULL || PyUnicode_GET_LENGTH (authority) == 0)
  {
    authority = header_value (headers, "host");
    if (authority != NULL && PyUnicode_GET_LENGTH (authority) == 0)
      authority = NULL;
  }
  if (authority != NULL)
  {
    Py_ssize_t n = PyUnicode_GET_LENGTH (authority);
    Py_ssize_t colon = PyUnicode_FindChar (authority, ':', 0, n, 1), next = -1;
    if (colon >= 0 && (next = PyUnicode_FindChar (authority, ':', colon + 1, n, 1)) == -2)
      return -1;
    PyObject *host = colon >= 0 && next == -1 ? PyUnicode_Substring (authority, 0, colon)
      : colon == -2 ? NULL : (Py_INCREF (authority), authority);
    if (host == NULL)
      return -1;
    set (&st->host, host);
  }
  if (path != NULL || authority != NULL)
  {
    PyObject *where = authority;
    if (where == NULL)
    {
      int sni = PyObject_IsTrue (r->sni);
      if (sni < 0)
        return -1;
      where = sni ? r->sni : r->ip;
    }
    PyObject *url = path ? PyUnicode_FromFormat ("%S://%S%U", scheme ? scheme : r->scheme,
        where, path) : PyUnicode_FromFormat ("%S://%S", scheme ? scheme : r->scheme, where);
    if (url == NULL)
      return -1;
    set (&st->url, url);
  }
  return 0;
}

/* Which headers the Python side must look at: CODED if a content or transfer coding is
 * named (http1.finish_body has work), TYPED if a content type is (it may be gRPC). */
int header_flags (PyObject *headers)
{
  int flags = 0;
  for (Py_ssize_t i = 0; headers != NULL && i < PyList_GET_SIZE (headers); i++)
  {
    PyObject *k = PyTuple_GET_ITEM (PyList_GET_ITEM (headers, i), 0);
    if (name_is (k, "content-encoding") || name_is (k, "transfer-encoding"))
      flags |= CODED;
    else if (name_is (k, "content-type"))
      flags |= TYPED;
  }
  return flags;
}

PyObject *header_value (PyObject *headers, const char *name)
{
  for (Py_ssize_t i = 0; headers != NULL && i < PyList_GET_SIZE (headers); i++)
    if (name_is (PyTuple_GET_ITEM (PyList_GET_ITEM (headers, i), 0), name))
      return PyTuple_GET_ITEM (PyList_GET_ITEM (headers, i), 1);
  return NULL;
}

/* grpc.is_grpc on a draft with these headers: 1, 0, or -1 with an exception set */
int grpc_typed (PyObject *headers)
{
  PyObject *ctype = header_value (headers, "content-type");
  if (ctype == NULL)
    return 0;
  PyObject *low = PyObject_CallMethod (ctype, "lower", NULL); /* str.lower, as is_grpc */
  if (low == NULL)
    return -1;
  PyObject *prefix = PyUnicode_FromString ("application/grpc");
  PyObject *web = prefix ? PyUnicode_FromString ("grpc-web-text") : NULL;
  Py_ssize_t starts = web ? PyUnicode_Tailmatch (low, prefix, 0, PY_SSIZE_T_MAX, -1) : -1;
  int in = starts > 0 ? PySequence_Contains (low, web) : 0;
  Py_DECREF (low);
  Py_XDECREF (prefix);
  Py_XDECREF (web);
  return starts < 0 || in < 0 ? -1 : starts && !in;
}

/* _Direction._headers_done for the block just closed (r->block) */
int headers_done (reader *r, Py_ssize_t end)
{
  uint32_t sid = r->block.sid;
  stream *st = get_stream (r, r->block.has_promised ? r->block.promised : sid, r->block.start);
  if (st == NULL)
    return -1;
  PyObject *headers = decode (r, st, r->block.buf, r->block.len);
  if (headers == NULL)
    return -1;
  if (r->block.has_promised)
  {
    st->pushed = st->ended = 1;
    if (note (&st->notes, "server push promised on stream %u", (unsigned) sid) < 0)
    {
      Py_DECREF (headers);
      return -1;
    }
    return apply (r, st, headers) < 0 ? -1 : close_stream (r, r->block.promised);
  }
  if (st->headers == NULL || PyList_GET_SIZE (st->headers) == 0)
  {
    if (apply (r, st, headers) < 0)
      return -1;
  }
  else if (st->status >= 100 && st->status < 200)
  {
    PyObject *code = PyLong_FromLong (st->status);
    if (code == NULL || (st->interim == NULL && (st->interim = PyList_New (0)) == NULL)
        || PyList_Append (st->interim, code) < 0)
    {
      Py_XDECREF (code);
      Py_DECREF (headers);
      return -1;
    }
    Py_DECREF (code);
    if (apply (r, st, headers) < 0)
      return -1;
  }
  else
  {
    PyObject *t = PyList_New (PyList_GET_SIZE (headers));
    for (Py_ssize_t i = 0; t != NULL && i < PyList_GET_SIZE (headers); i++)
    {
      PyObject *kv = PySequence_List (PyList_GET_ITEM (headers, i));
      if (kv == NULL)
        Py_CLEAR (t);
      else
        PyList_SET_ITEM (t, i, kv);
    }
    Py_DECREF (headers);
    if (t == NULL)
      return -1;
    set (&st->trailers, t);
  }
  if (add_events (r, st, r->block.start, end) < 0)
    return -1;
  if (r->block.end_stream)
  {
    st->ended = 1;
    return close_stream (r, sid);
  }
  return 0;
}
