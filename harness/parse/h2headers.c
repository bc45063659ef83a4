/* Header blocks for h2frames.c: decoded by hd_decode into (str, str) fields as
 * _Direction._decode makes them, and applied to a stream as _Direction._apply and
 * _headers_done do. */

#include <string.h>
#include "asciitext.h"
#include "h2frames.h"

/* The block's fields as (str, str), or [] with a note if it does not decode (new ref). */
static PyObject *decode (reader *r, stream *st, const uint8_t *p, size_t len)
{
  char msg[200];
  decoded d;
  d.fields = d.notes = NULL;
  d.n = 0;
  int rc = hd_decode (&r->hd, p, len, emit_str, &d, msg, sizeof msg);
  for (Py_ssize_t i = 0; rc == 0 && d.notes != NULL && i < PyList_GET_SIZE (d.notes); i++)
  {
    PyObject *n = PyList_GET_ITEM (d.notes, i);
    Py_INCREF (n);
    if (add_note (&st->notes, n) < 0)
      rc = -1;
  }
  if (rc == 0)
    return decoded_fields (&d);
  decoded_clear (&d);
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
    if (PyUnicode_GET_LENGTH (k) < 2 || PyUnicode_READ_CHAR (k, 0) != ':')
      continue;
    switch (PyUnicode_READ_CHAR (k, 1))
    {
      case 's':
        if (EQUALS (k, ":status"))
          status = v;
        else if (EQUALS (k, ":scheme"))
          scheme = v;
        break;
      case 'm': method = EQUALS (k, ":method") ? v : method; break;
      case 'a': authority = EQUALS (k, ":authority") ? v : authority; break;
      case 'p': path = EQUALS (k, ":path") ? v : path; break;
      default: break;
    }
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
    PyObject *host = NULL;
    if (h1_get (headers, "host", &host) < 0)
      return -1;
    authority = host != NULL && PyUnicode_GET_LENGTH (host) > 0 ? host : NULL;
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
    PyObject *url = h1_join_url (scheme ? scheme : r->scheme, where, path);
    if (url == NULL)
      return -1;
    set (&st->url, url);
  }
  return 0;
}

/* Which headers the Python side must look at: CODED if a content or transfer coding is
 * named (http1.finish_body has work), TYPED if a content type is (it may be gRPC); -1 with
 * an exception */
int header_flags (PyObject *headers)
{
  int flags = 0, r = 0;
  for (Py_ssize_t i = 0; r >= 0 && headers != NULL && i < PyList_GET_SIZE (headers); i++)
  {
    PyObject *k = PyTuple_GET_ITEM (PyList_GET_ITEM (headers, i), 0);
    switch (PyUnicode_GET_LENGTH (k)) /* each name asked only of the names of its length */
    {
      case 16: flags |= (r = h1_name_is (k, "content-encoding")) > 0 ? CODED : 0; break;
      case 17: flags |= (r = h1_name_is (k, "transfer-encoding")) > 0 ? CODED : 0; break;
      case 12: flags |= (r = h1_name_is (k, "content-type")) > 0 ? TYPED : 0; break;
      default: break;
    }
  }
  return r < 0 ? -1 : flags;
}

/* grpc.is_grpc on a draft with these headers: 1, 0, or -1 with an exception set. An ASCII
 * content type (the usual one) is lowered here, as str.lower lowers ASCII: A-Z only. */
int grpc_typed (PyObject *headers)
{
  PyObject *ctype = NULL;
  int found = h1_get (headers, "content-type", &ctype);
  if (found <= 0)
    return found;
  Py_ssize_t n = PyUnicode_GET_LENGTH (ctype);
  char low[256];
  static const char grpc[] = "application/grpc", web[] = "grpc-web-text";
  const Py_ssize_t ng = (Py_ssize_t) sizeof grpc - 1, nw = (Py_ssize_t) sizeof web - 1;
  if (PyUnicode_IS_ASCII (ctype) && n <= (Py_ssize_t) sizeof low)
  {
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA (ctype);
    if (n < ng)
      return 0;
    /* the prefix first: most types are not gRPC, and are told by it before the rest */
    for (Py_ssize_t i = 0; i < ng; i++)
      if ((low[i] = (char) (s[i] >= 'A' && s[i] <= 'Z' ? s[i] + ('a' - 'A') : s[i])) != grpc[i])
        return 0;
    for (Py_ssize_t i = ng; i < n; i++)
      low[i] = (char) (s[i] >= 'A' && s[i] <= 'Z' ? s[i] + ('a' - 'A') : s[i]);
    for (Py_ssize_t i = 0; i + nw <= n; i++)
      if (memcmp (low + i, web, (size_t) nw) == 0)
        return 0;
    return 1;
  }
  PyObject *lowered = PyObject_CallMethod (ctype, "lower", NULL); /* str.lower, as is_grpc */
  if (lowered == NULL)
    return -1;
  Py_ssize_t starts = PyUnicode_Tailmatch (lowered, h2s.grpc, 0, PY_SSIZE_T_MAX, -1);
  int in = starts > 0 ? PySequence_Contains (lowered, h2s.grpc_web_text) : 0;
  Py_DECREF (lowered);
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
