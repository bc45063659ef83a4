/* zs_stream's answer for a whole stream through libdeflate, where libdeflate's success
 * proves what zlib would answer (see zinflate.h).
 *
 * libdeflate decodes a whole buffer faster than zlib's inflate (it builds its tables faster
 * and copies matches a word at a time: the benchmark's gzip bodies of a kilobyte or two
 * take ~34,000 instructions each with the checks below, ~48,000 with zlib), but it accepts
 * some streams zlib refuses, and decodes them: in 1.14, code length repeats that overrun
 * the lengths, more than 286 length or 30 distance symbols, literal/length symbols 286 and
 * 287 (as a length of 258) and distance symbols 30 and 31 (which a fixed block can name),
 * and the unused codeword of a one-codeword code (zlib accepts such a code and refuses
 * that codeword; libdeflate gives both codewords the symbol, and decodes a distance with
 * an empty distance code). So it is used only where none of these can occur, checked before
 * decoding:
 *   - the stream is stored blocks then a final block, which is stored or dynamic (where a
 *     Huffman block ends, and so where the next one's header is, only decoding finds);
 *   - that dynamic block's header is one zlib accepts (at most 286 and 30 symbols, a
 *     complete code for the lengths, repeats within them) and its
 *     literal/length and distance codes are complete: every codeword then names a symbol
 *     below 286 and 30, which both decoders give the same meaning;
 *   - the wrapping is parsed here as zlib parses it (gzip without a header CRC, or zlib
 *     without a preset dictionary), and its trailer checked here as zlib checks it.
 * A valid stream has one decoding, so both decoders then give the same bytes and end at the
 * same place; libdeflate's checks of distances against the output so far are zlib's.
 * Everything else, and every failure (an error, output that does not fit, a wrong check, a
 * gzip member followed by more than NULs), goes to zlib's steps unchanged: notes, cuts and
 * budgets are theirs. Output is kept below the budget, where zlib's steps never cut.
 * tests/parse/test_inflate_whole.py builds streams of each kind above bit by bit. */

#include "zinflate.h"
#include "../detect/words.h" /* load8 */

#include <libdeflate.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

/* The input's bits, least significant first, as deflate packs them */
typedef struct
{
  const uint8_t *p, *end;
  uint64_t bits; /* past `have`, the next bits of the input or zeros */
  unsigned have;
  unsigned over; /* zero bytes fill_past put past the input's end */
} Bits;

/* At least 56 bits held, or all the input's: a word at a time where eight bytes are left
 * (the bits past `have` are those the next refill puts there again) */
static inline void fill (Bits *b)
{
  if (b->end - b->p >= 8)
  {
    b->bits |= load8 (b->p) << b->have;
    b->p += (63 - b->have) >> 3;
    b->have |= 56;
  }
  else
    for (; b->have <= 56 && b->p < b->end; b->have += 8)
      b->bits |= (uint64_t) *b->p++ << b->have;
}

/* fill, and past the input's end zero bytes, counted in b->over: at least 56 bits held
 * (the bits past the input's end are zeros already) */
static inline void fill_past (Bits *b)
{
  fill (b);
  if (b->p == b->end)
    for (; b->have <= 56; b->have += 8)
      b->over++;
}

/* the next k bits, k at most `have` */
static inline unsigned take (Bits *b, unsigned k)
{
  unsigned v = (unsigned) (b->bits & ((1u << k) - 1));
  b->bits >>= k;
  b->have -= k;
  return v;
}

/* Whether the bits taken so far were all the input's (none of fill_past's zeros past its
 * end): a header cut short is refused here, whatever libdeflate would make of it */
static inline int within (const Bits *b)
{
  return b->have >= 8 * b->over;
}

/* A code's lengths form a complete prefix code exactly when their Kraft sum, the sum of
 * 2^-len over its codewords, is 1: kraft[len] is 2^(15 - len), and the sum is 2^15 (2^7 for
 * the code lengths' code). An over-subscribed code (zlib refuses it) sums to more, an
 * incomplete one (those zlib accepts are those libdeflate decodes otherwise) to less. A
 * sum in a register costs less than a count per length and a walk over the counts. */
static const uint16_t kraft[16] = {0, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64,
                                   32, 16, 8, 4, 2, 1};
static const uint8_t kraft7[8] = {0, 64, 32, 16, 8, 4, 2, 1};

/* rev7[x]: x's seven bits in reverse order (deflate sends a codeword's first bit first) */
static uint8_t rev7[128];

/* A dynamic block's header after its first three bits: 1 when zlib accepts it and its two
 * codes are complete (see the top). The input is read as if zeros followed it, and a
 * header that needs them refused at the end (`within`): its lengths decode no differently
 * up to there, and each step needs no test of the bits left. Its bits are the caller's
 * copy, so that they stay in registers. */
static int dynamic_ok (Bits b)
{
  static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2,
                                    14, 1, 15};
  fill_past (&b);
  unsigned nlen = 257 + take (&b, 5), ndist = 1 + take (&b, 5), ncode = 4 + take (&b, 4);
  if (nlen > 286 || ndist > 30)
    return 0;
  uint8_t pre[19] = {0};
  unsigned count[8] = {0}, sum = 0, seen = 0; /* seen: a bit for each length read */
  for (unsigned i = 0; i < ncode; i++)
  {
    if (b.have < 3)
      fill_past (&b);
    unsigned len = take (&b, 3);
    pre[order[i]] = (uint8_t) len;
    count[len]++;
    sum += kraft7[len];
    seen |= 1u << len;
  }
  if (sum != 128)
    return 0;
  /* the code lengths' code, canonical, looked up by its next `most` bits (its longest
   * codeword's length): complete, so every entry of the 2^most is filled */
  if (rev7[1] == 0)
    for (unsigned x = 0; x < 128; x++)
      for (unsigned i = 0; i < 7; i++)
        rev7[x] |= (uint8_t) ((x >> i & 1) << (6 - i));
  unsigned most = 31 - (unsigned) __builtin_clz (seen);
  unsigned size = 1u << most, mask = size - 1;
  uint32_t table[128]; /* length | symbol << 8 | the length's Kraft term << 16 */
  unsigned next[8];
  count[0] = 0;
  for (unsigned len = 1, code = 0; len <= most; len++)
    next[len] = code = (code + count[len - 1]) << 1;
  for (unsigned s = 0; s < 19; s++)
  {
    unsigned len = pre[s];
    uint32_t e = len | s << 8 | (uint32_t) (s < 16 ? kraft[s] : 0) << 16;
    if (len != 0)
      for (unsigned j = rev7[next[len]++ << (7 - len)]; j < size; j += 1u << len)
        table[j] = e;
  }
  /* the lengths' Kraft sum as they come, the literal/length code's kept in lit once i
   * reaches nlen (a repeat may go on into the distance code's), the last length's term
   * kept for a repeat */
  unsigned total = nlen + ndist, i = 0, last = 0, lit = 0;
  sum = 0;
  while (i < total)
  {
    if (b.have < 7 + 7)
      fill_past (&b);
    uint32_t e = table[b.bits & mask];
    unsigned sym = e >> 8 & 0xff;
    take (&b, e & 0xff);
    if (sym < 16)
    {
      sum += last = e >> 16;
      i++;
    }
    else
    {
      if (sym == 16 && i == 0) /* nothing to repeat: both refuse it */
        return 0;
      unsigned rep = sym == 16 ? 3 + take (&b, 2) : sym == 17 ? 3 + take (&b, 3)
                                                              : 11 + take (&b, 7);
      if (sym != 16)
        last = 0;
      if (rep > total - i) /* zlib: "invalid bit length repeat"; libdeflate overruns */
        return 0;
      if (i < nlen && rep > nlen - i) /* across from one code to the other */
      {
        lit = sum + (nlen - i) * last;
        sum = 0;
        rep -= nlen - i;
        i = nlen;
      }
      sum += rep * last;
      i += rep;
    }
    if (i == nlen)
    {
      lit = sum;
      sum = 0;
    }
  }
  /* (a complete code without the end-of-block symbol, which zlib refuses, libdeflate can
   * never finish decoding) */
  return within (&b) && lit == 32768 && sum == 32768;
}

/* in[0..n), a raw deflate stream: 1 when it is stored blocks then a final block that is
 * stored or a dynamic one dynamic_ok accepts */
static int blocks_ok (const uint8_t *in, Py_ssize_t n)
{
  Bits b = {in, in + n, 0, 0};
  for (;;)
  {
    fill (&b);
    if (b.have < 3)
      return 0;
    unsigned final = take (&b, 1), type = take (&b, 2);
    if (type == 2)
      return final && dynamic_ok (b);
    if (type != 0) /* fixed codes can name symbols 286, 287, 30 and 31 */
      return 0;
    take (&b, b.have % 8); /* to the byte boundary, the whole bytes held given back */
    b.p -= b.have / 8;
    b.bits = 0;
    b.have = 0;
    if (b.end - b.p < 4)
      return 0;
    unsigned len = b.p[0] | b.p[1] << 8, nlen = b.p[2] | b.p[3] << 8;
    if (len != (~nlen & 0xffff) || b.end - b.p - 4 < (Py_ssize_t) len)
      return 0;
    b.p += 4 + len;
    if (final)
      return 1;
  }
}

/* Where the deflate data of a gzip member at in[0..n) starts, its header read as inflate
 * reads it; -1 for a header zlib would refuse or that is cut short, or that has a CRC of
 * its own (inflate checks it; not worth doing here) */
static Py_ssize_t gzip_start (const uint8_t *in, Py_ssize_t n)
{
  if (n < 10 || in[0] != 0x1f || in[1] != 0x8b || in[2] != Z_DEFLATED || (in[3] & 0xe2))
    return -1;
  Py_ssize_t p = 10;
  if (in[3] & 0x04) /* FEXTRA: its length, then as many bytes */
  {
    if (n - p < 2)
      return -1;
    p += 2 + (in[p] | in[p + 1] << 8);
    if (p > n)
      return -1;
  }
  for (int flag = 0x08; flag <= 0x10; flag <<= 1) /* FNAME, FCOMMENT: to a NUL */
    if (in[3] & flag)
    {
      const uint8_t *nul = memchr (in + p, 0, (size_t) (n - p));
      if (nul == NULL)
        return -1;
      p = nul - in + 1;
    }
  return p;
}

/* Where a zlib stream's deflate data starts: 2, or -1 for a header inflate refuses with
 * windowBits 15 or one naming a preset dictionary */
static Py_ssize_t zlib_start (const uint8_t *in, Py_ssize_t n)
{
  if (n < 2 || (in[0] << 8 | in[1]) % 31 || (in[0] & 15) != Z_DEFLATED || (in[0] >> 4) > 7
      || (in[1] & 0x20))
    return -1;
  return 2;
}

static uint32_t le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint32_t be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

/* One decompressor kept (its tables, ~11 KB); a call while it decodes in another thread
 * (the GIL released) takes zlib's steps */
static struct libdeflate_decompressor *kept;
static int kept_busy;

/* in[0..n) decoded by libdeflate into a new bytes of cap bytes, *buf: libdeflate's result,
 * with the bytes it read and wrote; -1 with an exception (no memory) */
static int decode (const uint8_t *in, Py_ssize_t n, Py_ssize_t cap, PyObject **buf,
                   size_t *used, size_t *got)
{
  *buf = PyBytes_FromStringAndSize (NULL, cap > 0 ? cap : 1);
  if (*buf == NULL)
    return -1;
  uint8_t *o = (uint8_t *) PyBytes_AS_STRING (*buf);
  enum libdeflate_result r;
  kept_busy = 1;
  if (n >= ZS_UNLOCKED || cap >= 4 * ZS_UNLOCKED) /* as zinflate.c's feed: others run */
  {
    Py_BEGIN_ALLOW_THREADS
    r = libdeflate_deflate_decompress_ex (kept, in, (size_t) n, o, (size_t) cap, used, got);
    Py_END_ALLOW_THREADS
  }
  else
    r = libdeflate_deflate_decompress_ex (kept, in, (size_t) n, o, (size_t) cap, used, got);
  kept_busy = 0;
  return (int) r;
}

int zs_whole (const unsigned char *in, Py_ssize_t n, int wbits, Py_ssize_t budget,
              Py_ssize_t max_members, PyObject **out)
{
  Py_ssize_t p = wbits == 16 + MAX_WBITS ? gzip_start (in, n)
                 : wbits == MAX_WBITS    ? zlib_start (in, n)
                 : wbits == -MAX_WBITS   ? 0
                                         : -1;
  if (p < 0 || budget < 1 || kept_busy || !blocks_ok (in + p, n - p))
    return 0;
  if (kept == NULL && (kept = libdeflate_alloc_decompressor ()) == NULL)
    return 0;
  /* Room for the output: below the budget, and at most what deflate can give (258 bytes
   * for every two bits, and a literal) */
  Py_ssize_t deflated = n - p, room = budget - 1;
  if (deflated < (PY_SSIZE_T_MAX - 258) / 1032 && room > deflated * 1032 + 258)
    room = deflated * 1032 + 258;
  /* a gzip member that ends the input says its length in its last four bytes; a zlib or raw
   * one is guessed at (JSON takes a tenth or so), and given the room if that was short */
  int gzip = wbits == 16 + MAX_WBITS;
  Py_ssize_t cap = room;
  if (gzip)
  {
    if (n - p < 8 || (Py_ssize_t) le32 (in + n - 4) > room)
      return 0;
    cap = le32 (in + n - 4);
  }
  else if (deflated < room / 16 - 4096)
    cap = deflated * 16 + 4096;
  PyObject *buf;
  size_t used, got;
  int r = decode (in + p, deflated, cap, &buf, &used, &got);
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE && !gzip && cap < room)
  {
    Py_DECREF (buf);
    r = decode (in + p, deflated, room, &buf, &used, &got);
  }
  if (r < 0)
    return -1;
  if (r != LIBDEFLATE_SUCCESS)
    goto zlib;
  const uint8_t *o = (const uint8_t *) PyBytes_AS_STRING (buf);
  Py_ssize_t end = p + (Py_ssize_t) used;
  if (wbits == MAX_WBITS) /* Adler-32, most significant byte first */
  {
    if (n - end < 4 || libdeflate_adler32 (1, o, got) != be32 (in + end))
      goto zlib;
  }
  else if (gzip) /* CRC-32 and length; then NULs or nothing, or zlib's steps go on */
  {
    if (n - end < 8 || zs_trailer_error (in + end, o, got) != NULL)
      goto zlib;
    end += 8;
    if (max_members >= 1 && !zs_all_nul (in + end, n - end < 64 ? n - end : 64))
      goto zlib;
  }
  if (_PyBytes_Resize (&buf, (Py_ssize_t) got) < 0)
    return -1;
  *out = buf;
  return 1;
zlib:
  Py_DECREF (buf);
  return 0;
}
