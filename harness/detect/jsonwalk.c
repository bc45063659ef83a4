/* The JSON walk of the detector (harness/detect/decoders.py, Decoder._walk_json) in C: one
 * parse of the body's bytes, then its leaves in the walk's order, with the same filters.
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
 */

#define _GNU_SOURCE /* memmem */
#include "jsonwalk.h"

#include <math.h>
#include <string.h>

#define INERT_MAX 24

/* ---- the walk ---------------------------------------------------------------------- */

typedef struct {
  const unsigned char *s;
  Node *nodes;
  Py_ssize_t min_leaf;
  const Span *hot;    /* NULL: keep everything */
  Py_ssize_t hot_count;
  LeafFn fn;
  void *ctx;
  char *path;         /* the current container's path */
  Py_ssize_t path_len;
  Py_ssize_t path_cap;
  unsigned char *buf; /* a decoded string */
  Py_ssize_t buf_cap;
} Walk;

static int reserve (char **p, Py_ssize_t *cap, Py_ssize_t need)
{
  if (need <= *cap)
    return 1;
  Py_ssize_t c = *cap ? *cap : 256;
  while (c < need)
    c *= 2;
  char *q = PyMem_Realloc (*p, (size_t) c);
  if (q == NULL)
    return 0;
  *p = q;
  *cap = c;
  return 1;
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

/* A string's bytes as decoders.utf8() gives them for json's str: raw bytes as they are
   (a surrogateescape round trip), escapes decoded, a pair of surrogate escapes joined, a
   lone surrogate as one byte (U+DC80..U+DCFF, surrogateescape's) or its 3-byte form. */
static Py_ssize_t decode_string (Walk *w, const Node *d)
{
  const unsigned char *s = w->s;
  Py_ssize_t need = d->end - d->start;
  if (!reserve ((char **) &w->buf, &w->buf_cap, need + 4))
    return -1;
  unsigned char *o = w->buf;
  Py_ssize_t k = 0;
  for (Py_ssize_t i = d->start; i < d->end;)
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
    unsigned long cp = (unsigned long) json_hex4 (s, i + 2, d->end);
    i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= d->end && s[i] == '\\' && s[i + 1] == 'u')
    {
      long lo = json_hex4 (s, i + 2, d->end);
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
   tested. */
static inline __attribute__ ((always_inline)) int hot_holds (Walk *w, const unsigned char *b, Py_ssize_t n)
{
  for (Py_ssize_t i = 0; i < w->hot_count; i++)
    if (find_bytes (b, n, w->hot[i].p, w->hot[i].n) != NULL)
      return 1;
  return 0;
}

/* The bytes an inert leaf is made of: printable ASCII but / \ " = % & { [ +, and tab,
   newline, carriage return (a table: every short string leaf is tested). */
static const unsigned char PLAIN[256] = {
  ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' ' ... '"' - 1] = 1, ['"' + 1 ... '$'] = 1,
  ['\'' ... '*'] = 1, [','] = 1, ['-' ... '.'] = 1, ['0' ... '<'] = 1,
  ['>' ... 'Z'] = 1, [']' ... 'z'] = 1, ['|' ... '~'] = 1,
};

static int inert (const unsigned char *b, Py_ssize_t n)
{
  if (n >= INERT_MAX || (n > 0 && b[0] == 'x'))
    return 0;
  for (Py_ssize_t i = 0; i < n; i++)
    if (!PLAIN[b[i]])
      return 0;
  return 1;
}

/* "[<index>]" at o (index >= 0), as snprintf's "[%zd]" writes it, without the format
   machinery: arrays of many small items make one for each. Its length. */
static Py_ssize_t bracketed (char *o, Py_ssize_t index)
{
  char digits[24];
  int k = 0;
  do
    digits[k++] = (char) ('0' + index % 10);
  while ((index /= 10) > 0);
  o[0] = '[';
  for (int i = 0; i < k; i++)
    o[1 + i] = digits[k - 1 - i];
  o[1 + k] = ']';
  return k + 2;
}

/* The child's path: the container's, then .key or [index]. */
static int child_path (Walk *w, const Node *c, Py_ssize_t index, Py_ssize_t *len)
{
  Py_ssize_t base = w->path_len;
  if (c->kstart >= 0)
  {
    Py_ssize_t k = c->kend - c->kstart;
    if (!reserve (&w->path, &w->path_cap, base + k + 2))
      return 0;
    w->path[base] = '.';
    memcpy (w->path + base + 1, w->s + c->kstart, (size_t) k);
    *len = base + 1 + k;
  }
  else
  {
    if (!reserve (&w->path, &w->path_cap, base + 24))
      return 0;
    *len = base + bracketed (w->path + base, index);
  }
  return 1;
}

/* A kept leaf (the index-th child c) to fn, under its path: made only now, as most leaves
   are not kept (short, small numbers, inert without a match). */
static int emit (Walk *w, const Node *c, Py_ssize_t index, const unsigned char *b, Py_ssize_t n,
    int is_inert)
{
  Py_ssize_t path_len;
  if (!child_path (w, c, index, &path_len))
    return 0;
  return w->fn (w->ctx, w->path, path_len, b, n, is_inert);
}

/* A float literal whose value is below 1000 in magnitude, told without strtod (most floats
   an app sends are small, and strtod's exact rounding is slow): no exponent (the parser
   saw), and an integer part of at most three digits other than 999. Its value is then below
   999, so its double at most 999 (rounding is monotonic and 999 exact). 0: not told so
   (strtod decides). */
static int float_below_1000 (const Node *c, const unsigned char *lit, Py_ssize_t n)
{
  if (c->exponent)
    return 0;
  Py_ssize_t start = lit[0] == '-', i = start;
  while (i < n && lit[i] >= '0' && lit[i] <= '9')
    i++;
  return i - start < 3 || (i - start == 3 && memcmp (lit + start, "999", 3) != 0);
}

static int leaf_number (Walk *w, const Node *c, Py_ssize_t index)
{
  const unsigned char *lit = w->s + c->start;
  Py_ssize_t n = c->end - c->start;
  if (c->type == T_INT)
  {
    Py_ssize_t digits = n - (lit[0] == '-');
    if (digits < 4) /* no leading zeros in JSON: |v| >= 1000 has 4 digits or more */
      return 1;
    if (w->hot != NULL && !hot_holds (w, lit, n))
      return 1;
    return emit (w, c, index, lit, n, 1);
  }
  if (float_below_1000 (c, lit, n))
    return 1;
  char tmp[64];
  char *text = (n < (Py_ssize_t) sizeof tmp) ? tmp : PyMem_Malloc ((size_t) n + 1);
  if (text == NULL)
    return 0;
  memcpy (text, lit, (size_t) n);
  text[n] = 0;
  double v = PyOS_string_to_double (text, NULL, NULL);
  if (text != tmp)
    PyMem_Free (text);
  if (v == -1.0 && PyErr_Occurred ())
    return 0;
  if (!(fabs (v) >= 1000.0))
    return 1;
  PyObject *f = PyFloat_FromDouble (v);
  PyObject *str = f ? PyObject_Str (f) : NULL;
  Py_XDECREF (f);
  if (str == NULL)
    return 0;
  Py_ssize_t m;
  const char *b = PyUnicode_AsUTF8AndSize (str, &m);
  int ok = b != NULL && ((w->hot != NULL && !hot_holds (w, (const unsigned char *) b, m))
      || emit (w, c, index, (const unsigned char *) b, m, 1));
  Py_DECREF (str);
  return ok;
}

static int walk (Walk *w, const Node *container)
{
  /* the container's own leaves */
  Py_ssize_t index = 0;
  for (Py_ssize_t i = container->first; i >= 0; i = w->nodes[i].next, index++)
  {
    const Node *c = &w->nodes[i];
    if (c->type == T_OBJ || c->type == T_ARR || c->type == T_LIT)
      continue;
    if (c->type == T_INT || c->type == T_FLOAT)
    {
      if (!leaf_number (w, c, index))
        return 0;
      continue;
    }
    const unsigned char *b = w->s + c->start;
    Py_ssize_t n = c->end - c->start;
    if (c->escaped)
    {
      n = decode_string (w, c);
      if (n < 0)
        return 0;
      b = w->buf;
    }
    if (n < w->min_leaf)
      continue;
    int is_inert = inert (b, n);
    if (is_inert && w->hot != NULL && !hot_holds (w, b, n))
      continue;
    if (!emit (w, c, index, b, n, is_inert))
      return 0;
  }
  /* then its nested containers, in order */
  index = 0;
  Py_ssize_t saved = w->path_len;
  for (Py_ssize_t i = container->first; i >= 0; i = w->nodes[i].next, index++)
  {
    const Node *c = &w->nodes[i];
    if (c->type != T_OBJ && c->type != T_ARR)
      continue;
    Py_ssize_t path_len;
    if (!child_path (w, c, index, &path_len))
      return 0;
    w->path_len = path_len;
    int ok = walk (w, c);
    w->path_len = saved;
    if (!ok)
      return 0;
  }
  return 1;
}

int json_walk (const unsigned char *s, Py_ssize_t n, Py_ssize_t min_leaf, const Span *hot,
    Py_ssize_t hot_count, LeafFn fn, void *ctx)
{
  Parser p = { s, n, 0, NULL, 0, 0 };
  Py_ssize_t root = -1;
  int r = json_parse (&p, &root);
  if (r == OK)
  {
    Walk w = { p.s, p.nodes, min_leaf, hot, hot_count, fn, ctx, NULL, 0, 0, NULL, 0 };
    if (!reserve (&w.path, &w.path_cap, 1))
      r = NO_MEMORY;
    else
    {
      w.path[0] = '$';
      w.path_len = 1;
      if (!walk (&w, &p.nodes[root]))
        r = PyErr_Occurred () ? ERROR : NO_MEMORY;
    }
    PyMem_Free (w.path);
    PyMem_Free (w.buf);
  }
  PyMem_Free (p.nodes);
  return r;
}
