/* One message's decoding in C: decoders.py's Decoder.expand (the depth-first walk, the
 * budget) and Decoder._decode (which decoder opens which bytes), over all of a message's
 * roots, scanning every layer with the caller's matcher as it goes.
 *
 * expand(roots, hooks) where
 *   roots: list of (chain: tuple[str, ...], data: bytes), a message's roots in order;
 *   hooks: (scan, inflate, form, protobuf, transform, max_depth, max_layers, max_bytes,
 *           min_leaf):
 *     scan(data) -> list of matches (each with .pattern.value), the matcher; when it is a
 *       Scanner's own scan method (matcher.Matcher.scan), the Scanner is run here without a
 *       Python call, and match objects are made only for a layer that matched (scanner.c);
 *     inflate(data, kind, limit) -> bytes | None (not that format) | False (a note);
 *     form(data), protobuf(data) -> list of (steps: tuple[str, ...], bytes);
 *     transform(data) -> (step, bytes) | None, or transform None when there are none;
 * returns a list of (chain, data, matches) for each layer that matched, in scan order, or
 * False when the Python decoder must run instead: whenever it would write a note (the
 * budget, the depth limit, a damaged gzip) or the C JSON walk cannot be exact. What it
 * returns is then exactly what the Python decoder's layers give (tests/detect/test_expand.py).
 *
 * The heavy decoders stay Python callbacks (zlib, forms, protobuf); what is in C is what
 * cost most: the walk, the scan, base64 (b64.c), the tests of which decoder applies, JSON
 * leaves, and not making a Python object for a layer that is never scanned.
 */

#include "expand.h"
#include "b64.h"
#include "bytetests.h"
#include "scanner.h"

#include <string.h>

#define FALLBACK_MSG 5 /* the Python decoder must run */

typedef struct {
  PyObject *chain; /* tuple of str */
  PyObject *data;  /* bytes */
  int depth;
  int inert;
} Layer;

typedef struct {
  Layer *v;
  Py_ssize_t n;
  Py_ssize_t cap;
} Layers;

typedef struct {
  PyObject *scan, *inflate, *form, *protobuf, *transform;
  Scanner *scanner; /* scan's own Scanner, run without a Python call; or NULL */
  Py_ssize_t max_depth, max_layers, max_bytes, min_leaf;
  Py_ssize_t layers, bytes; /* the budget spent */
  unsigned char *scratch; /* base64 decoded before it is known to be kept */
  Py_ssize_t scratch_cap;
} Ctx;

static void clear_layer (Layer *l)
{
  Py_CLEAR (l->chain);
  Py_CLEAR (l->data);
}

static void clear_layers (Layers *ls)
{
  for (Py_ssize_t i = 0; i < ls->n; i++)
    clear_layer (&ls->v[i]);
  ls->n = 0;
}

static void free_layers (Layers *ls)
{
  clear_layers (ls);
  PyMem_Free (ls->v);
  ls->v = NULL;
  ls->cap = 0;
}

/* Takes the references of chain and data (also on failure). */
static int push (Layers *ls, PyObject *chain, PyObject *data, int depth, int inert)
{
  if (chain == NULL || data == NULL)
  {
    Py_XDECREF (chain);
    Py_XDECREF (data);
    return 0;
  }
  if (ls->n == ls->cap)
  {
    Py_ssize_t cap = ls->cap ? ls->cap * 2 : 32;
    Layer *v = PyMem_Realloc (ls->v, sizeof (Layer) * (size_t) cap);
    if (v == NULL)
    {
      Py_DECREF (chain);
      Py_DECREF (data);
      PyErr_NoMemory ();
      return 0;
    }
    ls->v = v;
    ls->cap = cap;
  }
  ls->v[ls->n++] = (Layer) { chain, data, depth, inert };
  return 1;
}

/* (*chain, *steps): a new tuple. */
static PyObject *extend (PyObject *chain, PyObject *steps)
{
  return PySequence_Concat (chain, steps);
}

static PyObject *extend1 (PyObject *chain, const char *step, Py_ssize_t n)
{
  Py_ssize_t k = PyTuple_GET_SIZE (chain);
  PyObject *t = PyTuple_New (k + 1);
  if (t == NULL)
    return NULL;
  for (Py_ssize_t i = 0; i < k; i++)
    PyTuple_SET_ITEM (t, i, Py_NewRef (PyTuple_GET_ITEM (chain, i)));
  PyObject *s = PyUnicode_DecodeUTF8 (step, n, "surrogateescape");
  if (s == NULL)
  {
    Py_DECREF (t);
    return NULL;
  }
  PyTuple_SET_ITEM (t, k, s);
  return t;
}

/* ---- one layer's children (Decoder._children and _decode) ------------------------- */

typedef struct {
  Ctx *cx;
  PyObject *chain;
  Layers *out;
  int depth;
} LeafCtx;

static int add_leaf (void *ctx, const char *path, Py_ssize_t path_len, const unsigned char *b,
    Py_ssize_t n, int inert)
{
  LeafCtx *lc = ctx;
  char small[256];
  Py_ssize_t need = 5 + path_len;
  char *step = need <= (Py_ssize_t) sizeof small ? small : PyMem_Malloc ((size_t) need);
  if (step == NULL)
  {
    PyErr_NoMemory ();
    return 0;
  }
  memcpy (step, "json:", 5);
  memcpy (step + 5, path, (size_t) path_len);
  PyObject *chain = extend1 (lc->chain, step, need);
  if (step != small)
    PyMem_Free (step);
  return push (lc->out, chain, PyBytes_FromStringAndSize ((const char *) b, n), lc->depth,
      inert);
}

/* steps-and-bytes pairs from a Python decoder (form, protobuf) as children. -1: error. */
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

/* A single child from a bytes-or-None result, under chain + step. 1 added, 0 not, -1 error. */
static int add_one (PyObject *chain, const char *step, PyObject *data, Layers *out, int depth)
{
  return push (out, extend1 (chain, step, (Py_ssize_t) strlen (step)), Py_NewRef (data), depth,
             0) ? 1 : -1;
}

/* The base64 child of s[0, n) (the whole layer: step; a run in it: "base64@<*at>", kept only
   when it decodes to other bytes than its own), when what it decodes to is plausible: 1
   added, 0 not, -1 error. Decoded into cx's scratch first: most runs in text are not kept,
   and make no bytes object. */
static int b64_plausible (Ctx *cx, const unsigned char *s, Py_ssize_t n, const Py_ssize_t *at,
    PyObject *chain, const char *step, Layers *out, int depth)
{
  Py_ssize_t size = b64_size (s, n);
  if (size < 0)
    return 0;
  if (size > cx->scratch_cap)
  {
    unsigned char *p = PyMem_Realloc (cx->scratch, (size_t) size);
    if (p == NULL)
    {
      PyErr_NoMemory ();
      return -1;
    }
    cx->scratch = p;
    cx->scratch_cap = size;
  }
  unsigned char *o = cx->scratch;
  b64_decode_to (s, size, o);
  if (!plausible (o, size) || (at != NULL && size == n && memcmp (o, s, (size_t) n) == 0))
    return 0;
  char label[48];
  if (at != NULL)
    snprintf (label, sizeof label, "base64@%zd", *at);
  PyObject *blob = PyBytes_FromStringAndSize ((const char *) o, size);
  if (blob == NULL)
    return -1;
  int added = add_one (chain, at != NULL ? label : step, blob, out, depth);
  Py_DECREF (blob);
  return added;
}

/* The children of one layer into out (in Decoder._children's order). OK, FALLBACK_MSG or
   ERROR. */
static int children (Ctx *cx, const Layer *l, const Span *hot, Py_ssize_t hot_count,
    Layers *out)
{
  PyObject *data = l->data;
  const unsigned char *d = (const unsigned char *) PyBytes_AS_STRING (data);
  Py_ssize_t n = PyBytes_GET_SIZE (data);
  int depth = l->depth + 1;
  PyObject *stripped = NULL;
  if (n == 0)
    return OK;
  const char *kind = NULL, *step = NULL;
  if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b)
    kind = "gzip", step = "gzip";
  else if (n > 2 && d[0] == 0x78 && ((d[0] << 8) | d[1]) % 31 == 0)
    kind = "deflate", step = "zlib";
  if (kind != NULL)
  {
    Py_ssize_t room = cx->max_bytes - cx->bytes, limit = room < (32 << 20) ? room : (32 << 20);
    PyObject *r = PyObject_CallFunction (cx->inflate, "Osn", data, kind, limit < 1 ? 1 : limit);
    if (r == NULL)
      return ERROR;
    int verdict = r == Py_False ? FALLBACK_MSG : (PyBytes_Check (r) && add_one (l->chain, step,
        r, out, depth) < 0) ? ERROR : OK;
    Py_DECREF (r);
    if (verdict != OK)
      return verdict;
    goto transform;
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
    LeafCtx lc = { cx, l->chain, out, depth };
    int r = json_walk (s, sn, cx->min_leaf, hot, hot_count, add_leaf, &lc);
    if (r == OK)
      goto transform;
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
  if (sn >= 16 && b64_whole (s, sn))
  {
    int found = b64_plausible (cx, s, sn, NULL, l->chain, "base64", out, depth);
    if (found < 0)
      goto error;
    if (found)
      goto done;
  }
  if (form_whole (s, sn))
  {
    if ((stripped = PyBytes_FromStringAndSize ((const char *) s, sn)) == NULL)
      goto error;
    if (add_pairs (PyObject_CallOneArg (cx->form, stripped), l->chain, out, depth) < 0)
      goto error;
    goto done;
  }
  if (hex_whole (s, sn))
  {
    PyObject *raw = PyBytes_FromStringAndSize (NULL, sn / 2);
    if (raw == NULL)
      goto error;
    unsigned char *o = (unsigned char *) PyBytes_AS_STRING (raw);
    for (Py_ssize_t i = 0; i < sn; i += 2)
    {
      int hi = s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
      int lo = s[i + 1] <= '9' ? s[i + 1] - '0' : (s[i + 1] | 0x20) - 'a' + 10;
      o[i / 2] = (unsigned char) (hi << 4 | lo);
    }
    int found = plausible (o, sn / 2);
    int added = found ? add_one (l->chain, "hex", raw, out, depth) : 0;
    Py_DECREF (raw);
    if (added < 0)
      goto error;
    if (found)
      goto done;
  }
  if (printable (d, n) < 0.97 && n <= (4 << 20))
  {
    int r = add_pairs (PyObject_CallOneArg (cx->protobuf, data), l->chain, out, depth);
    if (r < 0)
      goto error;
    if (r > 0)
      goto done;
  }
  /* text with base64 blobs inside it (_B64_RUN.finditer) */
  for (Py_ssize_t i = 0; i < n;)
  {
    if (!b64_byte (d[i]))
    {
      i++;
      continue;
    }
    Py_ssize_t start = i;
    while (i < n && b64_byte (d[i]))
      i++;
    if (i - start < 24)
      continue;
    for (int pad = 0; pad < 2 && i < n && d[i] == '='; pad++)
      i++;
    if (b64_plausible (cx, d + start, i - start, &start, l->chain, NULL, out, depth) < 0)
      goto error;
  }
done:
  Py_XDECREF (stripped);
transform:
  if (cx->transform != Py_None)
  {
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
        int eq = PyObject_RichCompareBool (out->v[i].data, input, Py_EQ);
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
        PyObject *one = PyTuple_Pack (1, step);
        if (one == NULL || !push (out, extend (l->chain, one), Py_NewRef (input), depth, 0))
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
error:
  Py_XDECREF (stripped);
  return ERROR;
}

/* ---- the walk (Decoder.expand) ------------------------------------------------------ */

/* One root, depth first. OK, FALLBACK_MSG or ERROR. */
static int walk_root (Ctx *cx, PyObject *chain, PyObject *data, PyObject *result)
{
  Layers stack = { NULL, 0, 0 }, kids = { NULL, 0, 0 };
  int r = OK;
  if (!push (&stack, Py_NewRef (chain), Py_NewRef (data), 0, 0))
    return ERROR;
  while (stack.n > 0 && r == OK)
  {
    Layer l = stack.v[--stack.n];
    PyObject *hits;
    Span none, *hot; /* no match: an empty set, not NULL (which keeps every leaf) */
    Py_ssize_t hot_count;
    if (!scan_layer (cx->scan, cx->scanner, l.data, &hits, &hot, &hot_count))
      r = ERROR;
    else if (hits != NULL)
    {
      PyObject *item = PyTuple_Pack (3, l.chain, l.data, hits);
      if (item == NULL || PyList_Append (result, item) < 0)
        r = ERROR;
      Py_XDECREF (item);
    }
    if (r == OK && !l.inert)
    {
      if (l.depth >= cx->max_depth)
        r = FALLBACK_MSG; /* the depth limit: a note */
      else
        r = children (cx, &l, hot != NULL ? hot : &none, hot_count, &kids);
      for (Py_ssize_t i = 0; r == OK && i < kids.n; i++)
      {
        Py_ssize_t size = PyBytes_GET_SIZE (kids.v[i].data);
        if (cx->layers >= cx->max_layers || cx->bytes + size > cx->max_bytes)
          r = FALLBACK_MSG; /* the budget: a note */
        else
        {
          cx->layers++;
          cx->bytes += size;
          Layer k = kids.v[i];
          kids.v[i] = (Layer) { NULL, NULL, 0, 0 };
          if (!push (&stack, k.chain, k.data, k.depth, k.inert))
            r = ERROR;
        }
      }
      clear_layers (&kids);
    }
    PyMem_Free (hot);
    Py_XDECREF (hits);
    clear_layer (&l);
  }
  free_layers (&stack);
  free_layers (&kids);
  return r;
}

PyObject *detect_expand (PyObject *self, PyObject *args)
{
  PyObject *roots;
  Ctx cx = { 0 };
  (void) self;
  if (!PyArg_ParseTuple (args, "O!(OOOOOnnnn)", &PyList_Type, &roots, &cx.scan, &cx.inflate,
          &cx.form, &cx.protobuf, &cx.transform, &cx.max_depth, &cx.max_layers, &cx.max_bytes,
          &cx.min_leaf))
    return NULL;
  cx.scanner = scanner_of (cx.scan);
  PyObject *result = PyList_New (0);
  int r = result != NULL ? OK : ERROR;
  for (Py_ssize_t i = 0; r == OK && i < PyList_GET_SIZE (roots); i++)
  {
    PyObject *root = PyList_GET_ITEM (roots, i);
    if (!(PyTuple_Check (root) && PyTuple_GET_SIZE (root) == 2
            && PyTuple_Check (PyTuple_GET_ITEM (root, 0))
            && PyBytes_Check (PyTuple_GET_ITEM (root, 1))))
    {
      PyErr_SetString (PyExc_TypeError, "a root must be a (tuple, bytes) pair");
      r = ERROR;
    }
    else
      r = walk_root (&cx, PyTuple_GET_ITEM (root, 0), PyTuple_GET_ITEM (root, 1), result);
  }
  PyMem_Free (cx.scratch);
  if (r == OK)
    return result;
  Py_XDECREF (result);
  return r == FALLBACK_MSG ? Py_NewRef (Py_False) : NULL;
}
