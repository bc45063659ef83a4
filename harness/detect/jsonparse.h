/* The JSON parser of the detector's C walk (jsonwalk.c): one pass over the document that
 * checks it exactly as json.loads checks it (strict strings, its number grammar, its
 * whitespace) and hands each string and number the walk may keep to the walk as it is read,
 * building no tree: most values are dropped by the walk's filters, and a node for each cost
 * more than reading it. Values json.loads accepts but the walk does not reproduce exactly
 * give FALLBACK (see jsonwalk.c). */

#ifndef EGRESS_JSONPARSE_H
#define EGRESS_JSONPARSE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 200
#define MAX_KEYS 256     /* more members: the duplicate check would be quadratic */
#define MAX_DIGITS 4000  /* Python's int() refuses longer decimal text by default */

/* OK, NOT_JSON (json.loads raises), FALLBACK (the Python walk must run), NO_MEMORY (no
   exception set) or ERROR (Python raised: its exception is set). */
enum { OK = 0, NOT_JSON = 1, FALLBACK = 2, NO_MEMORY = 3, ERROR = 4 };

/* Where a value is in its container: an object member's key s[kstart, kend), or (kstart
   -1) an array item's index. */
typedef struct {
  Py_ssize_t kstart, kend, index;
} Seg;

/* A number literal s[start, end): its integer part's digits (after a '-'), whether it is a
   float, and whether it has an exponent (jsonwalk.c tells a small float by them). */
typedef struct {
  Py_ssize_t start, end, int_digits;
  int is_float, exponent;
} Number;

struct Walk; /* jsonwalk.c's */

typedef struct {
  const unsigned char *s;
  Py_ssize_t n;
  Py_ssize_t pos;
  Py_ssize_t min_leaf; /* a string value shorter than this is not handed to the walk */
  Py_ssize_t min_int;  /* nor an integer literal shorter than this (jsonwalk.c: it could not
                          hold any of the patterns that keep one) */
  Py_ssize_t min_inert; /* nor an inert string (inert.h) without escapes shorter than this
                           (the same: hot's shortest pattern; 0: every string is handed) */
  struct Walk *walk;
  Py_ssize_t kept;     /* how many leaves the walk has kept (jsonwalk.c counts them here) */
  Py_ssize_t *keys;    /* the keys, (start, end) pairs, of the open objects that have more
                          than KEY_WORDS (jsonparse.c): their duplicate check */
  Py_ssize_t keys_n, keys_cap;
  Seg seg[MAX_DEPTH + 1]; /* seg[d]: the member being read of the open container at depth d */
} Parser;

/* The document in p->s[0, p->n), an object or array at the top with only whitespace around
   it, read to its end, each value handed to the walk on the way: OK, NOT_JSON, FALLBACK,
   NO_MEMORY or ERROR. p->keys is the caller's to free. */
int json_parse (Parser *p);

/* Four hex digits at s[at, at + 4) (within n), or -1. */
long json_hex4 (const unsigned char *s, Py_ssize_t at, Py_ssize_t n);

/* The walk's side (jsonwalk.c), called as the parser reads: the path of a value in the
   container at depth is p->seg[0, depth]. Each returns OK, NO_MEMORY or ERROR. */

/* A string value s[start, end) (at least min_leaf bytes; escaped: it has a backslash). */
int walk_string (Parser *p, int depth, Py_ssize_t start, Py_ssize_t end, int escaped);
/* A number, unless below_1000 says it is small or it is an integer shorter than min_int. */
int walk_number (Parser *p, int depth, const Number *num);
/* The container at depth read to its end, which began when p->kept was mark, and has kept
   leaves since: its own leaves put before its nested containers'. */
int walk_close (Parser *p, int depth, Py_ssize_t mark);

/* A number below 1000 in magnitude, told from its literal s[num->start, num->end) alone
   (the walk keeps no such number; a call for each cost more than the test): an integer of
   fewer than four digits (JSON has no leading zeros), or a float without an exponent whose
   integer part has at most three digits and is not 999. Such a float is below 999, so its
   double at most 999 (rounding is monotonic and 999 exact), without strtod, whose exact
   rounding is slow. 0: not told so (walk_number decides). */
static inline int below_1000 (const Number *num, const unsigned char *s)
{
  if (!num->is_float)
    return num->int_digits < 4;
  if (num->exponent)
    return 0;
  const unsigned char *whole = s + num->start + (s[num->start] == '-');
  return num->int_digits < 3 || (num->int_digits == 3 && memcmp (whole, "999", 3) != 0);
}

#endif
