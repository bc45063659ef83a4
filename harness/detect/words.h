/* Eight bytes at a time: tests on a 64-bit word of a byte string that give, for each of its
 * bytes, the same answer as a test of that byte alone, in the byte's high bit (no carry
 * crosses from one byte to the next). jsonparse.c's string and number scans and
 * bytetests.h's printable share read most of the detector's bytes this way. */

#ifndef EGRESS_WORDS_H
#define EGRESS_WORDS_H

#include <stdint.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "words.h reads eight bytes as a little-endian word: the first byte is the lowest"
#endif

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t load8 (const unsigned char *s)
{
  uint64_t v;
  memcpy (&v, s, 8);
  return v;
}

/* The high bit of each byte of v that is zero, and of no other. */
static inline uint64_t zero_bytes (uint64_t v)
{
  const uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;
  return ~(((v & low7) + low7) | v | low7);
}

/* The high bit of each byte of v below 0x20 (a C0 control), and of no other. */
static inline uint64_t control_bytes (uint64_t v)
{
  return zero_bytes (v & (ONES * 0xE0));
}

/* The high bit of each byte of v equal to c. */
static inline uint64_t bytes_equal (uint64_t v, unsigned char c)
{
  return zero_bytes (v ^ (ONES * c));
}

#endif
