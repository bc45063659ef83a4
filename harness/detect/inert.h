/* An "inert" JSON leaf (decoders.py's _inert): a string shorter than INERT_MAX bytes, not
 * starting with 'x', of printable ASCII but the bytes that open a decoder, and tab, newline
 * and carriage return. The walk (jsonwalk.c) keeps one only when it holds one of the
 * layer's patterns; the parser (jsonparse.c) drops those shorter than every pattern itself,
 * most of a document's short values, before a call to the walk for each (plain_span).
 * One table, so the two cannot come to tell a leaf apart. */

#ifndef EGRESS_INERT_H
#define EGRESS_INERT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define INERT_MAX 24

/* The bytes an inert leaf is made of: printable ASCII but / \ " = % & { [ +, and tab,
   newline, carriage return (a table: every short string leaf is tested). */
static const unsigned char PLAIN[256] = {
  ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' ' ... '"' - 1] = 1, ['"' + 1 ... '$'] = 1,
  ['\'' ... '*'] = 1, [','] = 1, ['-' ... '.'] = 1, ['0' ... '<'] = 1,
  ['>' ... 'Z'] = 1, [']' ... 'z'] = 1, ['|' ... '~'] = 1,
};

static inline int inert (const unsigned char *b, Py_ssize_t n)
{
  if (n >= INERT_MAX || (n > 0 && b[0] == 'x'))
    return 0;
  for (Py_ssize_t i = 0; i < n; i++)
    if (!PLAIN[b[i]])
      return 0;
  return 1;
}

#ifdef __SSE2__
/* The bytes of v outside PLAIN, as a 16-bit mask, for bytes that are none of a control
   byte, a quote and a backslash: [ and { (0x20 apart), + and / (0x04 apart), =, % and &
   (0x25, 0x26), and every byte from 0x7F. */
static inline unsigned not_plain16 (__m128i v)
{
  __m128i pct = _mm_sub_epi8 (v, _mm_set1_epi8 ('%'));
  __m128i bad = _mm_or_si128 (
      _mm_or_si128 (_mm_cmpeq_epi8 (_mm_or_si128 (v, _mm_set1_epi8 (0x20)), _mm_set1_epi8 ('{')),
          _mm_cmpeq_epi8 (_mm_or_si128 (v, _mm_set1_epi8 (0x04)), _mm_set1_epi8 ('/'))),
      _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (v, _mm_set1_epi8 ('=')),
          _mm_cmpeq_epi8 (_mm_min_epu8 (pct, _mm_set1_epi8 (1)), pct)),
          _mm_cmpeq_epi8 (_mm_max_epu8 (v, _mm_set1_epi8 (0x7F)), v)));
  return (unsigned) _mm_movemask_epi8 (bad);
}
#endif

/* inert (s + start, end - start) for a string s[start, end) of a document of n bytes that
   has no control byte, quote or backslash (an unescaped string the parser has read): one
   or two sixteen-byte loads with SSE2 where they stay within the document (a table lookup
   per byte cost more than the test of sixteen). */
static inline int plain_span (const unsigned char *s, Py_ssize_t start, Py_ssize_t end,
    Py_ssize_t n)
{
  Py_ssize_t m = end - start;
  if (m >= INERT_MAX || (m > 0 && s[start] == 'x'))
    return 0;
#ifdef __SSE2__
  if (start + 16 <= n)
  {
    unsigned bad = not_plain16 (_mm_loadu_si128 ((const __m128i *) (s + start)));
    if (m <= 16)
      return (bad & ((1u << m) - 1)) == 0;
    return bad == 0 && not_plain16 (_mm_loadu_si128 ((const __m128i *) (s + end - 16))) == 0;
  }
#else
  (void) n;
#endif
  return inert (s + start, m);
}

#endif
