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
 * The layers that matched are kept until the whole message is walked: a hand-back halfway
 * leaves nothing to undo.
 */

#include "expand.h"
#include "b64.h"

#include <string.h>

static void clear_layer (Layer *l)
{
  Py_CLEAR (l->chain);
  Py_CLEAR (l->data);
}

void clear_layers (Layers *ls)
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

int push (Layers *ls, PyObject *chain, PyObject *data, int depth, int inert)
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
  ls->v[ls->n++] = (Layer) { chain, data, depth, inert, 0 };
  return 1;
}

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

/* Records a layer that matched: the Scanner's hits (copied), or the matches list (taken). */
static int record (Ctx *cx, const Layer *l, const Hits *hits, PyObject *matches)
{
  if (!room ((void **) &cx->matched, &cx->matched_cap, cx->matched_n + 1, sizeof (Matched))
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

/* One root, depth first. OK, FALLBACK_MSG or ERROR. */
static int walk_root (Ctx *cx, PyObject *chain, PyObject *data)
{
  Layers *stack = &cx->stack, *kids = &cx->kids;
  int r = OK;
  if (!push (stack, Py_NewRef (chain), Py_NewRef (data), 0, 0))
    return ERROR;
  while (stack->n > 0 && r == OK)
  {
    Layer l = stack->v[--stack->n];
    Hits hits;
    PyObject *matches;
    Span none, *hot; /* no match: an empty set, not NULL (which keeps every leaf) */
    Py_ssize_t hot_count;
    if (l.clean)
    {
      hits_none (&hits);
      matches = NULL;
      hot = NULL;
      hot_count = 0;
    }
    else if (!scan_layer (cx->scan, cx->scanner, l.data, &hits, &matches, &hot, &hot_count))
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
      for (Py_ssize_t i = 0; r == OK && i < kids->n; i++)
      {
        Py_ssize_t size = PyBytes_GET_SIZE (kids->v[i].data);
        if (cx->layers >= cx->max_layers || cx->bytes + size > cx->max_bytes)
          r = FALLBACK_MSG; /* the budget: a note */
        else
        {
          cx->layers++;
          cx->bytes += size;
          Layer k = kids->v[i];
          kids->v[i] = (Layer) { NULL, NULL, 0, 0, 0 };
          if (!push (stack, k.chain, k.data, k.depth, k.inert))
            r = ERROR;
          else
            stack->v[stack->n - 1].clean = k.clean;
        }
      }
      clear_layers (kids);
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
      r = walk_root (cx, PyTuple_GET_ITEM (root, 0), PyTuple_GET_ITEM (root, 1));
  }
  return r;
}

int walk_roots (Ctx *cx, const Roots *roots)
{
  int r = OK;
  for (Py_ssize_t i = 0; r == OK && i < roots->n; i++)
  {
    const Root *root = &roots->v[i];
    PyObject *chain = PyTuple_New (root->step != NULL ? 2 : 1);
    if (chain == NULL)
      return ERROR;
    PyTuple_SET_ITEM (chain, 0, Py_NewRef (roots->label));
    if (root->step != NULL)
      PyTuple_SET_ITEM (chain, 1, Py_NewRef (root->step));
    r = walk_root (cx, chain, root->data);
    Py_DECREF (chain);
  }
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
}

void walk_free (Ctx *cx)
{
  walk_reset (cx);
  free_layers (&cx->stack);
  free_layers (&cx->kids);
  PyMem_Free (cx->matched);
  PyMem_Free (cx->hits);
  PyMem_Free (cx->scratch);
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
