/* The JSON layers the walk need not read (children.c): a layer that matched nothing, whose
 * bytes give no decoder anything to open, yields no finding, no note and no layer but its
 * leaves, which yield nothing either. A third of the 20 MB bench run's JSON bytes are such
 * layers, and parsing them and walking their leaves was most of their cost; this one pass
 * over their bytes costs a tenth of the parse.
 *
 * The proof, for a layer d[0, n) of the JSON branch (bytes.strip() of it starts with '{'
 * or '[' and ends with '}' or ']'), that matched nothing in the Scanner's scan (whose
 * patterns are literals and whose every occurrence is a hit), with no transform hook,
 * above the depth limit's last level, when json_barren says so:
 *
 *   - every byte is text (printable ASCII, tab, newline, carriage return) and none is a
 *     backslash: every string of the document is a span of d, the same bytes in every leaf
 *     (json.loads decodes nothing, and the C walk takes them as they are), so no leaf can
 *     match (it would have been a hit of d) or is scanned (children.c's unmatched); a key
 *     needs no escape and is ASCII, so the C walk's only hand-backs left are a duplicate
 *     key, NaN or Infinity, or nesting deeper than MAX_DEPTH, after which the Python walk
 *     (json.loads, or RecursionError: not JSON) finds the same nothing in the same strings;
 *   - with no match in d the walk keeps no number, nor any inert string (the hot filter of
 *     both walks), and a kept string leaf opens no decoder: not gzip (0x1f is not text),
 *     nor zlib (no '"' followed by 'x' and a byte that makes the pair a zlib header), nor
 *     JSON (no '"' followed by whitespace and '{' or '['), nor a form (no '=' after a
 *     name of _FORM's class that follows a '"' and whitespace), nor protobuf (its text
 *     share is 1), nor base64 or hex, whole or runs in text (every run of 24 or more of
 *     _B64_RUN's class in d, with its padding, is decoded as children.c would decode it,
 *     and none is plausible; nor is any run of 32 or more hex digits as hex): a run in a
 *     leaf is a run of d, as '"' is of neither class;
 *   - should the document not be JSON, the layer's other decoders find nothing in it for
 *     the same reasons (a form at its start is the '=' test's too).
 *
 * The leaves still count in the budget (a note says how many layers and bytes were taken):
 * the walk cannot tell how many there would have been without reading them, so it counts
 * what they may have been, one layer for each two '"' and d's bytes, and hands the message
 * back whenever a limit could have been reached within those bounds (expand.c's walk_root,
 * children.c's inflate limit). tests/detect/test_barren.py compares the rule with the
 * Python walk of each layer it holds for.
 */

#include "expand.h"
#include "b64.h"
#include "bytetests.h"

/* After the '"' at d[q]: a leaf that would open zlib or JSON. */
static int opens (const unsigned char *d, Py_ssize_t n, Py_ssize_t q)
{
  Py_ssize_t j = q + 1;
  if (j + 1 < n && d[j] == 0x78 && ((0x78 << 8) | d[j + 1]) % 31 == 0)
    return 1;
  while (j < n && space (d[j]))
    j++;
  return j < n && (d[j] == '{' || d[j] == '[');
}

/* The '=' at d[e] ends a form's first name: name bytes before it that begin d (after
   whitespace) or a string. */
static int form_at (const unsigned char *d, Py_ssize_t e)
{
  Py_ssize_t j = e - 1;
  while (j >= 0 && name_byte (d[j]))
    j--;
  if (j == e - 1)
    return 0;
  while (j >= 0 && space (d[j]))
    j--;
  return j < 0 || d[j] == '"';
}

/* The bytes test at d[i] (its next two bytes read only within n): -1 the layer is not
   barren, else how many '"' (0 or 1). */
static int byte_at (const unsigned char *d, Py_ssize_t n, Py_ssize_t i)
{
  unsigned char c = d[i];
  if (!text_byte (c) || c == '\\')
    return -1;
  if (c == '"')
    return opens (d, n, i) ? -1 : 1;
  return c == '=' && form_at (d, i) ? -1 : 0;
}

/* Whether what a base64 run decodes to, size bytes of which o[0, k) are the first (k >= 4096),
   may be plausible(): its first bytes or its text share say so, or it is near enough for
   the UTF-8 test of all of it to decide. */
static int may_be_plausible (const unsigned char *o, Py_ssize_t k, Py_ssize_t size)
{
  if (size < 4)
    return 0;
  if (o[0] == 0x1f || o[0] == 0x78)
    return 1;
  Py_ssize_t i = 0;
  while (i < k && space (o[i]))
    i++;
  if (i == k || o[i] == '{' || o[i] == '[')
    return 1;
  return printable (o, k) > 0.6;
}

/* Whether a run of 24 or more of _B64_RUN's class, d[start, end) then its padding to stop,
   may open a decoder in a leaf it is the whole of or a run in: 1 yes, 0 no, -1 no memory.
   Only what plausible() reads first is decoded: a blob that is not barren often says so in
   its first bytes (base64 of JSON), and text in the first 4096. */
static int run_opens (Ctx *cx, const unsigned char *d, Py_ssize_t start, Py_ssize_t end,
    Py_ssize_t stop)
{
  Py_ssize_t size = b64_size_if_valid (d + start, stop - start);
  if (size >= 0) /* the run's bytes are all base64 characters: it decodes */
  {
    Py_ssize_t k = size < 4098 ? size : 4098; /* whole groups, or all */
    unsigned char *o = walk_scratch (cx, k);
    if (o == NULL)
      return -1;
    /* its first group first: base64 of JSON or of a zlib stream says so there */
    if (size >= 4 && b64_decode_valid (d + start, 3, o)
        && (o[0] == '{' || o[0] == '[' || o[0] == 0x1f || o[0] == 0x78))
      return 1;
    if (!b64_decode_valid (d + start, k, o)
        || (k == size ? plausible (o, size) : may_be_plausible (o, k, size)))
      return 1;
  }
  Py_ssize_t k = end - start;
  if (k < 32 || k % 2 || stop > end)
    return 0;
  for (Py_ssize_t i = start; i < end; i++)
    if (!hexdigit (d[i]))
      return 0;
  unsigned char *o = walk_scratch (cx, k / 2); /* hex_whole's decoding, children.c's */
  if (o == NULL)
    return -1;
  for (Py_ssize_t i = 0; i < k; i += 2)
  {
    const unsigned char *h = d + start + i;
    int hi = h[0] <= '9' ? h[0] - '0' : (h[0] | 0x20) - 'a' + 10;
    int lo = h[1] <= '9' ? h[1] - '0' : (h[1] | 0x20) - 'a' + 10;
    o[i / 2] = (unsigned char) (hi << 4 | lo);
  }
  return plausible (o, k / 2);
}

/* The runs children.c's search for base64 in text finds in d (the same search,
   bytetests.h next_b64_run): 1 one may open a decoder, 0 none, -1 no memory. */
static int runs_open (Ctx *cx, const unsigned char *d, Py_ssize_t n)
{
  Py_ssize_t at = 0, start, end;
  while (next_b64_run (d, n, &at, &start, &end))
  {
    int r = run_opens (cx, d, start, end, at);
    if (r != 0)
      return r;
  }
  return 0;
}

int json_barren (Ctx *cx, const unsigned char *d, Py_ssize_t n, Py_ssize_t *strings)
{
  /* the runs first: a document with a blob in it (base64 of JSON) is seldom barren, and
     is told so without reading the rest */
  int r = runs_open (cx, d, n);
  if (r != 0)
    return r < 0 ? -1 : 0;
  Py_ssize_t quotes = 0, i = 0;
#ifdef __SSE2__
  /* sixteen bytes at a time, the byte after each read from the load after it; a block
     with a byte that is not text but printable ASCII, or a '\\', a '"' followed by what may
     open a leaf's decoder, or an '=', is looked at byte by byte (few are) */
  const __m128i zero = _mm_setzero_si128 (), lower = _mm_set1_epi8 (0x20);
  __m128i counts = zero; /* each lane's '"', summed every 255 blocks at most */
  int lanes = 0;
  for (; i + 17 <= n; i += 16)
  {
    __m128i v = _mm_loadu_si128 ((const __m128i *) (d + i));
    __m128i v1 = _mm_loadu_si128 ((const __m128i *) (d + i + 1));
    /* 0x20 to 0x7E (signed: above 0x1F, and not 0x7F) but '\\' */
    __m128i plain = _mm_andnot_si128 (_mm_cmpeq_epi8 (v, _mm_set1_epi8 ('\\')),
        _mm_xor_si128 (_mm_cmpgt_epi8 (v, _mm_set1_epi8 (0x1F)),
            _mm_cmpeq_epi8 (v, _mm_set1_epi8 (0x7F))));
    __m128i quote = _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('"'));
    /* after it: whitespace (up to ' '), '{' or '[' (0x7B or 0x5B), 'x' (or 'X') */
    __m128i folded = _mm_or_si128 (v1, lower);
    __m128i next = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (folded, _mm_set1_epi8 ('{')),
        _mm_cmpeq_epi8 (folded, _mm_set1_epi8 ('x'))),
        _mm_cmpeq_epi8 (_mm_max_epu8 (v1, lower), lower));
    unsigned look = (unsigned) _mm_movemask_epi8 (_mm_or_si128 (_mm_and_si128 (quote, next),
        _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('='))));
    look |= ~(unsigned) _mm_movemask_epi8 (plain) & 0xFFFF;
    for (; look != 0; look &= look - 1)
      if (byte_at (d, n, i + __builtin_ctz (look)) < 0)
        return 0;
    counts = _mm_sub_epi8 (counts, quote);
    if (++lanes == 255)
    {
      __m128i sums = _mm_sad_epu8 (counts, zero);
      quotes += _mm_cvtsi128_si32 (sums) + _mm_cvtsi128_si32 (_mm_srli_si128 (sums, 8));
      counts = zero;
      lanes = 0;
    }
  }
  __m128i sums = _mm_sad_epu8 (counts, zero);
  quotes += _mm_cvtsi128_si32 (sums) + _mm_cvtsi128_si32 (_mm_srli_si128 (sums, 8));
#endif
  for (; i < n; i++)
  {
    int q = byte_at (d, n, i);
    if (q < 0)
      return 0;
    quotes += q;
  }
  *strings = (quotes + 1) / 2;
  return 1;
}

PyObject *detect_barren (PyObject *self, PyObject *args)
{
  const unsigned char *d;
  Py_ssize_t n, strings = 0;
  Ctx cx;
  (void) self;
  if (!PyArg_ParseTuple (args, "y#", &d, &n))
    return NULL;
  memset (&cx, 0, sizeof cx);
  int r = json_barren (&cx, d, n, &strings);
  walk_free (&cx);
  if (r < 0)
    return PyErr_NoMemory ();
  return r ? PyLong_FromSsize_t (strings) : Py_NewRef (Py_None);
}
