/* The byte tests of decoders.py that pick a decoder (Decoder._decode, _plausible, the
 * regular expressions _B64_RUN, _HEX_RUN and _FORM), for expand.c: each gives exactly the
 * Python test's answer (tests/detect/test_expand.py). */

#ifndef EGRESS_BYTETESTS_H
#define EGRESS_BYTETESTS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "words.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Each byte's classes, looked up rather than tested with chains of comparisons: these tests
 * run over every byte of every layer (the base64 runs in text above all). */
enum {
  C_TEXT = 1,  /* _printable's text: printable ASCII, tab, newline, carriage return */
  C_SPACE = 2, /* what bytes.strip() strips */
  C_B64 = 4,   /* _B64_RUN's class: A-Z a-z 0-9 + / _ - */
  C_HEX = 8,   /* 0-9 a-f A-F */
  C_NAME = 16, /* _FORM's name class [\w.%\[\]$-] (\w of bytes: ASCII letters, digits, _) */
};
#define C_ALNUM (C_TEXT | C_B64 | C_NAME)

static const unsigned char byte_class[256] = {
  ['\t'] = C_TEXT | C_SPACE, ['\n'] = C_TEXT | C_SPACE, ['\v'] = C_SPACE, ['\f'] = C_SPACE,
  ['\r'] = C_TEXT | C_SPACE, [' '] = C_TEXT | C_SPACE,
  ['!' ... '#'] = C_TEXT, ['$' ... '%'] = C_TEXT | C_NAME, ['&' ... '*'] = C_TEXT,
  ['+'] = C_TEXT | C_B64, [','] = C_TEXT, ['-'] = C_ALNUM, ['.'] = C_TEXT | C_NAME,
  ['/'] = C_TEXT | C_B64, ['0' ... '9'] = C_ALNUM | C_HEX, [':' ... '@'] = C_TEXT,
  ['A' ... 'F'] = C_ALNUM | C_HEX, ['G' ... 'Z'] = C_ALNUM, ['['] = C_TEXT | C_NAME,
  ['\\'] = C_TEXT, [']'] = C_TEXT | C_NAME, ['^'] = C_TEXT, ['_'] = C_ALNUM, ['`'] = C_TEXT,
  ['a' ... 'f'] = C_ALNUM | C_HEX, ['g' ... 'z'] = C_ALNUM, ['{' ... '~'] = C_TEXT,
};

static inline int text_byte (unsigned char c)
{
  return byte_class[c] & C_TEXT;
}

/* The high bit of each byte of v that is not text (text_byte): 0x7F and up, and the
   control bytes below 0x20 but tab, newline and carriage return. */
static inline uint64_t other_bytes (uint64_t v)
{
  uint64_t control = control_bytes (v)
      & ~(bytes_equal (v, '\t') | bytes_equal (v, '\n') | bytes_equal (v, '\r'));
  return (v & HIGHS) | bytes_equal (v, 0x7F) | control;
}

#ifdef __SSE2__
/* How many of b[0, n) (n a multiple of 16, at most 16 * 255) are not text (other_bytes),
   sixteen at a time: each not text adds one to its lane's count (0xFF is -1), the lanes
   summed once at the end (_mm_sad_epu8). */
static inline Py_ssize_t other_count16 (const unsigned char *b, Py_ssize_t n)
{
  const __m128i zero = _mm_setzero_si128 (), below_space = _mm_set1_epi8 (0x1F);
  __m128i counts = zero;
  for (Py_ssize_t i = 0; i < n; i += 16)
  {
    __m128i v = _mm_loadu_si128 ((const __m128i *) (b + i));
    __m128i control = _mm_cmpeq_epi8 (_mm_max_epu8 (v, below_space), below_space);
    __m128i spacing = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (v, _mm_set1_epi8 ('\t')),
        _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('\n'))), _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('\r')));
    __m128i high = _mm_or_si128 (_mm_cmplt_epi8 (v, zero),
        _mm_cmpeq_epi8 (v, _mm_set1_epi8 (0x7F)));
    counts = _mm_sub_epi8 (counts, _mm_or_si128 (_mm_andnot_si128 (spacing, control), high));
  }
  __m128i sums = _mm_sad_epu8 (counts, zero);
  return _mm_cvtsi128_si32 (sums) + _mm_cvtsi128_si32 (_mm_srli_si128 (sums, 8));
}
#endif

/* decoders._printable: the share of text bytes in the first 4096. Sixteen bytes at a time
   with SSE2 (in two halves of at most 16 * 128, within a lane's count), eight at a time for
   the rest: every layer the walk has no other decoder for is tested, most of them text. */
static inline double printable (const unsigned char *b, Py_ssize_t n)
{
  if (n == 0)
    return 0.0;
  Py_ssize_t head = n < 4096 ? n : 4096, other = 0, i = 0;
#ifdef __SSE2__
  while (head - i >= 16)
  {
    Py_ssize_t part = (head - i) & ~(Py_ssize_t) 15;
    part = part < 16 * 128 ? part : 16 * 128;
    other += other_count16 (b + i, part);
    i += part;
  }
#endif
  for (; i + 8 <= head; i += 8)
  {
    uint64_t o = other_bytes (load8 (b + i));
    /* how many high bits: each byte's as its low bit, the eight summed into the top byte
       by the multiply (at most 8, no carry out); __builtin_popcountll is a libgcc call
       without -mpopcnt */
    other += (Py_ssize_t) (((o >> 7) * ONES) >> 56);
  }
  for (; i < head; i++)
    other += !text_byte (b[i]);
  return 1.0 - (double) other / (double) head;
}

static inline int space (unsigned char c) /* bytes.strip()'s */
{
  return byte_class[c] & C_SPACE;
}

/* Whether b[0, n) is UTF-8 as CPython's strict decoder takes it (bytes.decode("utf-8")
   raises for anything else): Unicode's well-formed sequences (Table 3-7), so no overlong
   forms, no surrogates (ED A0-BF), nothing above U+10FFFF (F4 90+, F5-FF), no C0, C1, lone
   continuation bytes or sequences cut short. Checked in place: decoding made a str object
   only to throw it away, and an exception for every blob that was not UTF-8. */
static inline int utf8_valid (const unsigned char *b, Py_ssize_t n)
{
  Py_ssize_t i = 0;
  while (i < n)
  {
    unsigned char c = b[i];
    if (c < 0x80)
    {
      i++;
      continue;
    }
    /* the second byte's range; the third and fourth are 80-BF */
    unsigned char lo = 0x80, hi = 0xBF;
    int more;
    if (c >= 0xC2 && c <= 0xDF)
      more = 1;
    else if (c >= 0xE0 && c <= 0xEF)
    {
      more = 2;
      if (c == 0xE0)
        lo = 0xA0; /* overlong below U+0800 */
      else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    }
    else if (c >= 0xF0 && c <= 0xF4)
    {
      more = 3;
      if (c == 0xF0)
        lo = 0x90; /* overlong below U+10000 */
      else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    }
    else
      return 0; /* 80-C1 (a continuation, or overlong), F5-FF */
    if (more >= n - i || b[i + 1] < lo || b[i + 1] > hi)
      return 0;
    for (int k = 2; k <= more; k++)
      if ((b[i + k] & 0xC0) != 0x80)
        return 0;
    i += 1 + more;
  }
  return 1;
}

/* decoders._plausible. Its UTF-8 test only decides between printable shares of 0.6 and
   0.85: below, the answer is no whatever the bytes are, so they are not looked at. */
static inline int plausible (const unsigned char *b, Py_ssize_t n)
{
  if (n < 4)
    return 0;
  if ((b[0] == 0x1f && b[1] == 0x8b) || b[0] == 0x78)
    return 1;
  Py_ssize_t i = 0;
  while (i < n && space (b[i]))
    i++;
  if (i < n && (b[i] == '{' || b[i] == '['))
    return 1;
  double p = printable (b, n);
  if (p > 0.85)
    return 1;
  return p > 0.6 && utf8_valid (b, n);
}

static inline int b64_byte (unsigned char c) /* _B64_RUN's class */
{
  return byte_class[c] & C_B64;
}

#ifdef __SSE2__
/* Which of v's bytes are in [lo, hi] (unsigned), as 0xFF: those the clamp leaves alone. */
static inline __m128i bytes_within (__m128i v, unsigned char lo, unsigned char hi)
{
  __m128i clamped = _mm_min_epu8 (_mm_max_epu8 (v, _mm_set1_epi8 ((char) lo)),
      _mm_set1_epi8 ((char) hi));
  return _mm_cmpeq_epi8 (clamped, v);
}
#endif

/* How many of s[0, n)'s first bytes are of _B64_RUN's class. Sixteen at a time with SSE2:
   a base64 layer (a whole body, a decoded one's runs) is read to its end, and its bytes
   one by one were ~5 instructions each. The class: letters (c | 0x20 in a-z, which no
   other byte gives), '-' to '9' but '.' ('-' '/' and the digits), '+' and '_'. */
static inline Py_ssize_t b64_span (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t i = 0;
#ifdef __SSE2__
  while (i + 16 <= n)
  {
    __m128i v = _mm_loadu_si128 ((const __m128i *) (s + i));
    __m128i letter = bytes_within (_mm_or_si128 (v, _mm_set1_epi8 (0x20)), 'a', 'z');
    __m128i digit = _mm_andnot_si128 (_mm_cmpeq_epi8 (v, _mm_set1_epi8 ('.')),
        bytes_within (v, '-', '9'));
    __m128i sign = _mm_or_si128 (_mm_cmpeq_epi8 (v, _mm_set1_epi8 ('+')),
        _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('_')));
    unsigned in = (unsigned) _mm_movemask_epi8 (_mm_or_si128 (_mm_or_si128 (letter, digit),
        sign));
    if (in != 0xFFFF)
      return i + __builtin_ctz (~in);
    i += 16;
  }
#endif
  while (i < n && b64_byte (s[i]))
    i++;
  return i;
}

/* The next match of _B64_RUN.finditer in d[*at, n), the search children.c's text decoders
   and barren.c's test of a layer share: 1 with [*start, *end) its bytes of the class (24 or
   more) and *at past its padding (at most two '='), or 0 when none is left. A run of 24 or
   more from i holds d[i + 23], so where that is not of the class none starts before
   i + 24; where it is, none starts before the byte after the last one of i .. i + 22 that
   is not. Most bytes of text are then never looked at (i is always where a run could begin:
   at *at, after a byte that is not of the class, or after a run's padding). */
static inline int next_b64_run (const unsigned char *d, Py_ssize_t n, Py_ssize_t *at,
                                Py_ssize_t *start, Py_ssize_t *end)
{
  Py_ssize_t i = *at;
  while (i + 24 <= n)
  {
    if (!b64_byte (d[i + 23]))
    {
      i += 24;
      continue;
    }
    Py_ssize_t q = i + 23;
    while (q > i && b64_byte (d[q - 1]))
      q--;
    if (q > i)
    {
      i = q; /* d[q - 1] is not of the class */
      continue;
    }
    *start = i;
    i += 24;
    i += b64_span (d + i, n - i);
    *end = i;
    for (int pad = 0; pad < 2 && i < n && d[i] == '='; pad++)
      i++;
    *at = i;
    return 1;
  }
  *at = i;
  return 0;
}

/* _B64_RUN.fullmatch: 24 or more of the class, then at most two '='. */
static inline int b64_whole (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t i = b64_span (s, n);
  if (i < 24)
    return 0;
  Py_ssize_t pad = n - i;
  if (pad > 2)
    return 0;
  for (; i < n; i++)
    if (s[i] != '=')
      return 0;
  return 1;
}

static inline int hexdigit (unsigned char c)
{
  return byte_class[c] & C_HEX;
}

/* _HEX_RUN.fullmatch: 16 or more pairs of hex digits (the \b at both ends always hold). */
static inline int hex_whole (const unsigned char *s, Py_ssize_t n)
{
  if (n < 32 || n % 2)
    return 0;
  for (Py_ssize_t i = 0; i < n; i++)
    if (!hexdigit (s[i]))
      return 0;
  return 1;
}

static inline int name_byte (unsigned char c) /* _FORM's [\w.%\[\]$-] */
{
  return byte_class[c] & C_NAME;
}

/* How many of s[0, n)'s first bytes are of _FORM's name class. Sixteen at a time with SSE2:
   most layers form_whole is asked about are one long run of it (a session id, base64) that
   ends without an '='. The class: letters (c | 0x20 in a-z), digits, '$' '%', '-' '.', '['
   ']' and '_'. */
static inline Py_ssize_t name_span (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t i = 0;
#ifdef __SSE2__
  while (i + 16 <= n)
  {
    __m128i v = _mm_loadu_si128 ((const __m128i *) (s + i));
    __m128i letter = bytes_within (_mm_or_si128 (v, _mm_set1_epi8 (0x20)), 'a', 'z');
    __m128i digit = bytes_within (v, '0', '9');
    __m128i sign = _mm_or_si128 (bytes_within (v, '$', '%'), bytes_within (v, '-', '.'));
    __m128i mark = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (v, _mm_set1_epi8 ('[')),
        _mm_cmpeq_epi8 (v, _mm_set1_epi8 (']'))), _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('_')));
    unsigned in = (unsigned) _mm_movemask_epi8 (_mm_or_si128 (_mm_or_si128 (letter, digit),
        _mm_or_si128 (sign, mark)));
    if (in != 0xFFFF)
      return i + __builtin_ctz (~in);
    i += 16;
  }
#endif
  while (i < n && name_byte (s[i]))
    i++;
  return i;
}

/* _FORM.match: '&'-separated parts, each a non-empty name of the class, '=', anything. */
static inline int form_whole (const unsigned char *s, Py_ssize_t n)
{
  Py_ssize_t i = 0;
  for (;;)
  {
    Py_ssize_t start = i;
    i += name_span (s + i, n - i);
    if (i == start || i == n || s[i] != '=')
      return 0;
    const unsigned char *amp = memchr (s + i, '&', (size_t) (n - i));
    if (amp == NULL)
      return 1;
    i = amp - s + 1; /* past the '&' */
  }
}

#endif
