/* The streams of one direction for h2frames.c: open streams by id (and closed ones kept
 * for reuse), notes, the HPACK table restarted, and the draft a stream becomes when it
 * closes (_Direction._stream, _lose_table, _close); the events of each are h2events.c's. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "h2frames.h"
#include "zinflate.h"

int grow (void **buf, size_t *cap, size_t need, size_t item)
{
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap : 16;
  while (n < need)
    n *= 2;
  void *p = realloc (*buf, n * item);
  if (p == NULL)
  {
    PyErr_NoMemory ();
    return -1;
  }
  *buf = p;
  *cap = n;
  return 0;
}

static void release (stream *st)
{
  Py_CLEAR (st->notes);
  Py_CLEAR (st->headers);
  Py_CLEAR (st->method);
  Py_CLEAR (st->host);
  Py_CLEAR (st->url);
  Py_CLEAR (st->interim);
  Py_CLEAR (st->trailers);
}

static void stream_free (stream *st)
{
  release (st);
  free (st->body);
  free (st->spans);
  free (st);
}

void streams_free (reader *r)
{
  for (size_t i = 0; r->tab != NULL && i < r->tcap; i++)
    if (r->tab[i] != NULL)
      stream_free (r->tab[i]);
  while (r->spare != NULL)
  {
    stream *st = r->spare;
    r->spare = st->next_spare;
    stream_free (st);
  }
}

/* A closed stream kept for the next one (a stream's malloc, free and first buffers cost as
 * much as its draft's fields): its references released, its buffers kept, a body's only
 * up to SPARE_BODY bytes so that one large body is not held to the end. */
#define SPARE_BODY 65536

static void spare (reader *r, stream *st)
{
  release (st);
  if (st->cap > SPARE_BODY)
  {
    free (st->body);
    st->body = NULL;
    st->cap = 0;
  }
  st->next_spare = r->spare;
  r->spare = st;
}

/* A stream as calloc makes it, from the spares if there is one (its buffers kept) */
static stream *new_stream (reader *r)
{
  stream *st = r->spare;
  if (st == NULL)
    return calloc (1, sizeof (stream));
  r->spare = st->next_spare;
  char *body = st->body;
  span_t *spans = st->spans;
  size_t cap = st->cap, scap = st->scap;
  memset (st, 0, sizeof *st);
  st->body = body;
  st->cap = cap;
  st->spans = spans;
  st->scap = scap;
  return st;
}

/* ---- open streams by id ---- */

static size_t slot (const reader *r, uint32_t sid)
{
  size_t i = ((size_t) sid * 2654435761u) & (r->tcap - 1);
  while (r->tab[i] != NULL && r->tab[i]->sid != sid)
    i = (i + 1) & (r->tcap - 1);
  return i;
}

stream *find (const reader *r, uint32_t sid)
{
  return r->tab[slot (r, sid)];
}

static int insert (reader *r, stream *st)
{
  if ((r->count + 1) * 2 > r->tcap)
  {
    stream **old = r->tab;
    size_t ocap = r->tcap;
    stream **tab = calloc (ocap * 2, sizeof *tab);
    if (tab == NULL)
    {
      PyErr_NoMemory ();
      return -1;
    }
    r->tab = tab;
    r->tcap = ocap * 2;
    for (size_t i = 0; i < ocap; i++)
      if (old[i] != NULL)
        r->tab[slot (r, old[i]->sid)] = old[i];
    free (old);
  }
  r->tab[slot (r, st->sid)] = st;
  r->count++;
  return 0;
}

static void unlink_slot (reader *r, size_t i)
{
  size_t mask = r->tcap - 1;
  r->tab[i] = NULL;
  r->count--;
  /* backward-shift deletion: move later entries of the run into the hole they may need */
  for (size_t j = (i + 1) & mask; r->tab[j] != NULL; j = (j + 1) & mask)
  {
    stream *st = r->tab[j];
    r->tab[j] = NULL;
    r->tab[slot (r, st->sid)] = st;
  }
}

/* ---- notes ---- */

int add_note (PyObject **list, PyObject *note) /* steals note */
{
  if (note == NULL)
    return -1;
  if (*list == NULL && (*list = PyList_New (0)) == NULL)
  {
    Py_DECREF (note);
    return -1;
  }
  int rc = PyList_Append (*list, note);
  Py_DECREF (note);
  return rc;
}

int note (PyObject **list, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  PyObject *s = PyUnicode_FromFormatV (fmt, ap);
  va_end (ap);
  return add_note (list, s);
}

/* _Direction._lose_table: why (ASCII) kept to 200 characters, a fresh inflater */
int lose_table (reader *r, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (r->lost, sizeof r->lost, fmt, ap);
  va_end (ap);
  hd_free (&r->hd);
  return hd_init (&r->hd, r->max_table, r->max_block);
}


stream *get_stream (reader *r, uint32_t sid, Py_ssize_t pos)
{
  stream *st = find (r, sid);
  if (st != NULL)
    return st;
  st = new_stream (r);
  if (st == NULL)
    return (stream *) PyErr_NoMemory ();
  st->sid = sid;
  st->pos = pos;
  st->order = r->order++;
  st->status = -1;
  if (add_events (r, st, pos, pos + 9) < 0 || insert (r, st) < 0)
  {
    stream_free (st);
    return NULL;
  }
  return st;
}

/* notes.append(text) for a C string; 0 or -1 */
static int append_text (PyObject *notes, const char *text)
{
  return h1_append_note (notes, PyUnicode_FromString (text));
}

/* *v = *v or req.<field i> (h1_field); 0 or -1 */
static int or_attr (PyObject **v, PyObject *req, int i)
{
  int set = PyObject_IsTrue (*v);
  if (set != 0)
    return set < 0 ? -1 : 0;
  Py_SETREF (*v, h1_field (req, i));
  return *v == NULL ? -1 : 0;
}

/* The stream's Draft as h2ref._Direction makes it (from_flow at its first frame, the fields
 * its header blocks set) and closes it (_close), up to what needs Python: a body with a
 * content or transfer coding other than one gzip or deflate that decodes whole (which may
 * turn out gRPC once undone), or a gRPC one, goes to r->pending as (draft, header_flags)
 * for http2._read to finish. */
static PyObject *stream_draft (reader *r, stream *st)
{
  PyObject *v[DN] = {0}, *t, *seq, *d = NULL, *req = NULL;
  PyObject *notes = PyList_New (0), *sid = PyLong_FromUnsignedLong (st->sid);
  PyObject *url = Py_NewRef (st->url ? st->url : Py_None);
  PyObject *host = Py_NewRef (st->host ? st->host : Py_None);
  PyObject *events = NULL, *body = NULL, *len = NULL, *meta = NULL, *status = NULL;
  int response = r->kind == h1s.response, flags = header_flags (st->headers);
  if (flags < 0 || notes == NULL || sid == NULL
      || h1_span (r->c, st->pos, st->pos + 9, &t, &seq, notes) < 0
      || (st->notes && PyList_SetSlice (notes, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, st->notes) < 0))
    goto done;
  if (response && (req = PyDict_GetItemWithError (r->peers, sid)) == NULL && PyErr_Occurred ())
    goto done;
  if (req != NULL && req != Py_None)
  {
    if (or_attr (&url, req, D_URL) < 0 || or_attr (&host, req, D_HOST) < 0)
      goto done;
    v[D_REQUEST] = req;
  }
  else if (response && st->sid % 2 == 1
           && append_text (notes, "response without a captured request") < 0)
    goto done;
  if ((!st->ended && append_text (notes, "stream not finished when the capture ended") < 0)
      || !(events = events_of (r, st))
      || !(body = PyBytes_FromStringAndSize (st->body, (Py_ssize_t) st->size))
      || !(meta = PyDict_New ())
      || PyDict_SetItem (meta, h2s.stream, sid) < 0
      || (st->interim && st->interim != Py_None
          && PyDict_SetItem (meta, h2s.interim, st->interim) < 0)
      || (st->trailers && st->trailers != Py_None
          && PyDict_SetItem (meta, h2s.trailers, st->trailers) < 0)
      || (st->status >= 0 && !(status = PyLong_FromLong (st->status))))
    goto done;
  if ((flags & CODED) && st->size > 0 && r->c->budget_ok)
  {
    if (!(len = PyLong_FromSize_t (st->size))) /* the wire's, before the body is decoded */
      goto done;
    PyObject *ce = NULL, *te = NULL;
    int coded = h1_get (st->headers, "content-encoding", &ce) < 0
      || h1_get (st->headers, "transfer-encoding", &te) < 0
      ? -1 : zs_finish (ce, te, r->c->budget_n, &body, &meta, r->c->keep);
    if (coded < 0)
      goto done;
    if (coded)
      flags &= ~CODED;
  }
  h1_flow_fields (r->c, v, st->pushed ? h1s.request : r->kind, t, seq);
  v[D_PROTOCOL] = h2s.h2;
  v[D_HOST] = host;
  v[D_METHOD] = st->method;
  v[D_URL] = url;
  v[D_STATUS] = status;
  v[D_HEADERS] = st->headers; /* NULL: a fresh list */
  v[D_BODY] = body;
  v[D_BODY_LEN_WIRE] = len;
  v[D_EVENTS] = events;
  v[D_META] = meta;
  v[D_NOTES] = notes;
  d = h1_new_draft (v);
  int grpc = d != NULL && !(flags & CODED) && (flags & TYPED) && PyBytes_GET_SIZE (body) > 0
    ? grpc_typed (st->headers) : 0;
  if (grpc < 0)
    Py_CLEAR (d);
  if (d != NULL && ((flags & CODED) || grpc))
  {
    PyObject *todo = Py_BuildValue ("(Oi)", d, flags);
    if (add_note (&r->pending, todo) < 0)
      Py_CLEAR (d);
  }
  if (d != NULL && st->pushed && PyDict_SetItem (r->peers, sid, d) < 0)
    Py_CLEAR (d); /* the pushed response on that stream answers it */
done:
  Py_XDECREF (notes);
  Py_XDECREF (sid);
  Py_XDECREF (url);
  Py_XDECREF (host);
  Py_XDECREF (events);
  Py_XDECREF (body);
  Py_XDECREF (len);
  Py_XDECREF (meta);
  Py_XDECREF (status);
  return d;
}

/* _Direction._close: the stream's draft goes to done */
int close_stream (reader *r, uint32_t sid)
{
  size_t i = slot (r, sid);
  stream *st = r->tab[i];
  if (st == NULL)
    return 0;
  unlink_slot (r, i);
  PyObject *d = stream_draft (r, st);
  spare (r, st);
  return add_note (&r->done, d); /* appends and releases; NULL: the error passed on */
}


static int cmp_order (const void *x, const void *y)
{
  uint64_t a = (*(stream *const *) x)->order, b = (*(stream *const *) y)->order;
  return (a > b) - (a < b);
}

/* the streams still open, closed in the order they were opened */
int close_all (reader *r)
{
  size_t n = 0;
  stream **open = malloc ((r->count ? r->count : 1) * sizeof *open);
  if (open == NULL)
    return PyErr_NoMemory (), -1;
  for (size_t i = 0; i < r->tcap; i++)
    if (r->tab[i] != NULL)
      open[n++] = r->tab[i];
  qsort (open, n, sizeof *open, cmp_order);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = close_stream (r, open[i]->sid);
  free (open);
  return rc;
}
