/* One layer's children in C (decoders.py's Decoder._children and Decoder._decode): which
 * decoder opens which bytes, in the same order and with the same tests (bytetests.h), each
 * child under its chain step. Protobuf (blackboxprotobuf) and the app's transforms stay
 * Python callbacks; gzip and zlib (zinflate.c, encoding.py's inflate in C: a stream that
 * would write a note is handed back), forms (form.c), base64 (b64.c), hex and the JSON
 * leaves (jsonwalk.c) are here, and so is the test that keeps most layers from the protobuf
 * one (protowire.h). A child is only made; the walk (expand.c) budgets and scans it.
 */

#include "expand.h"
#include "b64.h"
#include "bytetests.h"
#include "protowire.h"
#include "../parse/zinflate.h"

#include <string.h>

/* (*chain, *steps): a new tuple. */
static PyObject *extend (PyObject *chain, PyObject *steps)
{
  return PySequence_Concat (chain, steps);
}

/* (*chain, step): a new tuple; the reference to step (a str) is taken (NULL: an error). */
static PyObject *extend_str (PyObject *chain, PyObject *step)
{
  if (step == NULL)
    return NULL;
  Py_ssize_t k = PyTuple_GET_SIZE (chain);
  PyObject *t = PyTuple_New (k + 1);
  if (t == NULL)
  {
    Py_DECREF (step);
    return NULL;
  }
  for (Py_ssize_t i = 0; i < k; i++)
    PyTuple_SET_ITEM (t, i, Py_NewRef (PyTuple_GET_ITEM (chain, i)));
  PyTuple_SET_ITEM (t, k, step);
  return t;
}

static PyObject *extend1 (PyObject *chain, const char *step, Py_ssize_t n)
{
  return extend_str (chain, PyUnicode_DecodeUTF8 (step, n, "surrogateescape"));
}

/* Whether b[0, n) is a span of the parent layer's own bytes (a JSON string without escapes,
   an integer) that none of the parent's hits overlaps: the Scanner's patterns are literals,
   and it reports every occurrence (every end, SOM_LEFTMOST), so an occurrence inside the
   span would have been one of the parent's hits. Such a leaf then needs no scan of its own
   (most leaves: a scan of a few dozen bytes costs more than its bytes). */
typedef struct {
  Ctx *cx;
  PyObject *chain; /* the parent layer's */
  PyObject *owner; /* the bytes object the parent's bytes are in */
  Layers *out;
  int depth;
  const unsigned char *parent; /* the parent layer's bytes */
  Py_ssize_t parent_n;
  const Hits *hits; /* the Scanner's hits in them; NULL: scan is not the Scanner's own */
} LeafCtx;

static int inside (const LeafCtx *lc, const unsigned char *b, Py_ssize_t n)
{
  uintptr_t at = (uintptr_t) b, base = (uintptr_t) lc->parent;
  return at >= base && at + (uintptr_t) n <= base + (uintptr_t) lc->parent_n;
}

static int unmatched (const LeafCtx *lc, const unsigned char *b, Py_ssize_t n)
{
  if (lc->hits == NULL || !inside (lc, b, n))
    return 0;
  Py_ssize_t start = b - lc->parent, end = start + n;
  for (Py_ssize_t i = 0; i < lc->hits->n; i++)
    if (lc->hits->v[i].end > start && lc->hits->v[i].start < end)
      return 0;
  return 1;
}

/* A kept leaf as a lazy layer (expand.h): its chain the parent's and its path, its bytes a
   span of the parent's where they are one (else, a string with escapes or a float's text,
   which live only during the walk, a bytes object now). Most leaves are never scanned nor
   open a decoder, and then never become Python objects. */
static int add_leaf (void *ctx, const char *path, Py_ssize_t path_len, const unsigned char *b,
    Py_ssize_t n, int inert)
{
  LeafCtx *lc = ctx;
  Py_ssize_t at = walk_path (lc->cx, path, path_len);
  if (at < 0 || !layers_room (lc->out))
    return 0;
  Layer l = { .b = b, .n = n, .base = Py_NewRef (lc->chain), .path = at, .path_len = path_len,
    .depth = lc->depth, .inert = inert, .clean = unmatched (lc, b, n) };
  if (inside (lc, b, n))
    l.owner = Py_NewRef (lc->owner);
  else if ((l.data = PyBytes_FromStringAndSize ((const char *) b, n)) == NULL)
  {
    Py_DECREF (l.base);
    return 0;
  }
  else
    l.b = (const unsigned char *) PyBytes_AS_STRING (l.data);
  lc->out->v[lc->out->n++] = l;
  return 1;
}

/* steps-and-bytes pairs from the Python protobuf decoder as children. -1: error. */
static int add_pairs (PyObject *pairs, PyObject *chain, Layers *out, int depth)
{
  if (pairs == NULL)
    return -1;
  if (!PyList_Check (pairs))
  {
    Py_DECREF (pairs);
    PyErr_SetString (PyExc_TypeError, "a decoder hook must return a list");
    return -1;
  }
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE (pairs); i++)
  {
    PyObject *steps, *data;
    if (!PyArg_ParseTuple (PyList_GET_ITEM (pairs, i), "O!O!", &PyTuple_Type, &steps,
            &PyBytes_Type, &data)
        || !push (out, extend (chain, steps), Py_NewRef (data), depth, 0))
    {
      Py_DECREF (pairs);
      return -1;
    }
  }
  Py_ssize_t n = PyList_GET_SIZE (pairs);
  Py_DECREF (pairs);
  return (int) (n > 0);
}

/* A single child from a bytes-or-None result, under chain + step (chain NULL: an error
   already set). 1 added, 0 not, -1 error. */
static int add_one (PyObject *chain, const char *step, PyObject *data, Layers *out, int depth)
{
  if (chain == NULL)
    return -1;
  return push (out, extend1 (chain, step, (Py_ssize_t) strlen (step)), Py_NewRef (data), depth,
             0) ? 1 : -1;
}

/* The base64 child of s[0, n) (the whole layer: step; a run in it: "base64@<*at>", kept only
   when it decodes to other bytes than its own), when what it decodes to is plausible: 1
   added, 0 not, -1 error. Decoded into cx's scratch first: most runs in text are not kept,
   and make no bytes object. */
static int b64_plausible (Ctx *cx, const unsigned char *s, Py_ssize_t n, const Py_ssize_t *at,
    Layer *l, const char *step, Layers *out, int depth)
{
  Py_ssize_t size;
  unsigned char *o = walk_b64 (cx, s, n, &size);
  if (o == NULL)
    return size < 0 ? 0 : -1;
  if (!plausible (o, size) || (at != NULL && size == n && memcmp (o, s, (size_t) n) == 0))
    return 0;
  char label[48];
  if (at != NULL)
    snprintf (label, sizeof label, "base64@%zd", *at);
  PyObject *blob = PyBytes_FromStringAndSize ((const char *) o, size);
  if (blob == NULL)
    return -1;
  int added = add_one (layer_chain (cx, l), at != NULL ? label : step, blob, out, depth);
  Py_DECREF (blob);
  return added;
}

int children (Ctx *cx, Layer *l, const Hits *hits, const Span *hot,
    Py_ssize_t hot_count, Layers *out)
{
  const unsigned char *d = l->b;
  Py_ssize_t n = l->n;
  int depth = l->depth + 1;
  if (n == 0)
    return OK;
  int coding = ZS_NONE;
  const char *step = NULL;
  if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b)
    coding = ZS_GZIP, step = "gzip";
  else if (n > 2 && d[0] == 0x78 && ((d[0] << 8) | d[1]) % 31 == 0)
    coding = ZS_DEFLATE, step = "zlib";
  if (coding != ZS_NONE)
  {
    /* Decoder._inflate: decompress(data, kind, limit), whose notes (cut at the limit,
       truncated, not decodable) are written by the Python walk, with the chain */
    Py_ssize_t room = cx->max_bytes - cx->bytes - cx->unread_bytes; /* a cut: handed back */
    Py_ssize_t limit = room < (32 << 20) ? room : (32 << 20);
    PyObject *r = zs_body (d, n, coding, limit < 1 ? 1 : limit);
    if (r == NULL)
      return ERROR;
    int verdict = r == Py_None ? FALLBACK_MSG
        : add_one (layer_chain (cx, l), step, r, out, depth) < 0 ? ERROR : OK;
    Py_DECREF (r);
    if (verdict != OK)
      return verdict;
    goto done;
  }
  Py_ssize_t a = 0, z = n;
  while (a < z && space (d[a]))
    a++;
  while (z > a && space (d[z - 1]))
    z--;
  const unsigned char *s = d + a;
  Py_ssize_t sn = z - a;
  if (sn > 0 && (s[0] == '{' || s[0] == '[') && (s[sn - 1] == '}' || s[sn - 1] == ']'))
  {
    /* a layer that matched nothing and that nothing in can open a decoder (barren.c): its
       leaves, at most one a string, are counted and not read, where they could not have
       met a limit themselves (the depth's, the budget's); else they are read */
    Py_ssize_t strings;
    int barren = hits != NULL && hits->n == 0 && cx->transform == Py_None
        && depth < cx->max_depth ? json_barren (cx, d, n, &strings) : 0;
    if (barren < 0)
      return ERROR;
    if (barren && (cx->layers + cx->unread_layers + strings > cx->max_layers
            || cx->bytes + cx->unread_bytes + sn > cx->max_bytes))
      barren = 0;
    if (barren)
    {
      cx->unread_layers += strings;
      cx->unread_bytes += sn;
      return OK;
    }
    PyObject *chain = layer_chain (cx, l);
    if (chain == NULL)
      return ERROR;
    LeafCtx lc = { cx, chain, l->owner != NULL ? l->owner : l->data, out, depth, d, n, hits };
    int r = json_walk (s, sn, cx->min_leaf, hot, hot_count, add_leaf, &lc);
    if (r == OK)
      goto done;
    if (r == FALLBACK)
      return FALLBACK_MSG;
    if (r == NO_MEMORY)
    {
      PyErr_NoMemory ();
      return ERROR;
    }
    if (r == ERROR)
      return ERROR;
    /* NOT_JSON: the other decoders */
  }
  /* the whole layer a base64 run that is not kept: it is also the only run the search for
     runs in text below would find, and would decode it again to the same answer */
  int one_run = 0;
  if (sn >= 16 && b64_whole (s, sn))
  {
    int found = b64_plausible (cx, s, sn, NULL, l, "base64", out, depth);
    if (found < 0)
      return ERROR;
    if (found)
      goto done;
    one_run = 1;
  }
  if (form_whole (s, sn))
  {
    PyObject *chain = layer_chain (cx, l);
    if (chain == NULL || !form_children (s, sn, chain, out, depth))
      return ERROR;
    goto done;
  }
  if (hex_whole (s, sn))
  {
    PyObject *raw = PyBytes_FromStringAndSize (NULL, sn / 2);
    if (raw == NULL)
      return ERROR;
    unsigned char *o = (unsigned char *) PyBytes_AS_STRING (raw);
    for (Py_ssize_t i = 0; i < sn; i += 2)
    {
      int hi = s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
      int lo = s[i + 1] <= '9' ? s[i + 1] - '0' : (s[i + 1] | 0x20) - 'a' + 10;
      o[i / 2] = (unsigned char) (hi << 4 | lo);
    }
    int found = plausible (o, sn / 2);
    int added = found ? add_one (layer_chain (cx, l), "hex", raw, out, depth) : 0;
    Py_DECREF (raw);
    if (added < 0)
      return ERROR;
    if (found)
      goto done;
  }
  Py_ssize_t payloads = 0;
  int level; /* protobuf_may's and protobuf_hazard's pb_level of the top level, run once */
  if (printable (d, n) < 0.97 && n <= (4 << 20)
      && (level = pb_level (d, n, &payloads)) != PB_RAISES)
  {
    if (pb_hazard_after (d, n, level, payloads, 0))
      return FALLBACK_MSG; /* bbpb could loop forever: Decoder._protobuf writes a note */
    PyObject *data = layer_data (l), *chain = data != NULL ? layer_chain (cx, l) : NULL;
    if (chain == NULL)
      return ERROR;
    cx->called = 1;
    int r = add_pairs (PyObject_CallOneArg (cx->protobuf, data), chain, out, depth);
    if (r < 0)
      return ERROR;
    if (r > 0)
      goto done;
  }
  /* text with base64 blobs inside it (_B64_RUN.finditer, bytetests.h next_b64_run) */
  Py_ssize_t at = 0, start, end;
  while (!one_run && next_b64_run (d, n, &at, &start, &end))
  {
    if (b64_plausible (cx, d + start, at - start, &start, l, NULL, out, depth) < 0)
      return ERROR;
  }
done:
  if (cx->transform != Py_None)
  {
    PyObject *data = layer_data (l);
    if (data == NULL)
      return ERROR;
    PyObject *known = PyObject_CallOneArg (cx->transform, data);
    if (known == NULL)
      return ERROR;
    if (known != Py_None)
    {
      PyObject *step, *input;
      if (!PyArg_ParseTuple (known, "UO!", &step, &PyBytes_Type, &input))
      {
        Py_DECREF (known);
        return ERROR;
      }
      int same = 0;
      for (Py_ssize_t i = 0; i < out->n && !same; i++)
      {
        PyObject *kid = layer_data (&out->v[i]);
        int eq = kid != NULL ? PyObject_RichCompareBool (kid, input, Py_EQ) : -1;
        if (eq < 0)
        {
          Py_DECREF (known);
          return ERROR;
        }
        same = eq;
      }
      if (!same)
      {
        /* first, before the standard decoders' children */
        PyObject *one = PyTuple_Pack (1, step), *chain = layer_chain (cx, l);
        if (one == NULL || chain == NULL
            || !push (out, extend (chain, one), Py_NewRef (input), depth, 0))
        {
          Py_XDECREF (one);
          Py_DECREF (known);
          return ERROR;
        }
        Py_DECREF (one);
        Layer t = out->v[out->n - 1];
        memmove (out->v + 1, out->v, sizeof (Layer) * (size_t) (out->n - 1));
        out->v[0] = t;
      }
    }
    Py_DECREF (known);
  }
  return OK;
}

