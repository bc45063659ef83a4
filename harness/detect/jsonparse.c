/* The JSON parser of the detector's C walk: see jsonparse.h. */

#include "jsonparse.h"
#include "jsonscan.h"
#include "inert.h"
#include "unquote.h"
#include "words.h"

#include <string.h>

static int is_ws (unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Past the whitespace at p->pos. A separator is most often followed by one space or none
   (json.dumps writes ", " and ": "), so those are told apart before the loop: this runs
   after every separator past does not take at once, and inside brackets. */
static inline void skip_ws (Parser *p)
{
  const unsigned char *s = p->s;
  Py_ssize_t i = p->pos, n = p->n;
  if (i < n && s[i] == ' ')
    i++;
  if (i < n && s[i] <= ' ')
    while (i < n && is_ws (s[i]))
      i++;
  p->pos = i;
}

/* Whether the byte at p->pos, past any whitespace, is c (p->pos then at it). The byte is
   tested before skip_ws is run: a key's ':' and a value's ',' most often follow at once
   (json.dumps writes '": ' and ', '), and skip_ws's tests of them cost more than this. */
static inline int next_is (Parser *p, unsigned char c)
{
  if (p->pos < p->n && p->s[p->pos] == c)
    return 1;
  skip_ws (p);
  return p->pos < p->n && p->s[p->pos] == c;
}

/* Whether the byte at p->pos, past any whitespace, is c: then p->pos is past it and the
   whitespace after it. json.dumps writes ": " and ", " before a value or key: c and one
   space, then a byte that is not whitespace, are tested first, as one two-byte word and a
   byte, instead of next_is, the step past c and skip_ws one after another (this runs twice
   per object member: -14 M instructions on the 20 MB run's bodies). */
static inline int past (Parser *p, unsigned char c)
{
  const unsigned char *s = p->s;
  Py_ssize_t i = p->pos;
  uint16_t two;
  if (i + 3 <= p->n && (memcpy (&two, s + i, 2), two == (c | ' ' << 8)) && s[i + 2] > ' ')
  {
    p->pos = i + 2;
    return 1;
  }
  if (!next_is (p, c))
    return 0;
  p->pos++;
  skip_ws (p);
  return 1;
}

long json_hex4 (const unsigned char *s, Py_ssize_t at, Py_ssize_t n)
{
  if (at + 4 > n)
    return -1;
  long v = 0;
  for (int i = 0; i < 4; i++)
  {
    int h = hex_value (s[at + i]);
    if (h < 0)
      return -1;
    v = (v << 4) | h;
  }
  return v;
}

/* Whether two of an object's count keys, s[k[2 * i], k[2 * i + 1]), are the same: json
   keeps the last value at the first key's place, which the walk does not reproduce. Every
   pair compared: it runs only for an object whose first KEY_WORDS keys' words (key_word)
   are not all distinct, or which has more keys. */
static __attribute__ ((noinline)) int duplicate_key (const unsigned char *s,
    const Py_ssize_t *k, Py_ssize_t count)
{
  for (Py_ssize_t a = 0; a < count; a++)
    for (Py_ssize_t b = a + 1; b < count; b++)
    {
      Py_ssize_t m = k[2 * a + 1] - k[2 * a];
      if (m == k[2 * b + 1] - k[2 * b]
          && memcmp (s + k[2 * a], s + k[2 * b], (size_t) m) == 0)
        return 1;
    }
  return 0;
}

/* Keeps the key s[start, end) for duplicate_key. 0: no memory. */
static inline int push_key (Parser *p, Py_ssize_t start, Py_ssize_t end)
{
  if (p->keys_n == p->keys_cap)
  {
    Py_ssize_t cap = p->keys_cap ? p->keys_cap * 2 : 64;
    Py_ssize_t *keys = PyMem_Realloc (p->keys, sizeof (Py_ssize_t) * 2 * (size_t) cap);
    if (keys == NULL)
      return 0;
    p->keys = keys;
    p->keys_cap = cap;
  }
  p->keys[2 * p->keys_n] = start;
  p->keys[2 * p->keys_n + 1] = end;
  p->keys_n++;
  return 1;
}

/* A word of the key s[start, end) that equal keys share: its first and last eight bytes
   (they overlap in a shorter key) and its length; a key of fewer than eight bytes, its
   bytes and its length (read as the last bytes of the eight that end with it: the bytes
   before the key are shifted out). Keys of the same prefix and suffix, such as
   "$lib_version" and "$app_version", then differ. */
static inline uint64_t key_word (const unsigned char *s, Py_ssize_t start, Py_ssize_t end)
{
  Py_ssize_t m = end - start;
  if (m >= 8)
    return load8 (s + start) ^ (load8 (s + end - 8) * 0x9E3779B97F4A7C15ULL) ^ (uint64_t) m;
  if (m == 0)
    return 0;
  if (end >= 8)
    return load8 (s + end - 8) >> (8 * (8 - m)) | (uint64_t) m << 56;
  uint64_t w = 0;
  for (Py_ssize_t j = 0; j < m; j++)
    w |= (uint64_t) s[start + j] << (8 * j);
  return w | (uint64_t) m << 56;
}

/* How many of an object's first keys parse_container keeps the words of: the pairwise
   check of every key (duplicate_key) runs only where two of these words are equal, or
   where there are more keys. An app's objects have a dozen keys or fewer, all distinct;
   comparing each pair by length and bytes cost as much as the rest of the object's parse.
   A bit of each word in a 64-bit set spares most keys even the comparison of their word
   with the words before: equal words have the same bit. These keys' spans are kept in
   parse_container's frame; only an object with more keys puts them in p->keys (growing it
   cost more than the rest of a short document's parse). */
#define KEY_WORDS 16

static inline int parse_value (Parser *p, int depth);

/* The object or array at p->pos, at depth. Not inlined: the recursion goes through here,
   and parse_value, which reads every other value, is inlined into it (a call per value
   cost as much as parsing a short one). */
static __attribute__ ((noinline)) int parse_container (Parser *p, int depth)
{
  int is_obj = p->s[p->pos] == '{';
  unsigned char close = is_obj ? '}' : ']';
  p->pos++;
  skip_ws (p);
  if (p->pos < p->n && p->s[p->pos] == close)
  {
    p->pos++;
    return OK;
  }
  Py_ssize_t mark = p->kept, first_key = p->keys_n;
  Seg *seg = &p->seg[depth];
  seg->kstart = -1;
  Py_ssize_t members = 0;
  uint64_t words[KEY_WORDS], bits = 0; /* the first keys' words, and a bit of each */
  Py_ssize_t spans[2 * KEY_WORDS];     /* and their spans */
  int maybe_duplicate = 0;
  for (;;)
  {
    if (++members > MAX_KEYS && is_obj)
      return FALLBACK;
    if (is_obj)
    {
      if (p->pos >= p->n || p->s[p->pos] != '"')
        return NOT_JSON;
      Py_ssize_t kstart, kend;
      uint8_t kesc;
      int r = scan_string (p, &kstart, &kend, &kesc);
      if (r != OK)
        return r;
      if (!past (p, ':'))
        return NOT_JSON;
      if (kesc || !ascii_span (p->s, kstart, kend, p->n))
        return FALLBACK;
      seg->kstart = kstart;
      seg->kend = kend;
      if (members <= KEY_WORDS)
      {
        spans[2 * members - 2] = kstart;
        spans[2 * members - 1] = kend;
        if (!maybe_duplicate)
        {
          uint64_t w = key_word (p->s, kstart, kend);
          uint64_t bit = 1ULL << ((w * 0x9E3779B97F4A7C15ULL) >> 58);
          if (bits & bit)
            for (Py_ssize_t j = 0; j < members - 1; j++)
              maybe_duplicate |= words[j] == w;
          bits |= bit;
          words[members - 1] = w;
        }
      }
      else
      {
        maybe_duplicate = 1;
        if (members == KEY_WORDS + 1) /* the first keys' spans go with the others' */
          for (int j = 0; j < KEY_WORDS; j++)
            if (!push_key (p, spans[2 * j], spans[2 * j + 1]))
              return NO_MEMORY;
        if (!push_key (p, kstart, kend))
          return NO_MEMORY;
      }
    }
    else
      seg->index = members - 1;
    int r = parse_value (p, depth + 1);
    if (r != OK)
      return r;
    if (!past (p, ','))
    {
      if (p->pos >= p->n || p->s[p->pos] != close)
        return NOT_JSON;
      p->pos++;
      break;
    }
  }
  if (maybe_duplicate && duplicate_key (p->s, members > KEY_WORDS ? p->keys + 2 * first_key
          : spans, members))
    return FALLBACK;
  p->keys_n = first_key;
  return p->kept - mark > 1 ? walk_close (p, depth, mark) : OK;
}

static int literal (Parser *p, const char *word)
{
  size_t k = strlen (word);
  if ((size_t) (p->n - p->pos) < k || memcmp (p->s + p->pos, word, k) != 0)
    return 0;
  p->pos += (Py_ssize_t) k;
  return 1;
}

/* The value at p->pos, at depth (the top container's is 0): a string or number is handed to
   the walk as a leaf of the container at depth - 1. */
static inline __attribute__ ((always_inline)) int parse_value (Parser *p, int depth)
{
  if (depth > MAX_DEPTH)
    return FALLBACK;
  if (p->pos >= p->n)
    return NOT_JSON;
  unsigned char c = p->s[p->pos];
  if (c == '{' || c == '[')
    return parse_container (p, depth);
  if (c == '"')
  {
    Py_ssize_t start, end;
    uint8_t escaped;
    int r = scan_string (p, &start, &end, &escaped);
    if (r != OK || end - start < p->min_leaf) /* unescaping never lengthens a string */
      return r;
    if (!escaped && end - start < p->min_inert && plain_span (p->s, start, end, p->n))
      return OK; /* walk_string would drop it: a call per short value cost more */
    return walk_string (p, depth - 1, start, end, escaped);
  }
  if (c == '-' || (c >= '0' && c <= '9'))
  {
    Number num;
    int r = scan_number (p, &num);
    if (r != OK || below_1000 (&num, p->s)
        || (!num.is_float && num.end - num.start < p->min_int))
      return r;
    return walk_number (p, depth - 1, &num);
  }
  if (literal (p, "true") || literal (p, "false") || literal (p, "null"))
    return OK;
  if (c == 'N' || c == 'I')
    return (literal (p, "NaN") || literal (p, "Infinity")) ? FALLBACK : NOT_JSON;
  return NOT_JSON;
}

int json_parse (Parser *p)
{
  skip_ws (p);
  if (p->pos >= p->n || (p->s[p->pos] != '{' && p->s[p->pos] != '['))
    return NOT_JSON;
  int r = parse_value (p, 0);
  if (r != OK)
    return r;
  skip_ws (p);
  return (p->pos == p->n) ? OK : NOT_JSON;
}
