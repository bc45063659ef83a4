/* gzip's CRC-32 for zinflate.c's check of a member's trailer: zlib's crc32, faster where
 * the processor multiplies without carries. zlib 1.2.13's crc32 takes ~4 instructions a
 * byte, 14% of inflating the benchmark's coded bodies (~1.8 KB each); folding takes ~0.3.
 *
 * Header only, everything static: zinflate.c, which includes it, is compiled into three
 * extensions, each keeping its own copy. */

#ifndef ZCRC_H
#define ZCRC_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ZCRC_FOLD 1

/* a ^ the two 64-bit halves of x times k's (the low one by k's low, the high one by k's
 * high): one fold of 128 bits */
#define ZCRC_STEP(x, k, a)                                                                  \
  _mm_xor_si128 (_mm_xor_si128 (_mm_clmulepi64_si128 (x, k, 0x11),                          \
                                _mm_clmulepi64_si128 (x, k, 0x00)), a)
#define ZCRC_AT(p) _mm_loadu_si128 ((const __m128i *) (p))

/* The CRC register (the CRC inverted) after p[:n], n a multiple of 16 and at least 64,
 * from register value reg: 16-byte blocks folded by carry-less multiplication four at a
 * time, then one at a time, then Barrett's reduction to 32 bits, as in Intel's "Fast CRC
 * Computation for Generic Polynomials Using PCLMULQDQ Instruction" (2009) with its
 * constants for gzip's bit-reflected polynomial (zlib-ng and Chromium's zlib compute it
 * so). tests/parse/test_encoding.py checks gzip bodies of many lengths and offsets. */
__attribute__ ((target ("pclmul,sse4.1"))) static uint32_t zcrc_fold (const uint8_t *p,
                                                                        size_t n, uint32_t reg)
{
  const __m128i k1k2 = _mm_set_epi64x (0x01c6e41596, 0x0154442bd4),
                k3k4 = _mm_set_epi64x (0x00ccaa009e, 0x01751997d0),
                k5 = _mm_set_epi64x (0, 0x0163cd6124),
                poly = _mm_set_epi64x (0x01f7011641, 0x01db710641),
                low32 = _mm_setr_epi32 (~0, 0, ~0, 0);
  __m128i x1 = _mm_xor_si128 (ZCRC_AT (p), _mm_cvtsi32_si128 ((int) reg)),
          x2 = ZCRC_AT (p + 16), x3 = ZCRC_AT (p + 32), x4 = ZCRC_AT (p + 48);
  for (p += 64, n -= 64; n >= 64; p += 64, n -= 64)
  {
    x1 = ZCRC_STEP (x1, k1k2, ZCRC_AT (p));
    x2 = ZCRC_STEP (x2, k1k2, ZCRC_AT (p + 16));
    x3 = ZCRC_STEP (x3, k1k2, ZCRC_AT (p + 32));
    x4 = ZCRC_STEP (x4, k1k2, ZCRC_AT (p + 48));
  }
  x1 = ZCRC_STEP (ZCRC_STEP (ZCRC_STEP (x1, k3k4, x2), k3k4, x3), k3k4, x4);
  for (; n >= 16; p += 16, n -= 16)
    x1 = ZCRC_STEP (x1, k3k4, ZCRC_AT (p));
  x1 = _mm_xor_si128 (_mm_srli_si128 (x1, 8), _mm_clmulepi64_si128 (x1, k3k4, 0x10));
  x1 = _mm_xor_si128 (_mm_clmulepi64_si128 (_mm_and_si128 (x1, low32), k5, 0x00),
                      _mm_srli_si128 (x1, 4));
  __m128i q = _mm_and_si128 (
    _mm_clmulepi64_si128 (_mm_and_si128 (x1, low32), poly, 0x10), low32);
  x1 = _mm_xor_si128 (x1, _mm_clmulepi64_si128 (q, poly, 0x00));
  return (uint32_t) _mm_extract_epi32 (x1, 1);
}
#endif

/* crc32(crc, p, n), as zlib computes it: the 16-byte blocks folded where the processor
 * can (pclmul and SSE4.1, asked once), the rest by zlib. */
static uint32_t zs_crc32 (uint32_t crc, const uint8_t *p, size_t n)
{
#ifdef ZCRC_FOLD
  static int can = -1;
  if (can < 0)
    can = __builtin_cpu_supports ("pclmul") && __builtin_cpu_supports ("sse4.1");
  if (can && n >= 64)
  {
    size_t blocks = n & ~(size_t) 15;
    crc = ~zcrc_fold (p, blocks, ~crc);
    p += blocks;
    n -= blocks;
  }
#endif
  return (uint32_t) crc32 (crc, p, (uInt) n);
}

#endif
