/* One direction of an HTTP/2 connection read in C: h2ref._Direction.run, the reference kept
 * in h2ref.py, ported so that the frame loop, the header blocks (decoded by hd_decode
 * without a trip through Python) and the per-stream state cost no Python per frame. It
 * produces what the reference does, note for note (tests/parse/test_h2_native.py).
 *
 * read_frames(flow, facts, kind, start, starts, seqs, peers, max_table_size, max_block,
 * budget) returns (drafts, pending, notes). drafts are the Drafts _Direction.done gets, in
 * its order (made with h1draft.c, as _http1.c makes its own): bytes kept raw, and each
 * stream's when it closes, with the request it answers from peers (the client's drafts by
 * stream; a pushed stream's request is added). A body with one gzip or deflate coding that
 * decodes whole within budget is undone here (zcoding.c); pending lists (draft,
 * header_flags) for the drafts whose body has another coding to undo or is gRPC:
 * http2._read finishes those in Python.
 * notes are the connection notes.
 * starts and seqs are Flow.columns(): each chunk's offset and seq, as lists of the same
 * length; events are found as Flow.seqs finds them. */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "h2frames.h"

enum { DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY,
  WINDOW_UPDATE, CONTINUATION };
#define END_STREAM 0x1
#define END_HEADERS 0x4
#define PADDED 0x8
#define PRIORITY_FLAG 0x20
#define RESYNC_WINDOW (256 * 1024)
#define BODY_CAP ((size_t) 1 << 31)

static const uint8_t FLAGS[10] = { 0x09, 0x2D, 0, 0, 0x01, 0x0C, 0x01, 0, 0, 0x04 };
static const char *const ERRORS[14] = { "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR",
  "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR",
  "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
  "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED" };

H2Strings h2s;

int h2_init (void)
{
  return (h2s.h2 = PyUnicode_InternFromString ("h2"))
    && (h2s.stream = PyUnicode_InternFromString ("stream"))
    && (h2s.interim = PyUnicode_InternFromString ("interim"))
    && (h2s.trailers = PyUnicode_InternFromString ("trailers"))
    && (h2s.grpc = PyUnicode_InternFromString ("application/grpc"))
    && (h2s.grpc_web_text = PyUnicode_InternFromString ("grpc-web-text")) ? 0 : -1;
}

/* ---- frames: _Direction.run, _frame, _sane_head, _likely, _resync ---- */

static uint32_t be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int sane_head (uint32_t length, unsigned ftype, uint32_t sid)
{
  if (ftype > 0x20 || length > (1u << 20) || (sid & 0x80000000u))
    return 0;
  if ((ftype == DATA || ftype == HEADERS || ftype == CONTINUATION || ftype == PRIORITY
          || ftype == RST_STREAM || ftype == PUSH_PROMISE) && sid == 0)
    return 0;
  if ((ftype == SETTINGS || ftype == PING || ftype == GOAWAY) && sid != 0)
    return 0;
  if ((ftype == SETTINGS && length % 6) || (ftype == PING && length != 8))
    return 0;
  return !((ftype == RST_STREAM || ftype == WINDOW_UPDATE) && length != 4);
}

static int likely (const reader *r, Py_ssize_t q)
{
  if (r->len - q < 9)
    return 0;
  const uint8_t *h = r->data + q;
  uint32_t length = (uint32_t) h[0] << 16 | (uint32_t) h[1] << 8 | h[2];
  return sane_head (length, h[3], be32 (h + 5)) && h[3] < 10 && !(h[4] & ~FLAGS[h[3]]);
}

/* The first offset from which three frames in a row look right (or fewer that end exactly
 * at the end of the data); -1 if none within RESYNC_WINDOW. */
static Py_ssize_t resync (const reader *r, Py_ssize_t start)
{
  Py_ssize_t stop = r->len < start + RESYNC_WINDOW ? r->len : start + RESYNC_WINDOW;
  for (Py_ssize_t p = start; p < stop; p++)
  {
    Py_ssize_t q = p;
    int ok = 0;
    while (ok < 3 && q < r->len && likely (r, q))
    {
      const uint8_t *h = r->data + q;
      q += 9 + (Py_ssize_t) ((uint32_t) h[0] << 16 | (uint32_t) h[1] << 8 | h[2]);
      ok++;
    }
    if (ok == 3 || (ok && q == r->len))
      return p;
  }
  return -1;
}

static int raw (reader *r, Py_ssize_t start, Py_ssize_t end, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  PyObject *s = PyUnicode_FromFormatV (fmt, ap);
  va_end (ap);
  PyObject *d = s ? h1_raw_as (r->c, start, end, s, h2s.h2) : NULL;
  Py_XDECREF (s);
  return add_note (&r->done, d);
}

/* _Direction._frame: 0, -1 with an exception set, or 1 with *bad naming a malformed frame */
static int frame (reader *r, unsigned ftype, unsigned flags, uint32_t sid, const uint8_t *p,
    size_t n, Py_ssize_t pos, Py_ssize_t end, const char **bad)
{
  if ((ftype == DATA || ftype == HEADERS || ftype == PUSH_PROMISE) && (flags & PADDED))
  {
    if (n == 0 || p[0] >= n)
      return *bad = "padded", 1;
    n -= 1 + (size_t) p[0];
    p++;
  }
  if (ftype == DATA)
  {
    stream *st = get_stream (r, sid, pos);
    if (st == NULL)
      return -1;
    if (st->size + n <= BODY_CAP)
    {
      if (grow ((void **) &st->body, &st->cap, st->size + n, 1) < 0)
        return -1;
      if (n)
        memcpy (st->body + st->size, p, n);
      st->size += n;
    }
    if (add_events (r, st, pos, end) < 0)
      return -1;
    if (flags & END_STREAM)
    {
      st->ended = 1;
      return close_stream (r, sid);
    }
  }
  else if (ftype == HEADERS || ftype == PUSH_PROMISE)
  {
    r->block.has_promised = 0;
    if (ftype == HEADERS && (flags & PRIORITY_FLAG))
    {
      if (n < 5)
        return *bad = "HEADERS priority", 1;
      p += 5, n -= 5;
    }
    if (ftype == PUSH_PROMISE)
    {
      if (n < 4)
        return *bad = "PUSH_PROMISE", 1;
      r->block.has_promised = 1;
      r->block.promised = be32 (p) & 0x7fffffffu;
      p += 4, n -= 4;
    }
    r->block.open = 1;
    r->block.sid = sid;
    r->block.start = pos;
    r->block.end_stream = (flags & END_STREAM) != 0;
    r->block.len = 0;
    if (grow ((void **) &r->block.buf, &r->block.cap, n, 1) < 0)
      return -1;
    if (n)
      memcpy (r->block.buf, p, n);
    r->block.len = n;
    if (flags & END_HEADERS)
    {
      r->block.open = 0;
      return headers_done (r, end);
    }
  }
  else if (ftype == CONTINUATION)
  {
    if (!r->block.open || r->block.sid != sid)
    {
      if (lose_table (r, "CONTINUATION without HEADERS") < 0)
        return -1;
      return *bad = "CONTINUATION (no header block open)", 1;
    }
    if (grow ((void **) &r->block.buf, &r->block.cap, r->block.len + n, 1) < 0)
      return -1;
    if (n)
      memcpy (r->block.buf + r->block.len, p, n);
    r->block.len += n;
    if (r->block.len > (size_t) r->max_block)
    {
      r->block.open = 0;
      if (lose_table (r, "header block over %zd bytes", r->max_block) < 0)
        return -1;
      stream *st = get_stream (r, sid, r->block.start);
      return st == NULL ? -1 : note (&st->notes, "h2: header block over %zd bytes dropped",
          r->max_block);
    }
    if (flags & END_HEADERS)
    {
      r->block.open = 0;
      return headers_done (r, end);
    }
  }
  else if (ftype == RST_STREAM)
  {
    long long code = n >= 4 ? (long long) be32 (p) : -1;
    stream *st = find (r, sid);
    if (st != NULL)
    {
      if ((code >= 0 && code < 14 ? note (&st->notes, "stream reset by sender (%s)", ERRORS[code])
              : note (&st->notes, "stream reset by sender (%lld)", code)) < 0)
        return -1;
      st->ended = 1;
      return close_stream (r, sid);
    }
  }
  else if (ftype == GOAWAY && n >= 8)
  {
    uint32_t last = be32 (p) & 0x7fffffffu, code = be32 (p + 4);
    char name[24];
    if (code < 14)
      snprintf (name, sizeof name, "%s", ERRORS[code]);
    else
      snprintf (name, sizeof name, "%u", (unsigned) code);
    PyObject *debug = n > 8 ? PyBytes_FromStringAndSize ((const char *) p + 8,
        (Py_ssize_t) (n < 200 ? n : 200) - 8) : NULL;
    if (n > 8 && debug == NULL)
      return -1;
    int rc = debug ? note (&r->conn_notes, "GOAWAY from %S side: last stream %u, %s, debug %R",
        r->direction, (unsigned) last, name, debug) : note (&r->conn_notes, "GOAWAY from %S"
        " side: last stream %u, %s", r->direction, (unsigned) last, name);
    Py_XDECREF (debug);
    return rc;
  }
  return 0;
}

static int run (reader *r, Py_ssize_t pos)
{
  const uint8_t *data = r->data;
  while (pos < r->len)
  {
    if (r->len - pos < 9)
      return raw (r, pos, r->len, "h2: frame header cut (capture ended)");
    const uint8_t *h = data + pos;
    uint32_t length = (uint32_t) h[0] << 16 | (uint32_t) h[1] << 8 | h[2];
    unsigned ftype = h[3], flags = h[4];
    uint32_t sid = be32 (h + 5);
    int sane = sane_head (length, ftype, sid);
    sid &= 0x7fffffffu;
    if (!sane)
    {
      Py_ssize_t nxt = resync (r, pos + 1);
      const char *what = "h2: malformed frame header (type %u, stream %u, length %u)%s";
      if (nxt < 0)
        return raw (r, pos, r->len, what, ftype, (unsigned) sid, (unsigned) length,
            "; rest kept raw");
      if (raw (r, pos, nxt, what, ftype, (unsigned) sid, (unsigned) length, "; kept raw up to"
              " the next plausible frame") < 0
          || lose_table (r, "%zd bytes of frames not understood", nxt - pos) < 0)
        return -1;
      r->block.open = 0;
      pos = nxt;
      continue;
    }
    Py_ssize_t end = pos + 9 + (Py_ssize_t) length;
    size_t n = (size_t) ((end < r->len ? end : r->len) - pos - 9);
    if (end > r->len && note (&r->conn_notes, "h2: last frame cut (%zu of %u bytes)", n,
            (unsigned) length) < 0)
      return -1;
    if (r->block.open && ftype != CONTINUATION)
    {
      stream *st = get_stream (r, r->block.sid, r->block.start);
      if (st == NULL || note (&st->notes, "h2: header block interrupted (no CONTINUATION)") < 0
          || lose_table (r, "header block interrupted") < 0)
        return -1;
      r->block.open = 0;
    }
    const char *bad = NULL;
    int rc = frame (r, ftype, flags, sid, h + 9, n, pos, end, &bad);
    if (rc < 0)
      return -1;
    if (rc > 0)
    {
      if ((ftype == HEADERS || ftype == PUSH_PROMISE || ftype == CONTINUATION)
          && lose_table (r, "malformed %s frame on stream %u", bad, (unsigned) sid) < 0)
        return -1;
      stream *target = find (r, sid);
      if (note (target ? &target->notes : &r->conn_notes, "h2: malformed %s frame on stream %u",
              bad, (unsigned) sid) < 0)
        return -1;
    }
    pos = end;
  }
  return 0;
}

/* The chunks' starts and seqs: the starts the Ctx converted when they are the flow's own
 * list (Flow.columns() hands it over unless the flow was made of Chunks) */
static int read_chunks (reader *r, PyObject *starts, PyObject *seqs)
{
  Py_ssize_t n = PyList_GET_SIZE (starts);
  if (PyList_GET_SIZE (seqs) != n)
    return PyErr_SetString (PyExc_ValueError, "starts and seqs differ in length"), -1;
  r->ix = &r->c->ix;
  if (starts != r->c->starts && h1_chunks_of (r->ix = &r->own_ix, starts) < 0)
    return -1;
  r->seq_list = seqs;
  r->seqs = malloc ((size_t) (n ? n : 1) * sizeof *r->seqs);
  if (r->seqs == NULL)
    return PyErr_NoMemory (), -1;
  for (Py_ssize_t i = 0; i < n; i++)
    if ((r->seqs[i] = PyLong_AsLongLong (PyList_GET_ITEM (seqs, i))) == -1 && PyErr_Occurred ())
      return -1;
  return 0;
}

PyObject *h2_read_frames (PyObject *module, PyObject *args)
{
  Py_ssize_t start, max_table, max_block;
  PyObject *flow, *facts, *starts, *seqs, *budget, *out = NULL;
  reader r;
  Ctx c;
  memset (&r, 0, sizeof r);
  memset (&c, 0, sizeof c);
  if (!PyArg_ParseTuple (args, "OOOnO!O!O!nnO", &flow, &facts, &r.kind, &start, &PyList_Type,
          &starts, &PyList_Type, &seqs, &PyDict_Type, &r.peers, &max_table, &max_block,
          &budget))
    return NULL;
  if (h1s.draft == NULL)
    return PyErr_SetString (PyExc_RuntimeError, "_hpack.setup() was not called"), NULL;
  r.c = &c;
  r.max_table = (size_t) max_table;
  r.max_block = max_block;
  r.tcap = 16;
  r.tab = calloc (r.tcap, sizeof *r.tab);
  r.done = PyList_New (0);
  r.pending = PyList_New (0);
  r.conn_notes = PyList_New (0);
  if (max_table < 0 || (uint64_t) max_table > UINT32_MAX || max_block < 0 || start < 0)
    PyErr_SetString (PyExc_ValueError, "sizes and start must be in 0 .. 2^32-1");
  else if (r.tab == NULL)
    PyErr_NoMemory ();
  else if (r.done != NULL && r.pending != NULL && r.conn_notes != NULL
      && h1_ctx_open (&c, flow, facts, budget) == 0)
  {
    r.data = c.b.p;
    r.len = c.b.n;
    r.direction = c.direction;
    r.scheme = c.scheme;
    r.sni = c.sni;
    r.ip = c.ip;
    if (read_chunks (&r, starts, seqs) == 0 && hd_init (&r.hd, r.max_table, r.max_block) == 0
        && run (&r, start) == 0 && close_all (&r) == 0)
      out = PyTuple_Pack (3, r.done, r.pending, r.conn_notes);
  }
  streams_free (&r);
  free (r.tab);
  free (r.block.buf);
  h1_chunks_free (&r.own_ix);
  free (r.seqs);
  hd_free (&r.hd);
  h1_ctx_close (&c);
  Py_XDECREF (r.done);
  Py_XDECREF (r.pending);
  Py_XDECREF (r.conn_notes);
  return out;
}
