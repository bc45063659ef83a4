/* One message's decoding in C: decoders.py's Decoder.expand (the depth-first walk, the
 * budget) over all of a message's roots, each layer's children made by children.c, every
 * layer scanned with the caller's matcher as it goes.
 *
 * expand(roots, hooks) where
 *   roots: list of (chain: tuple[str, ...], data: bytes), a message's roots in order;
 *   hooks: (scan, protobuf, transform, max_depth, max_layers, max_bytes, min_leaf):
 *     scan(data) -> list of matches (each with .pattern.value), the matcher; when it is a
 *       Scanner's own scan method (matcher.Matcher.scan), the Scanner is run here without a
 *       Python call, and match objects are made only for a layer that matched (scanner.c);
 *     protobuf(data) -> list of (steps: tuple[str, ...], bytes);
 *     transform(data) -> (step, bytes) | None, or transform None when there are none;
 * returns a list of (chain, data, matches) for each layer that matched, in scan order, or
 * False when the Python decoder must run instead: whenever it would write a note (the
 * budget, the depth limit, a damaged gzip) or the C JSON walk cannot be exact. What it
 * returns is then exactly what the Python decoder's layers give (tests/detect/test_expand.py).
 * found.c's find() walks the same way and makes findings of the matched layers instead.
 *
 * What is in C is what cost most: the walk, the scan, the tests of which decoder applies,
 * base64, JSON leaves, and not making a Python object for a layer that is never scanned.
 * With the Scanner, a JSON leaf that is a span of its parent's bytes which none of the
 * parent's hits overlaps is not scanned again (children.c, unmatched): it cannot match, and
 * most leaves are such spans. A scan callable other than the Scanner sees every layer.
 * A layer's chain and bytes become Python objects only when it matches or a decoder needs
 * them (expand.h's Layer, layer_chain, layer_data): on the bench, of a message's ~9 roots
 * and ~4 JSON leaves, most do neither, and a (label, step) tuple for each root, a chain, a
 * str and a bytes object for each leaf, then freeing them, cost ~40 M of ~840 M
 * instructions on the 20 MB run.
 * The layers that matched are kept until the whole message is walked: a hand-back halfway
 * leaves nothing to undo.
 */

#include "expand.h"
#include "b64.h"

#include <string.h>

/* Grows *v (of *cap items of size) to hold need. 0 with MemoryError. */
static int room (void **v, Py_ssize_t *cap, Py_ssize_t need, size_t size)
{
  if (need <= *cap)
    return 1;
  Py_ssize_t c = *cap ? *cap : 16;
  while (c < need)
    c *= 2;
  void *p = PyMem_Realloc (*v, size * (size_t) c);
  if (p == NULL)
  {
    PyErr_NoMemory ();
    return 0;
  }
  *v = p;
  *cap = c;
  return 1;
}

unsigned char *walk_scratch (Ctx *cx, Py_ssize_t size)
{
  return room ((void **) &cx->scratch, &cx->scratch_cap, size > 0 ? size : 1, 1) ? cx->scratch
      : NULL;
}

unsigned char *walk_b64 (Ctx *cx, const unsigned char *s, Py_ssize_t n, Py_ssize_t *size)
{
  *size = b64_size_if_valid (s, n);
  unsigned char *o = *size < 0 ? NULL : walk_scratch (cx, *size);
  if (o != NULL && !b64_decode_valid (s, *size, o))
  {
    *size = -1;
    o = NULL;
  }
  return o;
}

Py_ssize_t walk_path (Ctx *cx, const char *path, Py_ssize_t path_len)
{
  if (!room ((void **) &cx->paths, &cx->paths_cap, cx->paths_n + path_len, 1))
    return -1;
  memcpy (cx->paths + cx->paths_n, path, (size_t) path_len);
  cx->paths_n += path_len;
  return cx->paths_n - path_len;
}

/* Records a layer that matched: the Scanner's hits (copied), or the matches list (taken). */
static int record (Ctx *cx, Layer *l, const Hits *hits, PyObject *matches)
{
  if (layer_chain (cx, l) == NULL || layer_data (l) == NULL || !room ((void **) &cx->matched, &cx->matched_cap, cx->matched_n + 1, sizeof (Matched))
      || (matches == NULL && !room ((void **) &cx->hits, &cx->hits_cap, cx->hits_n + hits->n,
          sizeof (Hit))))
  {
    Py_XDECREF (matches);
    return 0;
  }
  Matched *m = &cx->matched[cx->matched_n++];
  *m = (Matched) { Py_NewRef (l->chain), Py_NewRef (l->data), matches, cx->hits_n, 0 };
  if (matches == NULL)
  {
    memcpy (cx->hits + cx->hits_n, hits->v, sizeof (Hit) * (size_t) hits->n);
    m->n = hits->n;
    cx->hits_n += hits->n;
  }
  return 1;
}

/* One root (its references taken), depth first. OK, FALLBACK_MSG or ERROR. */
static int walk_root (Ctx *cx, const Layer *root)
{
  Layers *stack = &cx->stack, *kids = &cx->kids;
  int r = OK;
  if (!layers_room (stack))
  {
    Layer drop = *root;
    clear_layer (&drop);
    return ERROR;
  }
  stack->v[stack->n++] = *root;
  while (stack->n > 0 && r == OK)
  {
    Layer l = stack->v[--stack->n];
    Hits hits;
    PyObject *matches = NULL, *data;
    Span none, *hot = NULL; /* no match: an empty set, not NULL (which keeps every leaf) */
    Py_ssize_t hot_count = 0;
    if (l.clean)
      hits_none (&hits);
    else if ((data = layer_data (&l)) == NULL)
    {
      hits_none (&hits);
      r = ERROR;
    }
    else if (!scan_layer (cx->scan, cx->scanner, data, &hits, &matches, &hot, &hot_count))
    {
      Py_XDECREF (matches);
      r = ERROR;
    }
    else if ((hits.n > 0 || matches != NULL) && !record (cx, &l, &hits, matches))
      r = ERROR;
    if (r == OK && !l.inert)
    {
      if (l.depth >= cx->max_depth)
        r = FALLBACK_MSG; /* the depth limit: a note */
      else
        r = children (cx, &l, cx->scanner != NULL ? &hits : NULL, hot != NULL ? hot : &none,
            hot_count, kids);
      Py_ssize_t moved = 0; /* kids[0, moved) are the stack's now */
      for (; r == OK && moved < kids->n; moved++)
      {
        Py_ssize_t size = kids->v[moved].n;
        if (cx->layers + cx->unread_layers >= cx->max_layers
            || cx->bytes + cx->unread_bytes + size > cx->max_bytes)
          r = FALLBACK_MSG; /* the budget: a note */
        else if (!layers_room (stack))
          r = ERROR;
        else
        {
          cx->layers++;
          cx->bytes += size;
          stack->v[stack->n++] = kids->v[moved];
          continue;
        }
        break;
      }
      for (; moved < kids->n; moved++)
        clear_layer (&kids->v[moved]);
      kids->n = 0;
    }
    hits_free (&hits);
    PyMem_Free (hot);
    clear_layer (&l);
  }
  clear_layers (stack);
  clear_layers (kids);
  return r;
}

int walk_init (Ctx *cx, PyObject *hooks)
{
  memset (cx, 0, sizeof *cx);
  /* read as PyArg_ParseTuple's "OOOnnnn" would, without its format machinery: this runs
     once per message */
  if (!PyTuple_Check (hooks) || PyTuple_GET_SIZE (hooks) != 7)
  {
    PyErr_SetString (PyExc_TypeError, "hooks: (scan, protobuf, transform, max_depth, "
        "max_layers, max_bytes, min_leaf)");
    return 0;
  }
  PyObject *const *v = &PyTuple_GET_ITEM (hooks, 0);
  cx->scan = v[0];
  cx->protobuf = v[1];
  cx->transform = v[2];
  Py_ssize_t *limits[4] = { &cx->max_depth, &cx->max_layers, &cx->max_bytes, &cx->min_leaf };
  for (int i = 0; i < 4; i++)
    if ((*limits[i] = PyNumber_AsSsize_t (v[3 + i], PyExc_OverflowError)) == -1
        && PyErr_Occurred ())
      return 0;
  cx->scanner = scanner_of (cx->scan);
  return 1;
}

int walk_message (Ctx *cx, PyObject *roots)
{
  if (!PyList_Check (roots))
  {
    PyErr_SetString (PyExc_TypeError, "roots must be a list");
    return ERROR;
  }
  int r = OK;
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
    {
      PyObject *data = PyTuple_GET_ITEM (root, 1);
      r = walk_root (cx, &(Layer) { .chain = Py_NewRef (PyTuple_GET_ITEM (root, 0)),
          .data = Py_NewRef (data), .b = (const unsigned char *) PyBytes_AS_STRING (data),
          .n = PyBytes_GET_SIZE (data), .path_len = -1 });
    }
  }
  return r;
}

/* The slot of cx's memo of bare roots for the bytes object data. */
static PyObject **bare_slot (Ctx *cx, PyObject *data)
{
  uintptr_t p = (uintptr_t) data;
  return &cx->bare[((p >> 4) ^ (p >> 12)) & (BARE_SLOTS - 1)];
}

/* Each root's chain is (label, step), or (label,): a lazy layer's (layer_chain) over one
   (label,) for the message, so that a root that matches nothing and opens no decoder (most
   of a message's nine or so) makes no tuple.
   A root that did neither, and whose walk left everything as it was (no layer matched, no
   budget spent, no Python hook called), is walked to nothing again from the same bytes: the
   scan, the decoders' tests and what they make of them depend on the bytes alone there
   (the budget on what was spent, which nothing was). Such a root's bytes object is kept in
   a memo (a reference: no other object has its address while it is there), and a root of
   the same object is not walked again: most header values come again and again as the same
   objects (roots.c's cache): ~44,000 of the 20 MB bench run's 114,370 root walks. */
int walk_roots (Ctx *cx, const Roots *roots)
{
  PyObject *base = PyTuple_Pack (1, roots->label);
  if (base == NULL)
    return ERROR;
  int r = OK;
  for (Py_ssize_t i = 0; r == OK && i < roots->n; i++)
  {
    const Root *root = &roots->v[i];
    PyObject **bare = bare_slot (cx, root->data);
    if (*bare == root->data)
      continue;
    Py_ssize_t matched = cx->matched_n, layers = cx->layers, bytes = cx->bytes,
               unread = cx->unread_layers, unread_bytes = cx->unread_bytes;
    cx->called = 0;
    r = walk_root (cx, &(Layer) { .data = Py_NewRef (root->data),
        .b = (const unsigned char *) PyBytes_AS_STRING (root->data),
        .n = PyBytes_GET_SIZE (root->data), .base = Py_NewRef (base),
        .step = Py_XNewRef (root->step), .path_len = -1 });
    if (r == OK && cx->scanner != NULL && cx->transform == Py_None && !cx->called
        && cx->matched_n == matched && cx->layers == layers && cx->bytes == bytes
        && cx->unread_layers == unread && cx->unread_bytes == unread_bytes)
      Py_XSETREF (*bare, Py_NewRef (root->data));
  }
  Py_DECREF (base);
  return r;
}

void walk_reset (Ctx *cx)
{
  for (Py_ssize_t i = 0; i < cx->matched_n; i++)
  {
    Py_DECREF (cx->matched[i].chain);
    Py_DECREF (cx->matched[i].data);
    Py_XDECREF (cx->matched[i].matches);
  }
  cx->matched_n = cx->hits_n = 0;
  cx->layers = cx->bytes = 0;
  cx->unread_layers = cx->unread_bytes = 0;
  cx->paths_n = 0;
}

void walk_free (Ctx *cx)
{
  walk_reset (cx);
  for (int i = 0; i < BARE_SLOTS; i++)
    Py_CLEAR (cx->bare[i]);
  free_layers (&cx->stack);
  free_layers (&cx->kids);
  PyMem_Free (cx->matched);
  PyMem_Free (cx->hits);
  PyMem_Free (cx->scratch);
  PyMem_Free (cx->paths);
  cx->paths = NULL;
  cx->paths_cap = 0;
  cx->matched = NULL;
  cx->hits = NULL;
  cx->scratch = NULL;
  cx->matched_cap = cx->hits_cap = cx->scratch_cap = 0;
}

/* The matched layers as (chain, data, matches), match objects made for the Scanner's hits. */
static PyObject *matched_list (Ctx *cx)
{
  PyObject *out = PyList_New (cx->matched_n);
  for (Py_ssize_t i = 0; out != NULL && i < cx->matched_n; i++)
  {
    Matched *m = &cx->matched[i];
    PyObject *matches = m->matches != NULL ? Py_NewRef (m->matches)
        : scanner_matches (cx->scanner, &(Hits) { .v = cx->hits + m->first, .n = m->n });
    PyObject *item = matches != NULL ? PyTuple_Pack (3, m->chain, m->data, matches) : NULL;
    Py_XDECREF (matches);
    if (item == NULL)
      Py_CLEAR (out);
    else
      PyList_SET_ITEM (out, i, item);
  }
  return out;
}

PyObject *detect_expand (PyObject *self, PyObject *args)
{
  PyObject *roots, *hooks;
  Ctx cx;
  (void) self;
  if (!PyArg_ParseTuple (args, "OO!", &roots, &PyTuple_Type, &hooks) || !walk_init (&cx, hooks))
    return NULL;
  int r = walk_message (&cx, roots);
  PyObject *result = r == OK ? matched_list (&cx)
      : r == FALLBACK_MSG ? Py_NewRef (Py_False) : NULL;
  walk_free (&cx);
  return result;
}
