/* The JSON parser of the detector's C walk: see jsonparse.h. */

#include "jsonparse.h"
#include "unquote.h"
#include "words.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static int is_ws (unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Past the whitespace at p->pos. A separator is most often followed by one space or none
   (json.dumps writes ", " and ": "), so those are told apart before the loop: this runs four
   times per object member. */
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

/* The high bit of each of v's eight bytes that scan_string stops at: a quote, a backslash,
   a byte below 0x20 (its top three bits clear). */
static inline uint64_t special_bytes (uint64_t v)
{
  return bytes_equal (v, '"') | bytes_equal (v, '\\') | zero_bytes (v & (ONES * 0xE0));
}

/* Where scan_string must look from s[i] on: the first quote, backslash or control byte, or
   where fewer than eight bytes are left, which it looks at one by one. With seen, the bytes
   passed are or'ed into it (their high bits: scan_string's ASCII test). Sixteen bytes at a
   time with SSE2 (every x86-64 has it; a key or a short value is then one step), eight at
   a time for the rest and where there is no SSE2: strings are most of a document's bytes. */
static inline __attribute__ ((always_inline)) Py_ssize_t plain_run (const unsigned char *s,
    Py_ssize_t i, Py_ssize_t n, uint64_t *seen)
{
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8 ('"'), backslash = _mm_set1_epi8 ('\\');
  const __m128i control = _mm_set1_epi8 (0x1F);
  while (i + 16 <= n)
  {
    __m128i v = _mm_loadu_si128 ((const __m128i *) (s + i));
    __m128i stop = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (v, quote),
        _mm_cmpeq_epi8 (v, backslash)), _mm_cmpeq_epi8 (_mm_max_epu8 (v, control), control));
    unsigned m = (unsigned) _mm_movemask_epi8 (stop);
    unsigned high = seen != NULL ? (unsigned) _mm_movemask_epi8 (v) : 0;
    if (m != 0)
    {
      int k = __builtin_ctz (m); /* the first one */
      if (seen != NULL)
        *seen |= (high & ((1u << k) - 1)) ? HIGHS : 0;
      return i + k;
    }
    if (seen != NULL)
      *seen |= high ? HIGHS : 0;
    i += 16;
  }
#endif
  while (i + 8 <= n)
  {
    uint64_t v = load8 (s + i);
    uint64_t stop = special_bytes (v);
    if (stop != 0)
    {
      int k = __builtin_ctzll (stop) >> 3; /* the first one */
      if (seen != NULL)
        *seen |= k ? v & (~0ULL >> (64 - 8 * k)) : 0;
      return i + k;
    }
    if (seen != NULL)
      *seen |= v;
    i += 8;
  }
  return i;
}

/* A string whose opening quote is at p->pos: its content span, checked as json's strict
   scanner checks it (no raw control character, valid escapes); with ascii (a key's call),
   *ascii: no byte >= 0x80 in it. Inlined into its two callers, so that a value's call
   (ascii NULL) does none of the ASCII bookkeeping and neither pays for a call: there are
   as many strings as members. */
static inline __attribute__ ((always_inline)) int scan_string (Parser *p, Py_ssize_t *start,
    Py_ssize_t *end, uint8_t *escaped, int *ascii)
{
  const unsigned char *s = p->s;
  Py_ssize_t i = p->pos + 1, n = p->n;
  uint64_t seen = 0; /* the bytes passed, or'ed: their high bits (ascii only) */
  *start = i;
  *escaped = 0;
  for (;;)
  {
    i = plain_run (s, i, n, ascii != NULL ? &seen : NULL);
    if (i >= n)
      return NOT_JSON;
    unsigned char c = s[i];
    if (c == '"')
    {
      *end = i;
      if (ascii != NULL)
        *ascii = (seen & HIGHS) == 0;
      p->pos = i + 1;
      return OK;
    }
    if (c < 0x20)
      return NOT_JSON;
    if (c == '\\')
    {
      *escaped = 1;
      if (i + 1 >= n)
        return NOT_JSON;
      unsigned char e = s[i + 1];
      if (e == 'u')
      {
        if (json_hex4 (s, i + 2, n) < 0)
          return NOT_JSON;
        i += 6;
        continue;
      }
      switch (e) /* the escapes json accepts besides \u (a switch: JSON in JSON has many) */
      {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        break;
      default:
        return NOT_JSON;
      }
      i += 2;
      continue;
    }
    if (ascii != NULL)
      seen |= c; /* the last bytes, fewer than eight */
    i++;
  }
}

/* How many ASCII digits s[i, n) starts with: eight bytes at a time (a float's fraction has
   about sixteen). A byte x ^ '0' is below 10 only for a digit: its low seven bits plus 0x76
   reach the high bit from 10 up, with no carry out of the byte; a byte of its own >= 0x80
   is no digit either. */
static inline Py_ssize_t digits_at (const unsigned char *s, Py_ssize_t i, Py_ssize_t n)
{
  const uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;
  Py_ssize_t start = i;
  while (i + 8 <= n)
  {
    uint64_t x = load8 (s + i) ^ (ONES * '0');
    uint64_t other = (((x & low7) + ONES * 0x76) | x) & HIGHS;
    if (other != 0)
      return i - start + (__builtin_ctzll (other) >> 3);
    i += 8;
  }
  while (i < n && s[i] >= '0' && s[i] <= '9')
    i++;
  return i - start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? at p->pos, into *num */
static inline __attribute__ ((always_inline)) int scan_number (Parser *p, Number *num)
{
  const unsigned char *s = p->s;
  Py_ssize_t i = p->pos, n = p->n;
  int is_float = 0, exponent = 0;
  if (i < n && s[i] == '-')
    i++;
  if (i < n && s[i] == 'I')
    return FALLBACK; /* -Infinity */
  if (i >= n || s[i] < '0' || s[i] > '9')
    return NOT_JSON;
  Py_ssize_t whole = i;
  if (s[i] == '0')
    i++;
  else
    i += digits_at (s, i, n);
  num->int_digits = i - whole;
  if (i + 1 < n && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9')
  {
    is_float = 1;
    i++;
    i += digits_at (s, i, n);
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E'))
  {
    Py_ssize_t j = i + 1;
    if (j < n && (s[j] == '-' || s[j] == '+'))
      j++;
    if (j < n && s[j] >= '0' && s[j] <= '9')
    {
      is_float = exponent = 1;
      while (j < n && s[j] >= '0' && s[j] <= '9')
        j++;
      i = j;
    }
  }
  if (i - p->pos > MAX_DIGITS)
    return FALLBACK;
  num->start = p->pos;
  num->end = i;
  num->is_float = is_float;
  num->exponent = exponent;
  p->pos = i;
  return OK;
}

/* Whether two of the keys p->keys[2 * first, 2 * p->keys_n) (an object's) are the same:
   json keeps the last value at the first key's place, which the walk does not reproduce.
   Every pair compared: it runs only for an object whose first KEY_WORDS keys' words
   (key_word) are not all distinct. */
static __attribute__ ((noinline)) int duplicate_key (const Parser *p, Py_ssize_t first)
{
  const Py_ssize_t *k = p->keys;
  for (Py_ssize_t a = first; a < p->keys_n; a++)
    for (Py_ssize_t b = a + 1; b < p->keys_n; b++)
    {
      Py_ssize_t m = k[2 * a + 1] - k[2 * a];
      if (m == k[2 * b + 1] - k[2 * b]
          && memcmp (p->s + k[2 * a], p->s + k[2 * b], (size_t) m) == 0)
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
   with the words before: equal words have the same bit. */
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
      int ascii;
      int r = scan_string (p, &kstart, &kend, &kesc, &ascii);
      if (r != OK)
        return r;
      int plain = !kesc && ascii;
      skip_ws (p);
      if (p->pos >= p->n || p->s[p->pos] != ':')
        return NOT_JSON;
      p->pos++;
      skip_ws (p);
      if (!plain)
        return FALLBACK;
      if (!push_key (p, kstart, kend))
        return NO_MEMORY;
      seg->kstart = kstart;
      seg->kend = kend;
      if (members > KEY_WORDS)
        maybe_duplicate = 1;
      else if (!maybe_duplicate)
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
      seg->index = members - 1;
    int r = parse_value (p, depth + 1);
    if (r != OK)
      return r;
    skip_ws (p);
    if (p->pos >= p->n)
      return NOT_JSON;
    unsigned char c = p->s[p->pos];
    if (c == close)
    {
      p->pos++;
      break;
    }
    if (c != ',')
      return NOT_JSON;
    p->pos++;
    skip_ws (p);
  }
  if (maybe_duplicate && duplicate_key (p, first_key))
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
    int r = scan_string (p, &start, &end, &escaped, NULL);
    if (r != OK || end - start < p->min_leaf) /* unescaping never lengthens a string */
      return r;
    return walk_string (p, depth - 1, start, end, escaped);
  }
  if (c == '-' || (c >= '0' && c <= '9'))
  {
    Number num;
    int r = scan_number (p, &num);
    return r != OK || below_1000 (&num, p->s) ? r : walk_number (p, depth - 1, &num);
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
