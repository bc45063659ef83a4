/* The loop of findings.find over one message's matches in C: the same walk as expand()
 * (expand.c), then, for each match of each layer that matched, in scan order, what find()
 * did in Python with the match objects expand() returned (tests/detect/test_found.py):
 *
 *   a base64 derivation's match is kept only when the whole groups around it decode to the
 *     needle's value there (findings.verified);
 *   the chain is the layer's, with "derive:<derivation>" after it for any derivation but raw;
 *   a (needle name, message id, chain) already in seen is dropped, else added;
 *   the excerpt's bytes are cut (findings._clip).
 *
 * find(roots, hooks, plan, excerpt, msg, found, seen) -> bool where
 *   roots, hooks: as expand(); hooks' scan must be a Scanner's own scan method;
 *   plan: by the Scanner's pattern ids, (needle, needle name, "derive:<derivation>" or None
 *     for raw, the needle is a browsing one, None or (shift, skip, base64url, value bytes) for
 *     a base64 derivation to verify);
 *   excerpt: the bytes an excerpt shows on each side of a match;
 *   msg: (id, host, phase, control, t), control (a bool) being the message's part of
 *     findings.is_control, and the plan's browsing (a bool) the needle's;
 *   found: the list each kept match is appended to, as
 *     (needle, id, chain, (before, match, after, cut before, cut after), host, phase,
 *      control and browsing, t);
 *   seen: the set of (needle name, id, chain) kept so far.
 * Returns False where expand() would: nothing is appended to found or added to seen then,
 * and the Python walk runs. No match object is made.
 */

#include "expand.h"
#include "b64.h"

#include <string.h>

/* findings.verified for a base64 derivation at d[start...] of n bytes. -1 with MemoryError. */
static int verified (Ctx *cx, PyObject *check, const unsigned char *d, Py_ssize_t n,
    Py_ssize_t start)
{
  Py_ssize_t shift, skip;
  int url;
  const char *value;
  Py_ssize_t vn;
  if (!PyArg_ParseTuple (check, "nnpy#;a plan's check: (shift, skip, base64url, value)", &shift,
          &skip, &url, &value, &vn))
    return -1;
  Py_ssize_t begin = start - skip;
  if (begin < 0) /* the chunk is empty, and so is what it decodes to */
    return vn == 0;
  Py_ssize_t need = 4 * ((shift + vn + 2) / 3);
  Py_ssize_t end = begin + need < n ? begin + need : n;
  if (end < begin)
    end = begin;
  while (end > begin && d[end - 1] == '=')
    end--;
  const unsigned char *s = d + begin;
  Py_ssize_t sn = end - begin;
  if (!url && (memchr (s, '-', (size_t) sn) != NULL || memchr (s, '_', (size_t) sn) != NULL))
    return 0; /* b64decode(validate=True) refuses them; only base64url's chunk has them read */
  Py_ssize_t size = b64_size (s, sn);
  if (size < 0)
    return 0;
  unsigned char *plain = walk_scratch (cx, size);
  if (plain == NULL)
    return -1;
  b64_decode_to (s, size, plain);
  return size >= shift + vn && memcmp (plain + shift, value, (size_t) vn) == 0;
}

/* The excerpt's bytes of d[start, end) (findings._clip). */
static PyObject *clip (const char *d, Py_ssize_t n, Py_ssize_t start, Py_ssize_t end,
    Py_ssize_t excerpt)
{
  Py_ssize_t a = start - excerpt > 0 ? start - excerpt : 0;
  Py_ssize_t z = end + excerpt < n ? end + excerpt : n;
  return Py_BuildValue ("(y#y#y#OO)", d + a, start - a, d + start, end - start, d + end,
      z - end, a > 0 ? Py_True : Py_False, z < n ? Py_True : Py_False);
}

/* One match of a layer: appended to found unless verification or seen drops it. 0 with an
   exception set. */
static int one (Ctx *cx, const Matched *m, const Hit *h, PyObject *plan, Py_ssize_t excerpt,
    PyObject *msg, PyObject *found, PyObject *seen)
{
  PyObject *p = PyTuple_GET_ITEM (plan, h->id);
  if (!PyTuple_Check (p) || PyTuple_GET_SIZE (p) != 5)
  {
    PyErr_SetString (PyExc_TypeError, "a plan's entry: (needle, name, step, browsing, check)");
    return 0;
  }
  PyObject *needle = PyTuple_GET_ITEM (p, 0), *name = PyTuple_GET_ITEM (p, 1);
  PyObject *step = PyTuple_GET_ITEM (p, 2), *check = PyTuple_GET_ITEM (p, 4);
  const char *d = PyBytes_AS_STRING (m->data);
  Py_ssize_t n = PyBytes_GET_SIZE (m->data);
  if (check != Py_None)
  {
    int ok = verified (cx, check, (const unsigned char *) d, n, h->start);
    if (ok <= 0)
      return ok == 0;
  }
  PyObject *chain;
  if (step == Py_None)
    chain = Py_NewRef (m->chain);
  else
  {
    Py_ssize_t k = PyTuple_GET_SIZE (m->chain);
    if ((chain = PyTuple_New (k + 1)) == NULL)
      return 0;
    for (Py_ssize_t i = 0; i < k; i++)
      PyTuple_SET_ITEM (chain, i, Py_NewRef (PyTuple_GET_ITEM (m->chain, i)));
    PyTuple_SET_ITEM (chain, k, Py_NewRef (step));
  }
  PyObject *mid = PyTuple_GET_ITEM (msg, 0);
  PyObject *key = PyTuple_Pack (3, name, mid, chain);
  int dup = key != NULL ? PySet_Contains (seen, key) : -1;
  int ok = dup == 1;
  if (dup == 0 && PySet_Add (seen, key) == 0)
  {
    int control = PyTuple_GET_ITEM (msg, 3) == Py_True && PyTuple_GET_ITEM (p, 3) == Py_True;
    PyObject *cut = clip (d, n, h->start, h->end, excerpt);
    PyObject *item = cut == NULL ? NULL : PyTuple_Pack (8, needle, mid, chain, cut,
        PyTuple_GET_ITEM (msg, 1), PyTuple_GET_ITEM (msg, 2), control ? Py_True : Py_False,
        PyTuple_GET_ITEM (msg, 4));
    ok = item != NULL && PyList_Append (found, item) == 0;
    Py_XDECREF (item);
    Py_XDECREF (cut);
  }
  Py_XDECREF (key);
  Py_DECREF (chain);
  return ok;
}

PyObject *detect_find (PyObject *self, PyObject *args)
{
  PyObject *roots, *hooks, *plan, *msg, *found, *seen;
  Py_ssize_t excerpt;
  Ctx cx;
  (void) self;
  if (!PyArg_ParseTuple (args, "OO!O!nO!O!O!", &roots, &PyTuple_Type, &hooks, &PyTuple_Type,
          &plan, &excerpt, &PyTuple_Type, &msg, &PyList_Type, &found, &PySet_Type, &seen)
      || !walk_init (&cx, hooks))
    return NULL;
  if (cx.scanner == NULL || PyTuple_GET_SIZE (plan) != PyTuple_GET_SIZE (cx.scanner->tags)
      || PyTuple_GET_SIZE (msg) != 5)
  {
    PyErr_SetString (PyExc_TypeError, "find() takes a Scanner's own scan, a plan entry for "
        "each of its patterns and msg (id, host, phase, control, t)");
    return NULL;
  }
  int r = walk_message (&cx, roots);
  for (Py_ssize_t i = 0; r == OK && i < cx.matched_n; i++)
  {
    const Matched *m = &cx.matched[i];
    for (Py_ssize_t j = 0; r == OK && j < m->n; j++)
      if (!one (&cx, m, &cx.hits[m->first + j], plan, excerpt, msg, found, seen))
        r = ERROR;
  }
  walk_free (&cx);
  return r == OK ? Py_NewRef (Py_True) : r == FALLBACK_MSG ? Py_NewRef (Py_False) : NULL;
}
