/* What the HTTP/2 frame reader's files share: h2frames.c reads the frames, h2stream.c keeps
 * the streams and makes their records, h2events.c the events they came from, h2headers.c
 * decodes and applies header blocks, with texts from h2texts.c.
 * Together they are h2ref._Direction in C (see h2frames.c). */

#ifndef HARNESS_H2FRAMES_H
#define HARNESS_H2FRAMES_H

#include "_hpack.h"
#include "h1draft.h"

typedef struct { Py_ssize_t a, b; } span_t; /* chunk indexes a..b */

typedef struct stream
{
  uint32_t sid;
  int ended, pushed;
  Py_ssize_t pos;
  uint64_t order;
  long status; /* -1: None */
  PyObject *notes, *headers, *method, *host, *url, *interim, *trailers; /* NULL: none */
  char *body;
  size_t size, cap;
  span_t *spans;
  size_t nspans, scap;
  struct stream *next_spare; /* in reader.spare */
} stream;

typedef struct
{
  const uint8_t *data;
  Py_ssize_t len;
  H1Chunks *ix;     /* where the chunks start: the Ctx's, or own_ix if starts differ */
  H1Chunks own_ix;
  long long *seqs;  /* each chunk's seq */
  PyObject *seq_list; /* the list they were read from (borrowed: the call's argument) */
  Ctx *c; /* the flow and the connection's facts, for the drafts (h1draft.h) */
  PyObject *direction, *scheme, *sni, *ip, *kind, *peers;
  hd_ctx hd;
  size_t max_table;
  Py_ssize_t max_block;
  char lost[201]; /* why the table was restarted (_Direction.hpack_lost); "" if never */
  stream **tab;   /* open streams by id: open addressing, linear probing */
  size_t tcap, count;
  stream *spare;  /* closed streams, kept for the next ones with their buffers */
  uint64_t order;
  struct
  {
    int open, end_stream, has_promised;
    uint32_t sid, promised;
    Py_ssize_t start;
    uint8_t *buf;
    size_t len, cap;
  } block;
  PyObject *done, *pending, *conn_notes; /* pending: (draft, flags) Python finishes */
} reader;

/* Strings every call uses, made once by h2_init (from the module's init): a key or a
 * literal made per draft costs more than the rest of the draft's dict or text. */
typedef struct
{
  PyObject *h2, *stream, *interim, *trailers, *grpc, *grpc_web_text;
} H2Strings;
extern H2Strings h2s;
int h2_init (void); /* 0, or -1 with an exception set */

/* header_flags: what the Python side must still look at (http2._CODED, http2._TYPED) */
#define CODED 1
#define TYPED 2

/* h2stream.c; each int function returns 0, or -1 with a Python exception set */
int grow (void **buf, size_t *cap, size_t need, size_t item);
void streams_free (reader *r); /* the open streams and the spare ones */
stream *find (const reader *r, uint32_t sid);
stream *get_stream (reader *r, uint32_t sid, Py_ssize_t pos); /* NULL: exception set */
int add_note (PyObject **list, PyObject *note); /* steals note; NULL note: error passed on */
int note (PyObject **list, const char *fmt, ...);
int lose_table (reader *r, const char *fmt, ...);
int close_stream (reader *r, uint32_t sid);
int close_all (reader *r);

/* h2events.c */
int add_events (reader *r, stream *st, Py_ssize_t start, Py_ssize_t end);
PyObject *events_of (const reader *r, const stream *st); /* the seqs, sorted: a new tuple */

/* h2texts.c: emit_str, hd_decode's emit with a decoded *arg (its fields, notes and n
 * zeroed first), adds each field as (str, str), and appends to notes (made when first
 * needed) why a value was not UTF-8. decoded_fields gives the fields as a new list of the
 * size it ends at (a block's fields wait in buf: appending each to a list cost more than
 * the list), and lets go of the rest; decoded_clear lets go of all. */
#define DECODED_BUF 32
typedef struct
{
  PyObject *fields, *notes; /* fields: those before buf's, once buf filled */
  PyObject *buf[DECODED_BUF];
  Py_ssize_t n;
} decoded;
int emit_str (void *arg, const nghttp2_nv *nv);
PyObject *decoded_fields (decoded *d); /* NULL with an exception set */
void decoded_clear (decoded *d);

/* h2headers.c (Draft.header is h1head.h's h1_get) */
int header_flags (PyObject *headers); /* -1 with an exception set */
int grpc_typed (PyObject *headers); /* grpc.is_grpc: 1, 0, or -1 with an exception set */
int headers_done (reader *r, Py_ssize_t end);

#endif
