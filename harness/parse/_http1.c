/* HTTP/1.x parsing for http1.py, one call per flow: parse_requests and parse_responses do
 * what http1.py's functions of those names do (heads, header lines, bodies, resynchronising,
 * keep-alive, pipelining, 1xx, Upgrade/CONNECT) and build the same Drafts, with the same
 * notes, meta and event seqs; http1.py stays the reference, and tests/parse/test_http1_c.py
 * compares the two field by field on generated flows.
 *
 * Per message Python was most of the cost (regex calls, slicing, small functions, the Draft
 * dataclass's __init__): here a Draft is allocated and its slots written at the offsets
 * the class's member descriptors give. setup() hands over the Draft class (and checks that
 * its fields are the ones filled here, each a plain object slot), the MessageKind members,
 * http1.finish_body and MAX_HEAD. A body with one gzip or deflate coding that decodes whole
 * is undone here (zcoding.c); one with any other coding, several, or one that does not
 * decode whole (a note to write) still goes to finish_body.
 *
 * Byte scanning is in h1wire.c, header lines and bodies as Python objects in h1head.c and
 * h1body.c, Drafts and flows in h1draft.c. */

#include "h1draft.h"
#include "h1wire.h"
#include "zinflate.h"

#include <string.h>


static PyObject *protocol (const H1Line *line)
{
  PyObject **slot = &h1s.protocol[(line->v1 - '0') * 10 + (line->v2 - '0')];
  if (*slot == NULL)
    *slot = PyUnicode_FromFormat ("HTTP/%c.%c", line->v1, line->v2);
  return *slot;
}

/* One request or response: the parts parse_requests and parse_responses set. */
typedef struct
{
  PyObject *v[DN];
  PyObject *owned[32]; /* the references this message holds */
  int n;
} Msg;

/* o (a new reference, or NULL from its failed maker) kept in owned[] until msg_clear; o,
 * or NULL with an exception set (callers stop there, reading no v[] it was also put in).
 * owned[] never fills: no own() is in a loop, so a message takes at most one reference per
 * own() on its path through head, finish (with inflated) and request (11) or response
 * (13). The check makes a later edit that breaks this an exception rather than a write
 * past owned[]. */
static PyObject *own (Msg *m, PyObject *o)
{
  if (o != NULL && m->n == (int) (sizeof m->owned / sizeof m->owned[0]))
  {
    Py_DECREF (o);
    PyErr_SetString (PyExc_RuntimeError, "_http1: a message holds more references than"
                     " Msg.owned has room for");
    return NULL;
  }
  if (o != NULL)
    m->owned[m->n++] = o;
  return o;
}

static void msg_clear (Msg *m)
{
  while (m->n > 0)
    Py_DECREF (m->owned[--m->n]);
}

/* The head at pos: from_flow's fields, the notes, the header list; -1 on error. */
static int head (Ctx *c, Msg *m, PyObject *kind, Py_ssize_t pos, const H1Line *line,
                 Py_ssize_t head_start, Py_ssize_t head_end)
{
  PyObject *t, *seq, *notes = own (m, PyList_New (0));
  if (notes == NULL || h1_span (c, pos, head_end, &t, &seq, notes) < 0)
    return -1;
  h1_flow_fields (c, m->v, kind, t, seq);
  m->v[D_NOTES] = notes;
  m->v[D_PROTOCOL] = protocol (line);
  m->v[D_HEADERS] = own (m, h1_headers (&c->b, line->end, head_start, notes));
  return m->v[D_PROTOCOL] && m->v[D_HEADERS] ? 0 : -1;
}

/* zs_finish (zcoding.c) on the body in m->v, with this message's headers: the decoded
 * body and meta (made if the message has none yet) kept in m. 1, 0 or -1 as zs_finish;
 * 0 for a budget past Py_ssize_t (finish_body takes it as it is). */
static int inflated (Ctx *c, Msg *m, PyObject *headers)
{
  PyObject *ce = NULL, *te = NULL;
  if (!c->budget_ok)
    return 0;
  if (h1_get (headers, "content-encoding", &ce) < 0
      || h1_get (headers, "transfer-encoding", &te) < 0)
    return -1;
  PyObject *body = Py_NewRef (m->v[D_BODY]), *meta = m->v[D_META];
  int rc = zs_finish (ce, te, c->budget_n, &body, &meta, c->keep);
  PyObject *made = meta != m->v[D_META] ? meta : NULL; /* only when rc is 1 */
  if (rc != 1)
  {
    Py_DECREF (body);
    return rc;
  }
  /* the wire's length (h1_new_draft's default), before m->v[D_BODY] is the decoded body */
  if (!own (m, body)
      || !own (m, m->v[D_BODY_LEN_WIRE] = PyLong_FromSsize_t (PyBytes_GET_SIZE (m->v[D_BODY]))))
  {
    Py_XDECREF (made);
    return -1;
  }
  m->v[D_BODY] = body;
  return made == NULL || own (m, m->v[D_META] = made) ? 1 : -1;
}

/* The body from `from`, the message's events and the Draft (finish_body applied). */
static PyObject *finish (Ctx *c, Msg *m, Py_ssize_t pos, Py_ssize_t from, int to_close,
                         int no_body, Py_ssize_t *end)
{
  PyObject *headers = m->v[D_HEADERS], *wire;
  *end = from;
  wire = no_body ? Py_NewRef (h1s.empty_bytes)
                 : h1_read_body (&c->b, from, headers, to_close, m->v[D_NOTES], end);
  /* http1.py's seqs run to max(end, head.end): no body reader leaves *end before `from`
   * (each only moves forward from it; no body: `from` itself), so that is *end */
  if (own (m, wire) == NULL
      || !own (m, m->v[D_EVENTS] = h1_seqs (c, pos, *end)))
    return NULL;
  m->v[D_BODY] = wire;
  int plain = h1_plain_body (headers, wire);
  if (plain == 0)
    plain = inflated (c, m, headers);
  PyObject *d = plain >= 0 ? h1_new_draft (m->v) : NULL;
  if (d != NULL && plain == 0)
  {
    PyObject *r = PyObject_CallFunctionObjArgs (h1s.finish_body, d, wire, c->budget,
                                                c->keep ? c->keep : Py_None, NULL);
    plain = r ? 1 : -1;
    Py_XDECREF (r);
  }
  if (plain < 0)
    Py_CLEAR (d);
  return d;
}


static int is_str (PyObject *o, const char *s)
{
  return o != NULL && PyUnicode_Check (o) && PyUnicode_CompareWithASCIIString (o, s) == 0;
}

/* A request (parse_requests' loop body); *upgrade: parsing stops after it. */
static PyObject *request (Ctx *c, Py_ssize_t pos, const H1Line *line, Py_ssize_t head_start,
                          Py_ssize_t head_end, Py_ssize_t *end, int *upgrade)
{
  Msg m = {0};
  PyObject *d = NULL, *host = NULL, *up = NULL, *target;
  if (head (c, &m, h1s.request, pos, line, head_start, head_end) == 0
      /* ASCII (h1_request_line's [A-Z][A-Z0-9_-]*): decoded as UTF-8, the same text */
      && own (&m, m.v[D_METHOD] = h1_word (&c->b, line->a0, line->a1, "method",
                                           m.v[D_NOTES]))
      && (target = own (&m, h1_decode_text (&c->b, line->b0, line->b1, "request target", 0,
                                            0, m.v[D_NOTES])))
      && h1_get (m.v[D_HEADERS], "host", &host) >= 0
      && own (&m, m.v[D_URL] = h1_url_of (target, host, c->scheme, c->sni, c->ip, c->port))
      && own (&m, m.v[D_HOST] = h1_host_of (host))
      && (d = finish (c, &m, pos, head_end, 0, 0, end)))
  {
    int r = h1_get (m.v[D_HEADERS], "upgrade", &up);
    *upgrade = (r == 1 && PyUnicode_GET_LENGTH (up) > 0) || is_str (m.v[D_METHOD], "CONNECT");
    if (r < 0)
      Py_CLEAR (d);
  }
  msg_clear (&m);
  return d;
}

/* A response to req (borrowed, NULL: none captured); *method_connect: req was a CONNECT. */
static PyObject *response (Ctx *c, Py_ssize_t pos, const H1Line *line, Py_ssize_t head_start,
                           Py_ssize_t head_end, PyObject *req, int status, Py_ssize_t *end,
                           int *method_connect)
{
  Msg m = {0};
  PyObject *d = NULL, *method = NULL;
  int ok = head (c, &m, h1s.response, pos, line, head_start, head_end) == 0
    && own (&m, m.v[D_STATUS] = PyLong_FromLong (status))
    && own (&m, m.v[D_META] = PyDict_New ());
  if (ok && line->b1 > line->b0)
  {
    PyObject *reason = own (&m, h1_word (&c->b, line->b0, line->b1, "reason phrase",
                                         m.v[D_NOTES]));
    ok = reason && PyDict_SetItem (m.v[D_META], h1s.reason, reason) == 0;
  }
  if (ok && req == NULL)
  {
    PyObject *note = own (&m, PyUnicode_FromString ("response without a captured request"));
    ok = note && PyList_Append (m.v[D_NOTES], note) == 0;
  }
  else if (ok)
  {
    m.v[D_REQUEST] = req;
    ok = own (&m, m.v[D_URL] = h1_field (req, D_URL))
      && own (&m, m.v[D_HOST] = h1_field (req, D_HOST))
      && own (&m, method = h1_field (req, D_METHOD));
  }
  if (ok)
  {
    *method_connect = is_str (method, "CONNECT");
    int no_body = is_str (method, "HEAD") || (status >= 100 && status < 200) || status == 204
      || status == 304 || (*method_connect && status >= 200 && status < 300);
    d = finish (c, &m, pos, head_end, 1, no_body, end);
  }
  msg_clear (&m);
  return d;
}

/* The head at pos: its start line and [head_start, head_end) of its blank line, or 0. */
static int find_head (Ctx *c, Py_ssize_t pos, int is_request, H1Line *line,
                      Py_ssize_t *head_start, Py_ssize_t *head_end)
{
  Py_ssize_t limit = c->b.n - pos > h1s.max_head ? pos + h1s.max_head : c->b.n;
  if (!(is_request ? h1_request_line : h1_status_line) (c->b.p, pos, limit, line))
    return 0;
  if (!h1_head_end (c->b.p, line->end - (line->crlf ? 2 : 1), limit, head_start, head_end))
    return 0;
  if (*head_start < line->end) /* the blank line ends the start line: no header block */
    *head_start = line->end;
  return !is_request || h1_is_method (c->b.p, line->a0, line->a1);
}

static int ready (Py_ssize_t start)
{
  if (h1s.draft == NULL)
    PyErr_SetString (PyExc_RuntimeError, "_http1.setup() was not called");
  else if (start < 0)
    PyErr_SetString (PyExc_ValueError, "a negative start");
  else
    return 1;
  return 0;
}

/* d (a new reference; NULL: its maker failed) appended to drafts, and to also unless NULL:
 * d borrowed (the list holds it), or NULL on error. */
static PyObject *keep (PyObject *drafts, PyObject *also, PyObject *d)
{
  int r = d == NULL || PyList_Append (drafts, d) < 0
    || (also != NULL && PyList_Append (also, d) < 0);
  Py_XDECREF (d);
  return r ? NULL : d;
}

static PyObject *parse_requests (PyObject *self, PyObject *args)
{
  PyObject *flow, *facts, *budget, *drafts = NULL, *requests = NULL, *upgrade = Py_None;
  PyObject *out = NULL;
  Py_ssize_t pos;
  Ctx c;
  if (!PyArg_ParseTuple (args, "OnOO:parse_requests", &flow, &pos, &facts, &budget)
      || !ready (pos))
    return NULL;
  if (h1_ctx_open (&c, flow, facts, budget) < 0 || !(drafts = PyList_New (0))
      || !(requests = PyList_New (0)))
    goto done;
  while (pos < c.b.n)
  {
    H1Line line;
    Py_ssize_t hs, he, end;
    int up = 0;
    if (!find_head (&c, pos, 1, &line, &hs, &he))
    {
      Py_ssize_t next = h1_resync (c.b.p, pos + 1, c.b.n);
      end = next >= 0 ? next : c.b.n;
      if (!keep (drafts, NULL, h1_raw (&c, pos, end, "not HTTP/1.x here: kept raw")))
        goto done;
      pos = end;
      continue;
    }
    PyObject *d = keep (drafts, requests, request (&c, pos, &line, hs, he, &end, &up));
    if (d == NULL)
      goto done;
    pos = end; /* when the body framing was broken, the loop resynchronises from here */
    if (up)
    {
      upgrade = d;
      break;
    }
  }
  out = Py_BuildValue ("(OOOn)", drafts, requests, upgrade, pos);
done:
  h1_ctx_close (&c);
  Py_XDECREF (drafts);
  Py_XDECREF (requests);
  return out;
}

static PyObject *parse_responses (PyObject *self, PyObject *args)
{
  PyObject *flow, *facts, *budget, *requests, *until, *queue = NULL, *drafts = NULL;
  PyObject *switched = Py_None, *out = NULL;
  Py_ssize_t pos, next_req = 0;
  Ctx c;
  if (!PyArg_ParseTuple (args, "OnOOOO:parse_responses", &flow, &pos, &requests, &facts,
                         &budget, &until)
      || !ready (pos))
    return NULL;
  if (h1_ctx_open (&c, flow, facts, budget) < 0 || !(queue = PySequence_List (requests))
      || !(drafts = PyList_New (0)))
    goto done;
  while (pos < c.b.n)
  {
    H1Line line;
    Py_ssize_t hs, he, end;
    if (!find_head (&c, pos, 0, &line, &hs, &he))
    {
      Py_ssize_t next = h1_find_http1 (c.b.p, pos + 1, c.b.n);
      end = next >= 0 && c.b.p[next - 1] == '\n' ? next : c.b.n;
      if (!keep (drafts, NULL, h1_raw (&c, pos, end, "not an HTTP/1.x response: kept raw")))
        goto done;
      pos = end;
      continue;
    }
    const unsigned char *s = c.b.p + line.a0;
    int status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'), connect = 0;
    int interim = status >= 100 && status < 200 && status != 101;
    PyObject *req = next_req < PyList_GET_SIZE (queue) ? PyList_GET_ITEM (queue, next_req) : NULL;
    if (req != NULL && !interim)
      next_req++;
    PyObject *d = keep (drafts, NULL, response (&c, pos, &line, hs, he, req, status, &end,
                                                &connect));
    if (d == NULL)
      goto done;
    pos = end; /* when the body framing was broken, the loop resynchronises from here */
    if (status == 101 || (connect && status >= 200 && status < 300))
    {
      switched = d;
      break;
    }
    if (until != Py_None && req == until && !interim)
      break;
  }
  out = Py_BuildValue ("(OOn)", drafts, switched, pos);
done:
  h1_ctx_close (&c);
  Py_XDECREF (queue);
  Py_XDECREF (drafts);
  return out;
}

/* setup(Draft, REQUEST, RESPONSE, RAW, finish_body, MAX_HEAD) */
static PyObject *setup (PyObject *self, PyObject *args)
{
  PyObject *draft, *request, *response, *raw, *finish_body;
  Py_ssize_t max_head;
  if (!PyArg_ParseTuple (args, "OOOOOn:setup", &draft, &request, &response, &raw,
                         &finish_body, &max_head)
      || h1_setup (draft, request, response, raw) < 0)
    return NULL;
  Py_XSETREF (h1s.finish_body, Py_NewRef (finish_body));
  h1s.max_head = max_head;
  Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
  {"setup", setup, METH_VARARGS,
   "setup(Draft, REQUEST, RESPONSE, RAW, finish_body, MAX_HEAD): what the parsers build."},
  {"parse_requests", parse_requests, METH_VARARGS,
   "parse_requests(flow, start, facts, budget) -> (drafts, requests, upgrade, stop)"},
  {"parse_responses", parse_responses, METH_VARARGS,
   "parse_responses(flow, start, requests, facts, budget, until) -> (drafts, switched, stop)"},
  {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
  PyModuleDef_HEAD_INIT, "_http1", "HTTP/1.x parsing for http1.py, a flow per call.", -1,
  methods,
};

PyMODINIT_FUNC PyInit__http1 (void)
{
  return h1_init () < 0 ? NULL : PyModule_Create (&module);
}
