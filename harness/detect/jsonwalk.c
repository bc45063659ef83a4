/* The JSON walk of the detector (harness/detect/decoders.py, Decoder._walk_json) in C: the
 * leaves of one document in the walk's order, with the same filters, in the same pass as
 * its parse (jsonparse.c).
 *
 * The leaves are exactly what json.loads of data.decode("utf-8", "surrogateescape")
 * followed by the Python walk gives; FALLBACK is returned for what this walker does not
 * reproduce (a key with an escape or a non-ASCII byte, a duplicate key, NaN/Infinity,
 * nesting deeper than MAX_DEPTH): the caller then runs the Python walk, so the result never
 * depends on which one ran.
 *
 * The walk's order: a container's own leaves in member order, then its nested containers,
 * each the same way (decoders.py keeps them on a stack). Its filters: a string leaf shorter
 * than min_leaf bytes is skipped; an "inert" one (short printable text no decoder opens) is
 * kept only when it holds one of `hot`'s patterns (all kept when hot is NULL); a number is
 * kept when its absolute value is at least 1000, as Python prints it, only when it holds one
 * of `hot`'s patterns (all when hot is NULL).
 *
 * The parser hands each string and number to the filters as it reads it, and no tree is
 * built: most values are dropped (short, small numbers, inert without a match), and a node
 * for each, then a second pass over the nodes, cost more than the parse. A kept leaf is
 * recorded (its path and bytes) in the order it is read; when a container is read to its
 * end, its own leaves are moved before its nested containers' (walk_close), whose records
 * are already in the walk's order. The leaves go to fn only once the whole document is read:
 * a document found not to be JSON, or to need the Python walk, at its last byte gives none.
 */

#define _GNU_SOURCE /* memmem */
#include "jsonwalk.h"
#include "inert.h"

#include <math.h>
#include <string.h>

/* A kept leaf: its path and bytes, until the document is read. */
typedef struct {
  Py_ssize_t path, path_len; /* in the arena */
  Py_ssize_t at, n;          /* its bytes: s[at, at + n), or the arena's when own */
  int depth;                 /* its container's */
  unsigned char inert, own;
} Kept;

/* How many kept leaves, and bytes of their paths and texts, a document has room for before
   its walk allocates: a document is walked in a few thousand instructions, and growing
   both from nothing, then freeing them, cost ~900 of them (most documents keep a few
   leaves, ~30 bytes of path each). */
#define FIRST_KEPT 32
#define FIRST_ARENA 2048

struct Walk {
  const unsigned char *s;
  const Span *hot; /* NULL: keep everything */
  Py_ssize_t hot_count;
  Py_ssize_t hot_min; /* the length of hot's shortest pattern (none: PY_SSIZE_T_MAX) */
  Kept *kept;      /* the leaves kept so far: the parser's kept of them */
  Py_ssize_t kept_cap;
  Kept *tmp;       /* walk_close's */
  Py_ssize_t tmp_cap;
  unsigned char *arena; /* the kept leaves' paths, decoded strings and float texts */
  Py_ssize_t arena_n, arena_cap;
  Kept first_kept[FIRST_KEPT]; /* kept and arena until they outgrow these */
  unsigned char first_arena[FIRST_ARENA];
};

/* reserve's growth: *p (of *cap items of size) to hold need; while *p is first (the Walk's
   own array), onto the heap. 0: no memory. */
static __attribute__ ((noinline)) int grow (void **p, Py_ssize_t *cap, Py_ssize_t need,
    size_t size, void *first)
{
  Py_ssize_t c = *cap ? *cap : 64;
  while (c < need)
    c *= 2;
  void *q = *p == first ? PyMem_Malloc ((size_t) c * size)
      : PyMem_Realloc (*p, (size_t) c * size);
  if (q == NULL)
    return 0;
  if (*p == first && *cap > 0)
    memcpy (q, first, (size_t) *cap * size);
  *p = q;
  *cap = c;
  return 1;
}

/* Room in *p (of *cap items of size) for need; see grow. 0: no memory. Inlined: every kept
   leaf asks for room three times or more, and most often has it. */
static inline int reserve (void **p, Py_ssize_t *cap, Py_ssize_t need, size_t size, void *first)
{
  return need <= *cap || grow (p, cap, need, size, first);
}

/* Room in the arena for need more bytes. 0: no memory. */
static int arena_room (struct Walk *w, Py_ssize_t need)
{
  return reserve ((void **) &w->arena, &w->arena_cap, w->arena_n + need, 1, w->first_arena);
}

static Py_ssize_t put_utf8 (unsigned char *o, unsigned long cp)
{
  if (cp < 0x80)
  {
    o[0] = (unsigned char) cp;
    return 1;
  }
  if (cp < 0x800)
  {
    o[0] = (unsigned char) (0xC0 | (cp >> 6));
    o[1] = (unsigned char) (0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000)
  {
    o[0] = (unsigned char) (0xE0 | (cp >> 12));
    o[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char) (0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char) (0xF0 | (cp >> 18));
  o[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char) (0x80 | (cp & 0x3F));
  return 4;
}

/* The string s[start, end) (checked by the parser) into o, as decoders.utf8() gives it for
   json's str: raw bytes as they are (a surrogateescape round trip), escapes decoded, a pair
   of surrogate escapes joined, a lone surrogate as one byte (U+DC80..U+DCFF,
   surrogateescape's) or its 3-byte form. Its length, at most end - start. */
static Py_ssize_t decode_string (const unsigned char *s, Py_ssize_t start, Py_ssize_t end,
    unsigned char *o)
{
  Py_ssize_t k = 0;
  for (Py_ssize_t i = start; i < end;)
  {
    unsigned char c = s[i];
    if (c != '\\')
    {
      o[k++] = c;
      i++;
      continue;
    }
    unsigned char e = s[i + 1];
    if (e != 'u')
    {
      switch (e)
      {
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        default: o[k++] = e; break; /* " \ / */
      }
      i += 2;
      continue;
    }
    unsigned long cp = (unsigned long) json_hex4 (s, i + 2, end);
    i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= end && s[i] == '\\' && s[i + 1] == 'u')
    {
      long lo = json_hex4 (s, i + 2, end);
      if (lo >= 0xDC00 && lo <= 0xDFFF)
      {
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long) lo - 0xDC00);
        i += 6;
      }
    }
    if (cp >= 0xDC80 && cp <= 0xDCFF)
      o[k++] = (unsigned char) (cp - 0xDC00);
    else
      k += put_utf8 (o + k, cp);
  }
  return k;
}

static const char *find_bytes (const unsigned char *hay, Py_ssize_t n, const char *needle, Py_ssize_t m)
{
  if (m == 0)
    return (const char *) hay;
  if (m > n)
    return NULL;
  return memmem (hay, (size_t) n, needle, (size_t) m);
}

/* `hot` is None (keep), or kept when the value holds one of its patterns. Inlined: most
   layers matched nothing (hot_count 0), and their numbers and inert strings are each
   tested. Most such values are shorter than every pattern, which is told first (a loop over
   the patterns, each compared by length, took ~35 instructions a value). */
static inline __attribute__ ((always_inline)) int hot_holds (const struct Walk *w,
    const unsigned char *b, Py_ssize_t n)
{
  if (n < w->hot_min)
    return 0;
  for (Py_ssize_t i = 0; i < w->hot_count; i++)
    if (find_bytes (b, n, w->hot[i].p, w->hot[i].n) != NULL)
      return 1;
  return 0;
}

/* "[<index>]" at o (index >= 0), as snprintf's "[%zd]" writes it, without the format
   machinery. Its length. */
static Py_ssize_t bracketed (unsigned char *o, Py_ssize_t index)
{
  char digits[24];
  int k = 0;
  do
    digits[k++] = (char) ('0' + index % 10);
  while ((index /= 10) > 0);
  o[0] = '[';
  for (int i = 0; i < k; i++)
    o[1 + i] = (unsigned char) digits[k - 1 - i];
  o[1 + k] = ']';
  return k + 2;
}

/* Records a kept leaf of the container at depth, its bytes at `at` (in the arena when own,
   else in s), with its path ("$", then .key or [index] for each of p->seg[0, depth]): made
   only now, as most leaves are not kept. */
static int keep (Parser *p, int depth, int own, Py_ssize_t at, Py_ssize_t n, int is_inert)
{
  struct Walk *w = p->walk;
  if (!reserve ((void **) &w->kept, &w->kept_cap, p->kept + 1, sizeof (Kept), w->first_kept)
      || !arena_room (w, 1))
    return NO_MEMORY;
  Py_ssize_t path = w->arena_n;
  w->arena[w->arena_n++] = '$';
  for (int d = 0; d <= depth; d++)
  {
    const Seg *g = &p->seg[d];
    if (g->kstart >= 0)
    {
      Py_ssize_t k = g->kend - g->kstart;
      if (!arena_room (w, k + 1))
        return NO_MEMORY;
      w->arena[w->arena_n] = '.';
      memcpy (w->arena + w->arena_n + 1, p->s + g->kstart, (size_t) k);
      w->arena_n += k + 1;
    }
    else
    {
      if (!arena_room (w, 24))
        return NO_MEMORY;
      w->arena_n += bracketed (w->arena + w->arena_n, g->index);
    }
  }
  w->kept[p->kept++] = (Kept) { path, w->arena_n - path, at, n, depth,
    (unsigned char) is_inert, (unsigned char) own };
  return OK;
}

int walk_string (Parser *p, int depth, Py_ssize_t start, Py_ssize_t end, int escaped)
{
  struct Walk *w = p->walk;
  const unsigned char *b = p->s + start;
  Py_ssize_t n = end - start, at = start;
  if (escaped)
  {
    if (!arena_room (w, n))
      return NO_MEMORY;
    at = w->arena_n;
    b = w->arena + at;
    n = decode_string (p->s, start, end, w->arena + at);
    if (n < p->min_leaf)
      return OK;
  }
  int is_inert = inert (b, n);
  if (is_inert && w->hot != NULL && !hot_holds (w, b, n))
    return OK;
  if (escaped)
    w->arena_n += n; /* kept: the decoded bytes stay */
  return keep (p, depth, escaped, at, n, is_inert);
}

int walk_number (Parser *p, int depth, const Number *num)
{
  struct Walk *w = p->walk;
  const unsigned char *lit = p->s + num->start;
  Py_ssize_t n = num->end - num->start;
  if (!num->is_float) /* of four digits or more: at least 1000 */
    return w->hot != NULL && !hot_holds (w, lit, n) ? OK : keep (p, depth, 0, num->start, n, 1);
  char tmp[64];
  char *text = (n < (Py_ssize_t) sizeof tmp) ? tmp : PyMem_Malloc ((size_t) n + 1);
  if (text == NULL)
    return NO_MEMORY;
  memcpy (text, lit, (size_t) n);
  text[n] = 0;
  double v = PyOS_string_to_double (text, NULL, NULL);
  if (text != tmp)
    PyMem_Free (text);
  if (v == -1.0 && PyErr_Occurred ())
    return ERROR;
  if (!(fabs (v) >= 1000.0))
    return OK;
  /* str(v): float's repr, which is this call (Objects/floatobject.c, float_repr) */
  char *r = PyOS_double_to_string (v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
  if (r == NULL)
    return ERROR;
  Py_ssize_t m = (Py_ssize_t) strlen (r);
  int verdict = OK;
  if (w->hot == NULL || hot_holds (w, (const unsigned char *) r, m))
  {
    if (!arena_room (w, m))
      verdict = NO_MEMORY;
    else
    {
      Py_ssize_t at = w->arena_n;
      memcpy (w->arena + at, r, (size_t) m);
      w->arena_n += m;
      verdict = keep (p, depth, 1, at, m, 1);
    }
  }
  PyMem_Free (r);
  return verdict;
}

int walk_close (Parser *p, int depth, Py_ssize_t mark)
{
  /* kept[mark, p->kept) are this container's own leaves (at depth) and its nested
     containers' (deeper), each nested one's already in order: the own ones go first, the
     order within each kind kept. Nothing moves unless an own leaf follows a nested one. */
  struct Walk *w = p->walk;
  Kept *k = w->kept;
  Py_ssize_t i = mark, n = p->kept;
  while (i < n && k[i].depth == depth)
    i++;
  Py_ssize_t j = i;
  while (j < n && k[j].depth != depth)
    j++;
  if (j == n)
    return OK;
  if (!reserve ((void **) &w->tmp, &w->tmp_cap, n - i, sizeof (Kept), NULL))
    return NO_MEMORY;
  Py_ssize_t own = i, nested = 0;
  for (Py_ssize_t x = i; x < n; x++)
    if (k[x].depth == depth)
      k[own++] = k[x];
    else
      w->tmp[nested++] = k[x];
  memcpy (k + own, w->tmp, sizeof (Kept) * (size_t) nested);
  return OK;
}

int json_walk (const unsigned char *s, Py_ssize_t n, Py_ssize_t min_leaf, const Span *hot,
    Py_ssize_t hot_count, LeafFn fn, void *ctx)
{
  struct Walk w;
  w.s = s;
  w.hot = hot;
  w.hot_count = hot_count;
  w.hot_min = PY_SSIZE_T_MAX; /* no pattern: no value holds one */
  for (Py_ssize_t i = 0; i < hot_count; i++)
    w.hot_min = hot[i].n < w.hot_min ? hot[i].n : w.hot_min;
  w.kept = w.first_kept, w.kept_cap = FIRST_KEPT;
  w.tmp = NULL, w.tmp_cap = 0;
  w.arena = w.first_arena, w.arena_n = 0, w.arena_cap = FIRST_ARENA;
  Parser p;
  p.s = s;
  p.n = n;
  p.pos = 0;
  p.min_leaf = min_leaf;
  p.min_int = p.min_inert = hot != NULL ? w.hot_min : 0;
  p.walk = &w;
  p.kept = 0;
  p.keys = NULL;
  p.keys_n = p.keys_cap = 0;
  int r = json_parse (&p);
  for (Py_ssize_t i = 0; r == OK && i < p.kept; i++)
  {
    const Kept *k = &w.kept[i];
    if (!fn (ctx, (const char *) w.arena + k->path, k->path_len,
            (k->own ? w.arena : s) + k->at, k->n, k->inert))
      r = ERROR;
  }
  PyMem_Free (p.keys);
  if (w.kept != w.first_kept)
    PyMem_Free (w.kept);
  PyMem_Free (w.tmp);
  if (w.arena != w.first_arena)
    PyMem_Free (w.arena);
  return r;
}
