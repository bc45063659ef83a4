/* The loop of findings.find over one message's matches in C: the same walk as expand()
 * (expand.c), then, for each match of each layer that matched, in scan order, what find()
 * did in Python with the match objects expand() returned (tests/detect/test_found.py):
 *
 *   a base64 derivation's match is kept only when the whole groups around it, up to the
 *     blob's end (its padding, or the first byte of neither or of the other alphabet than
 *     its first), decode to the needle's value there, in its own alphabet or else in the
 *     url-safe one it also stands for (findings.verified);
 *   the chain is the layer's, with "derive:<derivation>" after it for any derivation but raw
 *     (the url-safe one's where only that verified);
 *   a (needle name, message id, chain) already in seen is dropped, else added (seen None:
 *     one already among the message's own findings);
 * then, over the findings it appended, findings._most_specific's choice (keep), and the
 * excerpt (findings.excerpt, excerpt.c) rendered for those it keeps, from the layer's bytes
 * while the walk holds them: the str the Finding will hold, where a clip (a tuple and three
 * bytes objects) was kept to the numbering and rendered there, ~330 bytes a finding to the
 * end of the run (133,000 of them on the 200 MB bench). One it drops gets no excerpt of its
 * own but the empty one (UNCUT, findings.UNCUT): about half of the findings on the bench, as
 * nothing reads them (find_unnumbered returns the kept ones; where ids repeat, _most_specific
 * over them all drops what a message's own choice dropped, the deeper finding being there
 * too).
 *
 * find(roots, hooks, plan, excerpt, msg, found, seen, keep) -> bool where
 *   roots, hooks: as expand(); hooks' scan must be a Scanner's own scan method;
 *   plan: by the Scanner's pattern ids, (needle, needle name, "derive:<derivation>" or None
 *     for raw, the needle is a browsing one, None or (shift, skip, base64url, value bytes,
 *     None or the "derive:" step of the url-safe derivation it also stands for) for a base64
 *     derivation to verify);
 *   excerpt: the bytes an excerpt shows on each side of a match;
 *   msg: (id, host, phase, control, t), control (a bool) being the message's part of
 *     findings.is_control, and the plan's browsing (a bool) the needle's;
 *   found: the list each kept match is appended to, as
 *     (needle, id, chain, excerpt, host, phase, control and browsing, t);
 *   seen: the set of (needle name, id, chain) kept so far, or None while no message id has
 *     come twice (findings.find_unnumbered): then only the message's own findings can have
 *     its keys, and they are looked for among those (Names);
 *   keep: a flag for each of found, to which one is appended for each new finding: whether
 *     _most_specific keeps it among this message's findings (what it does over all of them
 *     as long as no other message has the same id: find checks).
 * Returns False where expand() would: nothing is appended to found or keep or added to
 * seen then, and the Python walk runs. No match object is made.
 *
 * find_message (found.h) is the same for the batch loop (findbatch.c), which makes the hooks
 * ready once a batch and gives msg as a struct, not a tuple made for each message; the walk's
 * buffers are kept from one of its messages to the next (walk_reset).
 */

#include "found.h"
#include "b64.h"
#include "excerpt.h"
#include "foundkeys.h"

#include <string.h>

/* findings.verified for a base64 derivation at d[start...] of n bytes: 1 for the pattern's own
   derivation, 2 for the url-safe one it also stands for (its "derive:" step in *also), 0 for
   a hit refused. -1 with an exception set. */
static int verified (Ctx *cx, PyObject *check, const unsigned char *d, Py_ssize_t n,
    Py_ssize_t start, PyObject **also)
{
  Py_ssize_t shift, skip;
  int url;
  const char *value;
  Py_ssize_t vn;
  if (!PyArg_ParseTuple (check, "nnpy#O;a plan's check: (shift, skip, base64url, value, also)",
          &shift, &skip, &url, &value, &vn, also))
    return -1;
  Py_ssize_t begin = start - skip;
  if (begin < 0) /* the chunk is empty, and so is what it decodes to */
    return vn == 0;
  Py_ssize_t need = 4 * ((shift + vn + 2) / 3);
  /* the groups stop where the blob does: at its padding, at the bytes a raw body has after
     a blob that ends in a partial group, or at a character of the other alphabet than the
     one its first '+', '/', '-' or '_' named (begin <= start <= n) */
  const unsigned char *s = d + begin;
  Py_ssize_t sn = b64_blob (s, need < n - begin ? need : n - begin);
  /* of one alphabet (walk_b64 reads both); '-' or '_' in a standard pattern's groups: the
     url-safe encoding, accepted only where the pattern also stands for it */
  int urlsafe = !url
      && (memchr (s, '-', (size_t) sn) != NULL || memchr (s, '_', (size_t) sn) != NULL);
  if (urlsafe && *also == Py_None)
    return 0;
  Py_ssize_t size;
  unsigned char *plain = walk_b64 (cx, s, sn, &size);
  if (plain == NULL)
    return size < 0 ? 0 : -1;
  if (size < shift + vn || memcmp (plain + shift, value, (size_t) vn) != 0)
    return 0;
  return urlsafe ? 2 : 1;
}

static PyObject *UNCUT; /* "": a dropped finding's excerpt */

/* A new tuple of n borrowed items (PyTuple_Pack without its variable arguments). */
static PyObject *tuple_of (PyObject *const *items, Py_ssize_t n)
{
  PyObject *t = PyTuple_New (n);
  for (Py_ssize_t i = 0; t != NULL && i < n; i++)
    PyTuple_SET_ITEM (t, i, Py_NewRef (items[i]));
  return t;
}

/* One match of a layer: appended to found (its needle's name and where its excerpt is to
   be rendered from to names; its excerpt UNCUT until kept renders it) unless verification
   or seen drops it. base: the hash of the layer's chain steps (where seen is None). 0 with an exception
   set. */
static int one (Ctx *cx, const Matched *m, Py_hash_t base, const Hit *h, PyObject *plan,
    const Msg *msg, PyObject *found, PyObject *seen, Names *names)
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
    PyObject *also;
    int ok = verified (cx, check, (const unsigned char *) d, n, h->start, &also);
    if (ok <= 0)
      return ok == 0;
    if (ok == 2)
      step = also;
  }
  int table = seen == Py_None;
  Py_hash_t hash = base;
  int fresh = 1;
  if (table)
  {
    Py_hash_t part = step == Py_None ? 0 : PyObject_Hash (step);
    Py_hash_t named = part == -1 ? -1 : PyObject_Hash (name);
    if (named == -1)
      return 0;
    hash = keys_mix (step == Py_None ? hash : keys_mix (hash, part), named);
    if ((fresh = keys_new (names, found, hash, name, m->chain, step)) <= 0)
      return fresh == 0;
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
  PyObject *key = NULL;
  if (!table)
  {
    /* added when new (the set grew): one hash of the key and one lookup, where asking
       first and adding then hashed the chain twice */
    key = tuple_of ((PyObject *[]) { name, msg->id, chain }, 3);
    Py_ssize_t size = PySet_GET_SIZE (seen);
    fresh = key != NULL ? PySet_Add (seen, key) : -1;
    fresh = fresh < 0 ? -1 : PySet_GET_SIZE (seen) != size; /* else in seen already: dropped */
  }
  int ok = fresh == 0;
  if (fresh == 1)
  {
    int control = msg->control && PyTuple_GET_ITEM (p, 3) == Py_True;
    PyObject *item = tuple_of ((PyObject *[]) { needle, msg->id, chain, UNCUT, msg->host,
        msg->phase, control ? Py_True : Py_False, msg->t }, 8);
    if (item != NULL && !keys_room (names, table))
      Py_CLEAR (item);
    ok = item != NULL && PyList_Append (found, item) == 0;
    if (ok && table)
    {
      names->hash[names->n] = hash;
      keys_put (names, names->n, hash);
    }
    if (ok)
    {
      names->cut[names->n] = (Cut) { d, n, h->start, h->end };
      names->v[names->n++] = name;
    }
    Py_XDECREF (item);
  }
  Py_XDECREF (key);
  Py_DECREF (chain);
  return ok;
}

/* ---- findings._most_specific, for one message ------------------------------------ */

static PyObject *DERIVE, *QUERY, *URL; /* "derive:", "query:", "url" */

/* The layer a finding's chain names, as _most_specific's layer() reads it, as a view of the
   chain: without a last "derive:" step, with "url" before a query parameter's step. */
typedef struct {
  PyObject *chain;
  Py_ssize_t n;
  int url;
} View;

static int view (PyObject *chain, View *v)
{
  Py_ssize_t n = PyTuple_GET_SIZE (chain);
  v->chain = chain;
  v->url = 0;
  if (n > 0)
  {
    Py_ssize_t d = PyUnicode_Tailmatch (PyTuple_GET_ITEM (chain, n - 1), DERIVE, 0,
        PY_SSIZE_T_MAX, -1);
    if (d < 0)
      return 0;
    n -= d;
  }
  if (n >= 2)
  {
    Py_ssize_t q = PyUnicode_Tailmatch (PyTuple_GET_ITEM (chain, 1), QUERY, 0, PY_SSIZE_T_MAX,
        -1);
    if (q < 0)
      return 0;
    v->url = (int) q;
  }
  v->n = n + v->url;
  return 1;
}

static PyObject *view_item (const View *v, Py_ssize_t k)
{
  if (v->url && k >= 1)
    return k == 1 ? URL : PyTuple_GET_ITEM (v->chain, k - 1);
  return PyTuple_GET_ITEM (v->chain, k);
}

/* Whether b's layer is below a's: longer, with a's as its prefix. -1 with an exception. */
static int below (const View *a, const View *b)
{
  if (b->n <= a->n)
    return 0;
  for (Py_ssize_t t = 0; t < a->n; t++)
  {
    int eq = PyObject_RichCompareBool (view_item (a, t), view_item (b, t), Py_EQ);
    if (eq <= 0)
      return eq;
  }
  return 1;
}

/* Item 3 of found's item (made by one, in found only: no other code has seen it) set to
   c's excerpt (excerpt.c), for UNCUT. 0 with an exception set. */
static int cut_into (PyObject *item, const Cut *c, Py_ssize_t excerpt)
{
  PyObject *text = render_excerpt (c->d, c->n, c->start, c->end, excerpt);
  if (text == NULL)
    return 0;
  Py_SETREF (PyTuple_GET_ITEM (item, 3), text);
  return 1;
}

/* Appends to keep, for each finding of found[start:] (one message's), whether
   _most_specific keeps it: no finding of the same needle has a layer below its own; and
   renders the excerpt of each it keeps. 0 with an exception set. */
static int kept (PyObject *found, Py_ssize_t start, const Names *names, PyObject *keep,
    Py_ssize_t excerpt)
{
  Py_ssize_t k = PyList_GET_SIZE (found) - start;
  View *v = PyMem_Malloc (sizeof (View) * (size_t) (k ? k : 1));
  if (v == NULL)
  {
    PyErr_NoMemory ();
    return 0;
  }
  int ok = 1;
  for (Py_ssize_t i = 0; ok && i < k; i++)
    ok = view (PyTuple_GET_ITEM (PyList_GET_ITEM (found, start + i), 2), &v[i]);
  for (Py_ssize_t i = 0; ok && i < k; i++)
  {
    int drop = 0;
    for (Py_ssize_t j = 0; ok && !drop && j < k; j++)
    {
      if (v[j].n <= v[i].n)
        continue;
      int same = PyObject_RichCompareBool (names->v[i], names->v[j], Py_EQ);
      drop = same > 0 ? below (&v[i], &v[j]) : same;
      ok = drop >= 0;
    }
    ok = ok && PyList_Append (keep, drop ? Py_False : Py_True) == 0
        && (drop || cut_into (PyList_GET_ITEM (found, start + i), &names->cut[i], excerpt));
  }
  PyMem_Free (v);
  return ok;
}

int found_init (void)
{
  if (DERIVE == NULL && ((DERIVE = PyUnicode_InternFromString ("derive:")) == NULL
          || (QUERY = PyUnicode_InternFromString ("query:")) == NULL
          || (URL = PyUnicode_InternFromString ("url")) == NULL
          || (UNCUT = PyUnicode_FromStringAndSize ("", 0)) == NULL))
  {
    Py_CLEAR (DERIVE);
    Py_CLEAR (QUERY);
    Py_CLEAR (URL);
    return 0;
  }
  return 1;
}

int find_message (Ctx *cx, PyObject *roots, const Roots *made, PyObject *plan,
    Py_ssize_t excerpt, const Msg *msg, PyObject *found, PyObject *seen, PyObject *keep)
{
  Py_ssize_t start = PyList_GET_SIZE (found);
  Names names = { .start = start };
  int r = made != NULL ? walk_roots (cx, made) : walk_message (cx, roots);
  for (Py_ssize_t i = 0; r == OK && i < cx->matched_n; i++)
  {
    const Matched *m = &cx->matched[i];
    Py_hash_t base = 0;
    if (seen == Py_None && m->n > 0 && keys_mix_steps (m->chain, &base) < 0)
      r = ERROR;
    for (Py_ssize_t j = 0; r == OK && j < m->n; j++)
      if (!one (cx, m, base, &cx->hits[m->first + j], plan, msg, found, seen, &names))
        r = ERROR;
  }
  if (r == OK && !kept (found, start, &names, keep, excerpt))
    r = ERROR;
  PyMem_Free (names.v);
  PyMem_Free (names.cut);
  PyMem_Free (names.hash);
  PyMem_Free (names.slot);
  walk_reset (cx);
  return r;
}

int find_ready (Ctx *cx, PyObject *hooks, PyObject *plan, PyObject *keep, PyObject *found,
    PyObject *seen)
{
  if (!walk_init (cx, hooks) || !found_init ())
    return 0;
  if (cx->scanner == NULL || PyTuple_GET_SIZE (plan) != PyTuple_GET_SIZE (cx->scanner->tags)
      || PyList_GET_SIZE (keep) != PyList_GET_SIZE (found)
      || (seen != Py_None && !PySet_Check (seen)))
  {
    PyErr_SetString (PyExc_TypeError, "find() takes a Scanner's own scan, a plan entry for "
        "each of its patterns, a keep flag for each of found and seen a set or None");
    return 0;
  }
  return 1;
}

PyObject *detect_excerpt (PyObject *self, PyObject *args)
{
  Py_buffer data;
  Py_ssize_t start, end, excerpt;
  (void) self;
  if (!PyArg_ParseTuple (args, "y*nnn", &data, &start, &end, &excerpt))
    return NULL;
  PyObject *out = NULL;
  if (start < 0 || start > end || end > data.len || excerpt < 0)
    PyErr_SetString (PyExc_ValueError, "excerpt() takes 0 <= start <= end <= len(data), "
        "excerpt >= 0");
  else
    out = render_excerpt (data.buf, data.len, start, end, excerpt);
  PyBuffer_Release (&data);
  return out;
}

PyObject *detect_find (PyObject *self, PyObject *args)
{
  PyObject *roots, *hooks, *plan, *msg, *found, *seen, *keep;
  Py_ssize_t excerpt;
  Ctx cx;
  (void) self;
  if (!PyArg_ParseTuple (args, "OO!O!nO!O!OO!", &roots, &PyTuple_Type, &hooks, &PyTuple_Type,
          &plan, &excerpt, &PyTuple_Type, &msg, &PyList_Type, &found, &seen, &PyList_Type,
          &keep)
      || !find_ready (&cx, hooks, plan, keep, found, seen))
    return NULL;
  if (PyTuple_GET_SIZE (msg) != 5)
  {
    PyErr_SetString (PyExc_TypeError, "find() takes msg (id, host, phase, control, t)");
    return NULL;
  }
  PyObject *const *v = &PyTuple_GET_ITEM (msg, 0);
  Msg m = { v[0], v[1], v[2], v[4], v[3] == Py_True };
  int r = find_message (&cx, roots, NULL, plan, excerpt, &m, found, seen, keep);
  walk_free (&cx);
  return r == OK ? Py_NewRef (Py_True) : r == FALLBACK_MSG ? Py_NewRef (Py_False) : NULL;
}
