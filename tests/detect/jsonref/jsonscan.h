/* The reference for test_jsonparse_ref.py: harness/detect/jsonscan.h as it was at 314184c,
 * before json21's changes, kept as it was (the product's parser must agree with it). */

/* The scanners of the detector's JSON parser (jsonparse.c): a string's and a number's
 * extent, checked as json.loads checks them, read a word (or sixteen bytes, SSE2) at a time:
 * strings are most of a document's bytes. Inlined into the parser, which calls them for
 * every key and value. */

#ifndef EGRESS_JSONSCAN_H
#define EGRESS_JSONSCAN_H

#include "jsonparse.h"
#include "words.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The high bit of each of v's eight bytes that scan_string stops at: a quote, a backslash,
   a byte below 0x20 (its top three bits clear). */
static inline uint64_t special_bytes (uint64_t v)
{
  return bytes_equal (v, '"') | bytes_equal (v, '\\') | zero_bytes (v & (ONES * 0xE0));
}

/* plain_run's eight bytes at a time: with SSE2 only for a document's last fifteen bytes or
   fewer, and then out of line: inlined into every string's scan, its word constants were
   set up for each (~10 instructions a string, which the sixteen-byte steps never use). */
#ifdef __SSE2__
#define WORDS_STEP static __attribute__ ((noinline))
#else
#define WORDS_STEP static inline __attribute__ ((always_inline))
#endif

WORDS_STEP Py_ssize_t plain_words (const unsigned char *s, Py_ssize_t i, Py_ssize_t n,
    uint64_t *seen)
{
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
  if (i + 8 > n)
    return i;
  uint64_t tail = 0; /* its own: seen's address is not taken */
  i = plain_words (s, i, n, seen != NULL ? &tail : NULL);
  if (seen != NULL)
    *seen |= tail;
  return i;
#else
  return plain_words (s, i, n, seen);
#endif
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

#endif
