/* test_jsonparse_ref.py's driver: json_parse (the product's, or the reference's in this
 * directory, whichever it is linked with) run over a document with a walk that keeps every
 * leaf and writes each call it gets as a line (its kind, depth, span and the path in
 * p->seg), so that two parsers can be compared call for call. */

#include "jsonparse.h"

#include <stdarg.h>
#include <stdio.h>

static char *out;
static size_t out_n, out_cap;

static void put (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  if (out_n < out_cap)
  {
    int k = vsnprintf (out + out_n, out_cap - out_n, fmt, ap);
    out_n += k < 0 ? 0 : (size_t) k;
  }
  va_end (ap);
}

static void path (const Parser *p, int depth)
{
  for (int d = 0; d <= depth; d++)
    if (p->seg[d].kstart >= 0)
      put (" .%zd:%zd", p->seg[d].kstart, p->seg[d].kend);
    else
      put (" [%zd]", p->seg[d].index);
  put ("\n");
}

int walk_string (Parser *p, int depth, Py_ssize_t start, Py_ssize_t end, int escaped)
{
  put ("s %d %zd %zd %d", depth, start, end, escaped);
  path (p, depth);
  p->kept++;
  return OK;
}

int walk_number (Parser *p, int depth, const Number *num)
{
  put ("n %d %zd %zd %zd %d %d", depth, num->start, num->end, num->int_digits, num->is_float,
      num->exponent);
  path (p, depth);
  p->kept++;
  return OK;
}

int walk_close (Parser *p, int depth, Py_ssize_t mark)
{
  put ("c %d %zd %zd\n", depth, mark, p->kept);
  return OK;
}

/* json_parse's verdict on s[0, n) (min_leaf, min_int and min_inert as the Parser's), its
   calls written into buf (at most cap bytes: *used says how many; more than cap means they
   were cut). */
__attribute__ ((visibility ("default"))) int trace (const unsigned char *s, Py_ssize_t n,
    Py_ssize_t min_leaf, Py_ssize_t min_int, Py_ssize_t min_inert, char *buf, size_t cap,
    size_t *used)
{
  out = buf, out_n = 0, out_cap = cap;
  Parser p;
  memset (&p, 0, sizeof p);
  p.s = s;
  p.n = n;
  p.min_leaf = min_leaf;
  p.min_int = min_int;
  p.min_inert = min_inert; /* the reference's parser has none: it hands every string */
  int r = json_parse (&p);
  PyMem_Free (p.keys);
  *used = out_n;
  return r;
}
