/* Drafts and flows for _http1.c and _hpack.c (compiled into each extension, each with its
 * own h1s): a Draft (harness/parse/draft.py) made and filled from C, and what from_flow and
 * raw take from a Flow (harness/parse/reassembly.py): its chunk index, seqs and span. */

#ifndef H1DRAFT_H
#define H1DRAFT_H

#include "draftfields.h"
#include "h1head.h"

/* What setup() was given, and constants (finish_body and max_head: _http1.c only). */
typedef struct
{
  PyTypeObject *draft; /* NULL until setup() */
  Py_ssize_t offset[DN]; /* where each field's slot is in an instance */
  PyObject *request, *response, *raw, *finish_body;
  Py_ssize_t max_head;
  PyObject *minus_one, *zero, *zero_float, *no_args, *empty_bytes, *empty_str;
  PyObject *reason; /* the meta key, made once (PyDict_SetItemString makes it each time) */
  PyObject *scheme_sep; /* "://" */
  PyObject *protocol[100]; /* "HTTP/x.y", made when first needed */
} H1State;
extern H1State h1s;

/* The constants, from the module's init: 0, or -1 with an exception set. */
int h1_init (void);

/* A module's setup(): takes the Draft class if its fields are draftfields.h's, each a
 * writable T_OBJECT_EX slot (h1_new_draft writes them), and the kinds. 0, or -1 with
 * TypeError (the Draft and kinds given before still hold). */
int h1_setup (PyObject *draft, PyObject *request, PyObject *response, PyObject *raw);

/* Where each chunk of a flow starts, ascending (a flow's chunks are its bytes in order),
 * as C numbers: a message looks up two or three offsets, and converting the list's ints at
 * every step of a bisection cost more than converting each once. */
typedef struct
{
  Py_ssize_t *starts; /* PyMem_Malloc'd; NULL when there are none */
  Py_ssize_t n;
  Py_ssize_t last; /* the chunk found last: messages and frames are read in order */
} H1Chunks;

/* The starts of a list of ints; 0, or -1 with an exception (not ints, no memory). */
int h1_chunks_of (H1Chunks *ix, PyObject *starts);
void h1_chunks_free (H1Chunks *ix);

/* bisect_right(starts, off) - 1, at least 0: the chunk holding off (Flow._index before its
 * clamp to the seqs there are), found from the last one when it or the next holds off. */
Py_ssize_t h1_chunk_at (H1Chunks *ix, Py_ssize_t off);

/* One call's flow and connection facts (new references, held until ctx_close). */
typedef struct
{
  H1Buf b;
  H1Chunks ix; /* starts as C numbers */
  PyObject *chunks, *starts, *seqs, *ts, *direction, *budget; /* chunks: lossy flows only */
  Py_ssize_t budget_n; /* budget, the output budget of a body's coding, for zs_finish */
  int budget_ok;       /* 0: budget is past Py_ssize_t, every coded body goes to Python */
  int lossy;
  PyObject *source, *conn, *ip, *port, *sni, *tls_version, *cipher, *scheme;
  PyObject *keep; /* the flow's coded (Flow.coded), where decoded bodies are noted; NULL:
                   * a flow without it */
} Ctx;

int h1_ctx_open (Ctx *c, PyObject *flow, PyObject *facts, PyObject *budget);
void h1_ctx_close (Ctx *c);

/* Flow.seqs(start, end), a new tuple. */
PyObject *h1_seqs (Ctx *c, Py_ssize_t start, Py_ssize_t end);

/* What from_flow takes from Flow.span(start, end): the first byte's time and seq (borrowed),
 * and its "capture truncated" note when bytes were lost inside. 0, or -1 on error. */
int h1_span (Ctx *c, Py_ssize_t start, Py_ssize_t end, PyObject **t, PyObject **seq,
             PyObject *notes);

/* A Draft with the fields in v (borrowed; NULL: the field's default, and for body_len_wire
 * len(v[D_BODY]), a bytes, when v[D_BODY] is set: a caller that decodes the body sets it). */
PyObject *h1_new_draft (PyObject **v);

/* draft.<DRAFT[i]>, a new reference: a Draft's slot read where h1_new_draft writes it, getattr
 * for another class or a slot never set (it raises). NULL with an exception. */
PyObject *h1_field (PyObject *draft, int i);

/* responses_last(drafts) for _hpack: drafts.sort(key=lambda d: d.kind is RESPONSE) when
 * every item is a Draft whose kind is set, reordering the list in place (stable: the
 * others, then the responses, each in its order) and returning True; False, the list
 * untouched, for anything else (the caller sorts: a getattr can run Python code). The
 * builder orders each connection's drafts so; by the key that cost ~1,500 instructions a
 * draft, nearly all of it the lambda. */
PyObject *h1_responses_last (PyObject *self, PyObject *drafts);

/* f"{scheme}://{where}" + (path or ""), path a str or NULL: a draft's url, for both
 * parsers. The texts are copied into one new str when all are exact str (format() is then
 * the text itself), else formatted; PyUnicode_FromFormat cost ~1,200 instructions a url. */
PyObject *h1_join_url (PyObject *scheme, PyObject *where, PyObject *path);

/* The fields from_flow sets from the flow and the facts. */
void h1_flow_fields (Ctx *c, PyObject **v, PyObject *kind, PyObject *t, PyObject *seq);

/* draft.raw(flow, start, end, facts, note) */
PyObject *h1_raw (Ctx *c, Py_ssize_t start, Py_ssize_t end, const char *note);

/* draft.raw(flow, start, end, facts, note, protocol): note a str, protocol NULL for None */
PyObject *h1_raw_as (Ctx *c, Py_ssize_t start, Py_ssize_t end, PyObject *note,
                     PyObject *protocol);

#endif
