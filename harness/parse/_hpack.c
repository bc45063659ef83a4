/* HPACK header blocks (RFC 7541) for http2.py, decoded by libnghttp2's inflater.
 *
 * Inflater(max_table_size, max_list_size) is one direction's decoding context: its dynamic
 * table, which the sender's table-size updates may grow up to max_table_size.
 * Inflater.decode(block) returns the block's header fields in order as a list of
 * (name, value) bytes, or raises HPACKError saying what was wrong and where. After an
 * error the context is spent (every later decode raises): the sender's table and ours may
 * differ, and http2.py starts a fresh one (_Direction._lose_table).
 *
 * This replaced the pure-Python hpack package (a third of message building). Where the two
 * disagree on what is malformed, a block is refused if either refuses it; the differences,
 * each in tests/parse/test_hpack.py:
 *   - a string literal longer than 65536 octets (libnghttp2's NGHTTP2_HD_MAX_NV) is
 *     refused; hpack took it. RFC 7541 5.1 has a decoder refuse integers beyond its limits.
 * The decoded header list is limited as hpack limited it: the sum of 32 + len(name) +
 * len(value) over the fields (RFC 7541 4.1) may not exceed max_list_size.
 *
 * hd_decode is the decoding itself, shared with h2frames.c (read_frames), which decodes the
 * blocks it collects without handing them to Python.
 */

#include <stdio.h>
#include "_hpack.h"
#include "h1draft.h"
#include "h2frames.h"

#define MAX_STRING 65536 /* NGHTTP2_HD_MAX_NV, a private constant of libnghttp2 */

static PyObject *HPACKError;

typedef struct
{
  PyObject_HEAD
  hd_ctx hd;
  int spent;
} Inflater;

/* An RFC 7541 5.1 integer with a prefix-bit prefix at *pos, read within libnghttp2's limits
 * (at most 5 continuation octets, a value below 2^32). 1 with *out set, 0 if the block
 * ends first, -1 if it is beyond those limits. */
static int read_int (const uint8_t *p, size_t len, size_t *pos, int prefix, uint64_t *out)
{
  uint64_t k = (1u << prefix) - 1;
  uint64_t n = p[*pos] & k;
  (*pos)++;
  if (n == k)
    for (int shift = 0;; shift += 7)
    {
      if (*pos >= len)
        return 0;
      if (shift >= 32)
        return -1;
      uint8_t b = p[(*pos)++];
      n += (uint64_t) (b & 0x7f) << shift;
      if (n > UINT32_MAX)
        return -1;
      if (!(b & 0x80))
        break;
    }
  *out = n;
  return 1;
}

/* Writes into msg why libnghttp2 refused the representations from byte start on (the
 * first field the inflater did not emit, with any table-size updates before it). It reads
 * them again for the reasons the inflater checks, in its order. */
static void explain (hd_ctx *self, const uint8_t *p, size_t len, size_t start, int emitted,
    char *msg, size_t size)
{
  size_t entries = nghttp2_hd_inflate_get_num_table_entries (self->inf);
  size_t pos = start, at = start;
  int huffman = 0;
  uint64_t v;
  int r;
  while (pos < len)
  {
    at = pos;
    uint8_t b = p[pos];
    if ((b & 0xe0) == 0x20)
    {
      if (emitted)
      {
        snprintf (msg, size, "dynamic table size update at byte %zu after a header field"
            " (RFC 7541 4.2)", at);
        return;
      }
      if ((r = read_int (p, len, &pos, 5, &v)) != 1)
        goto bad_int;
      if (v > self->max_table)
      {
        snprintf (msg, size, "dynamic table size update at byte %zu to %llu, over the %zu"
            " allowed", at, (unsigned long long) v, self->max_table);
        return;
      }
      continue;
    }
    int prefix = (b & 0x80) ? 7 : (b & 0x40) ? 6 : 4;
    if (b & ((1u << prefix) - 1))
    {
      if ((r = read_int (p, len, &pos, prefix, &v)) != 1)
        goto bad_int;
      if (v == 0 || v > entries)
      {
        snprintf (msg, size, "index %llu at byte %zu is not in the table (1 to %zu)",
            (unsigned long long) v, at, entries);
        return;
      }
      if (prefix == 7)
        break; /* an indexed field that resolves: nothing here explains the error */
    }
    else if (prefix == 7)
    {
      snprintf (msg, size, "index 0 at byte %zu is not in the table (1 to %zu)", at, entries);
      return;
    }
    else
      pos++; /* a new name follows the first octet */
    for (int s = (b & ((1u << prefix) - 1)) ? 1 : 0; s < 2; s++)
    {
      size_t sat = pos;
      if (pos >= len)
        goto cut;
      huffman |= p[pos] & 0x80;
      if ((r = read_int (p, len, &pos, 7, &v)) != 1)
        goto bad_int;
      if (v > MAX_STRING)
      {
        snprintf (msg, size, "string of %llu octets at byte %zu, over the %d allowed",
            (unsigned long long) v, sat, MAX_STRING);
        return;
      }
      if (v > len - pos)
        goto cut;
      pos += v;
    }
    if (huffman)
      snprintf (msg, size, "invalid Huffman string in the field at byte %zu (padding over 7"
          " bits or not all ones, or the EOS symbol; RFC 7541 5.2)", at);
    else
      snprintf (msg, size, "libnghttp2 refused the field at byte %zu", at);
    return;
  }
  snprintf (msg, size, "libnghttp2 refused the block at byte %zu", start);
  return;
cut:
  snprintf (msg, size, "header block cut short: it ends inside the field at byte %zu", at);
  return;
bad_int:
  if (r == 0)
    goto cut;
  snprintf (msg, size, "integer in the representation at byte %zu is over 2^32-1 or longer"
      " than its prefix and 5 octets", at);
}

int hd_init (hd_ctx *c, size_t max_table, Py_ssize_t max_list)
{
  c->max_table = max_table;
  c->max_list = max_list;
  if (nghttp2_hd_inflate_new2 (&c->inf, NULL) != 0)
  {
    c->inf = NULL;
    PyErr_NoMemory ();
    return -1;
  }
  /* the settings a decoder acknowledged (RFC 9113 6.5.2): the sender may grow its table to
   * this; the table starts at 4096 octets either way (RFC 7541 4.2) */
  if (nghttp2_hd_inflate_change_table_size (c->inf, max_table) != 0)
  {
    hd_free (c);
    PyErr_NoMemory ();
    return -1;
  }
  return 0;
}

void hd_free (hd_ctx *c)
{
  if (c->inf != NULL)
    nghttp2_hd_inflate_del (c->inf);
  c->inf = NULL;
}

int hd_decode (hd_ctx *c, const uint8_t *p, size_t len, hd_emit emit, void *arg, char *msg,
    size_t size)
{
  size_t pos = 0;
  Py_ssize_t list_size = 0;
  int emitted = 0;
  /* every round consumes an octet or ends the block: len + 1 rounds at most */
  for (size_t round = 0; round <= len; round++)
  {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t rv = nghttp2_hd_inflate_hd2 (c->inf, &nv, &flags, p + pos, len - pos, 1);
    if (rv < 0)
    {
      if (rv == NGHTTP2_ERR_HEADER_COMP)
        explain (c, p, len, pos, emitted, msg, size);
      else
        snprintf (msg, size, "libnghttp2: %s", nghttp2_strerror ((int) rv));
      return 1;
    }
    pos += (size_t) rv;
    if (flags & NGHTTP2_HD_INFLATE_EMIT)
    {
      emitted = 1;
      list_size += 32 + (Py_ssize_t) nv.namelen + (Py_ssize_t) nv.valuelen;
      if (list_size > c->max_list)
      {
        snprintf (msg, size, "header list over %zd octets (RFC 7541 4.1 sizes)", c->max_list);
        return 1;
      }
      if (emit (arg, &nv) < 0)
        return -1;
    }
    if (flags & NGHTTP2_HD_INFLATE_FINAL)
    {
      nghttp2_hd_inflate_end_headers (c->inf);
      return 0;
    }
  }
  snprintf (msg, size, "libnghttp2 made no progress on the block");
  return 1;
}

static int emit_bytes (void *arg, const nghttp2_nv *nv)
{
  PyObject *pair = Py_BuildValue ("(y#y#)", (const char *) nv->name, (Py_ssize_t) nv->namelen,
      (const char *) nv->value, (Py_ssize_t) nv->valuelen);
  if (pair == NULL)
    return -1;
  int rc = PyList_Append ((PyObject *) arg, pair);
  Py_DECREF (pair);
  return rc;
}

static PyObject *decode (Inflater *self, PyObject *arg)
{
  Py_buffer in;
  char msg[200];
  if (self->spent)
  {
    PyErr_SetString (HPACKError, "decoding context spent by an earlier error");
    return NULL;
  }
  if (PyObject_GetBuffer (arg, &in, PyBUF_SIMPLE) < 0)
    return NULL;
  PyObject *out = PyList_New (0);
  if (out != NULL)
  {
    int rc = hd_decode (&self->hd, in.buf, (size_t) in.len, emit_bytes, out, msg, sizeof msg);
    if (rc != 0)
    {
      Py_CLEAR (out);
      self->spent = 1;
      if (rc == 1)
        PyErr_SetString (HPACKError, msg);
    }
  }
  PyBuffer_Release (&in);
  return out;
}

static PyObject *inflater_new (PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  Py_ssize_t max_table, max_list;
  static char *kw[] = { "max_table_size", "max_list_size", NULL };
  if (!PyArg_ParseTupleAndKeywords (args, kwds, "nn", kw, &max_table, &max_list))
    return NULL;
  if (max_table < 0 || (uint64_t) max_table > UINT32_MAX || max_list < 0)
  {
    PyErr_SetString (PyExc_ValueError, "sizes must be in 0 .. 2^32-1");
    return NULL;
  }
  Inflater *self = (Inflater *) type->tp_alloc (type, 0);
  if (self == NULL)
    return NULL;
  if (hd_init (&self->hd, (size_t) max_table, max_list) < 0)
  {
    Py_DECREF (self);
    return NULL;
  }
  return (PyObject *) self;
}

static void inflater_dealloc (Inflater *self)
{
  hd_free (&self->hd);
  Py_TYPE (self)->tp_free ((PyObject *) self);
}

static PyMethodDef inflater_methods[] = {
  { "decode", (PyCFunction) decode, METH_O,
    "decode(block) -> list[(name, value)]: one header block's fields; HPACKError if it is"
    " malformed (the context is then spent)" },
  { NULL, NULL, 0, NULL },
};

static PyTypeObject InflaterType = {
  PyVarObject_HEAD_INIT (NULL, 0)
  .tp_name = "harness.parse._hpack.Inflater",
  .tp_basicsize = sizeof (Inflater),
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_doc = "Inflater(max_table_size, max_list_size): one direction's HPACK decoding context",
  .tp_new = inflater_new,
  .tp_dealloc = (destructor) inflater_dealloc,
  .tp_methods = inflater_methods,
};

/* setup(Draft, REQUEST, RESPONSE, RAW): what read_frames builds (h1draft.c's checks) */
static PyObject *setup (PyObject *self, PyObject *args)
{
  PyObject *draft, *request, *response, *raw;
  if (!PyArg_ParseTuple (args, "OOOO:setup", &draft, &request, &response, &raw)
      || h1_setup (draft, request, response, raw) < 0)
    return NULL;
  Py_RETURN_NONE;
}

/* by_stream(drafts, requests): http2.parse's loop over the client's drafts, each request
 * whose meta names an int stream put in requests by it, in C (~500 instructions a draft
 * in Python). Only when every item is a Draft whose kind is set and, for a request, whose
 * meta is a dict, all checked before requests is touched (True); False, untouched, for
 * anything else: the Python loop then runs, and raises where it would. */
static PyObject *by_stream (PyObject *self, PyObject *args)
{
  (void) self;
  PyObject *drafts, *requests;
  if (!PyArg_ParseTuple (args, "O!O!:by_stream", &PyList_Type, &drafts, &PyDict_Type,
                         &requests))
    return NULL;
  if (h1s.draft == NULL)
    Py_RETURN_FALSE;
  Py_ssize_t n = PyList_GET_SIZE (drafts);
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *d = PyList_GET_ITEM (drafts, i);
    if (Py_TYPE (d) != h1s.draft)
      Py_RETURN_FALSE;
    PyObject *kind = *(PyObject **) ((char *) d + h1s.offset[D_KIND]);
    PyObject *meta = *(PyObject **) ((char *) d + h1s.offset[D_META]);
    if (kind == NULL || (kind == h1s.request && (meta == NULL || !PyDict_CheckExact (meta))))
      Py_RETURN_FALSE;
  }
  /* a lookup or a store can run Python code (a key's __eq__), which could change the list
   * or a draft: each turn reads them again, as the list's iterator and the loop do */
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE (drafts); i++)
  {
    PyObject *d = PyList_GET_ITEM (drafts, i);
    if (Py_TYPE (d) != h1s.draft
        || *(PyObject **) ((char *) d + h1s.offset[D_KIND]) != h1s.request)
      continue;
    PyObject *meta = *(PyObject **) ((char *) d + h1s.offset[D_META]);
    if (meta == NULL || !PyDict_CheckExact (meta))
      continue;
    Py_INCREF (d);
    Py_INCREF (meta);
    PyObject *sid = PyDict_GetItemWithError (meta, h2s.stream); /* meta.get("stream") */
    Py_XINCREF (sid);
    int rc = sid == NULL ? (PyErr_Occurred () ? -1 : 0)
             : PyLong_Check (sid) ? PyDict_SetItem (requests, sid, d) : 0;
    Py_XDECREF (sid);
    Py_DECREF (meta);
    Py_DECREF (d);
    if (rc < 0)
      return NULL;
  }
  Py_RETURN_TRUE;
}

static PyMethodDef module_methods[] = {
  { "setup", setup, METH_VARARGS,
    "setup(Draft, REQUEST, RESPONSE, RAW): the class and kinds read_frames builds" },
  { "read_frames", h2_read_frames, METH_VARARGS,
    "read_frames(flow, facts, kind, start, starts, seqs, peers, max_table_size, max_block,"
    " budget) -> (drafts, pending, connection notes): one direction of an HTTP/2 connection read"
    " as h2ref._Direction reads it (see h2frames.c)" },
  { "by_stream", by_stream, METH_VARARGS,
    "by_stream(drafts, requests) -> bool: requests[d.meta['stream']] = d for each request d"
    " whose meta names an int stream, as http2.parse does, when every item is a Draft with"
    " its kind set and a request's meta is a dict (True); False, requests untouched, else" },
  { "responses_last", h1_responses_last, METH_O,
    "responses_last(drafts) -> bool: drafts.sort(key=lambda d: d.kind is RESPONSE) done"
    " in place when every item is a Draft with its kind set (True); False, untouched, else" },
  { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
  PyModuleDef_HEAD_INIT, "_hpack", "HPACK header blocks decoded by libnghttp2, and the"
  " HTTP/2 frame reader that feeds them (http2.py).", -1, module_methods, NULL, NULL, NULL,
  NULL,
};

PyMODINIT_FUNC PyInit__hpack (void)
{
  if (h1_init () < 0 || h2_init () < 0 || PyType_Ready (&InflaterType) < 0)
    return NULL;
  PyObject *m = PyModule_Create (&module);
  if (m == NULL)
    return NULL;
  HPACKError = PyErr_NewExceptionWithDoc ("harness.parse._hpack.HPACKError",
      "A malformed HPACK header block (or one over a limit); the message says why.",
      PyExc_ValueError, NULL);
  if (HPACKError == NULL || PyModule_AddObjectRef (m, "HPACKError", HPACKError) < 0
      || PyModule_AddObjectRef (m, "Inflater", (PyObject *) &InflaterType) < 0)
  {
    Py_DECREF (m);
    return NULL;
  }
  return m;
}
