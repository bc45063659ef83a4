/* repr() of a finite float, byte for byte: Python's (and json's) is the shortest decimal
 * that reads back as the same double, the nearest to it of those, ties to an even last
 * digit (dtoa.c's mode 0), written as fixed notation between 1e-4 and 1e16.
 * PyOS_double_to_string works it out with dtoa's big integers every time, ~5,000
 * instructions: a third of a findings.json line, whose "t" is a timestamp.
 *
 * For 1 <= |x| < 2**52 (a timestamp, a duration in seconds), the same answer in 128-bit
 * integers: x = M * 2**e with 2**52 <= M < 2**53 and -52 <= e <= -1, so the doubles that
 * read back as x are those of [x - d, x + d], d = 2**(e - 1) (half the gap to each
 * neighbour), whose ends, like x, are integers over 2**s, s = 1 - e: for q = 0, 1...
 * fractional digits, the decimals k / 10**q in it are the integers k in
 * [(2M - 1) * 10**q, (2M + 1) * 10**q] / 2**s. The first q with one (found from the q
 * where the interval is 1 wide down: fraction_repr) is the shortest (q
 * digits after the point; the integer part is the same for all of them, or one would end in
 * 0 and have been found at q - 1), and of those the nearest to x, rounded half to even, is
 * dtoa's. Two things dtoa minds do not arise here: an end of the interval (a decimal there
 * reads as the even neighbour) has 1 - e fractional digits, and there is a candidate by
 * q = -e, where the interval is 5**q wide; and a power of two (the gap below half as wide)
 * is an integer, its own candidate at q = 0. Every product stays below 2**111. Any other
 * double goes to PyOS_double_to_string. tests/detect/test_outjson.py compares the two on
 * generated doubles and the edges. */

#include "floatrepr.h"

#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;

/* 10**i, i <= 17 */
static const uint64_t POW10[18] = {
  1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
  1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
  100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
};

/* Two digits each, "00" to "99" */
static const char PAIRS[] = "00010203040506070809101112131415161718192021222324252627282930313233"
  "34353637383940414243444546474849505152535455565758596061626364656667686970717273747576"
  "7778798081828384858687888990919293949596979899";

/* The last n digits of v (leading zeros kept) written before end, two at a time */
static void put_digits (char *end, uint64_t v, int n)
{
  for (; n >= 2; n -= 2, v /= 100)
    end -= 2, memcpy (end, PAIRS + 2 * (v % 100), 2);
  if (n)
    end[-1] = (char) ('0' + v % 10);
}

/* The fast path's repr of M * 2**e (sign apart), or 0 where it does not apply. The first q
   with a candidate is found without trying each q from 0 in 128 bits (~100 instructions a
   try, and a timestamp's repr has 7 fractional digits): at qmax, the first q where the
   interval is at least 1 wide, there is one, and [kmin, kmax] there fit in 64 bits (below
   10 * 2**53); at q <= qmax there is one exactly where a multiple of 10**(qmax - q) is in
   [kmin, kmax], which holds at q if it holds at q - 1. Then the nearest at that q, as
   before. */
static int fraction_repr (uint64_t M, int e, char *out)
{
  /* qmax from (s - 1) * log10(2) (1233 / 4096 is a little less), then up to where
     2 * 10**q / 2**s >= 1 (s - 1 <= 52) */
  int s = 1 - e, qmax = ((s - 1) * 1233) >> 12;
  u128 centre = (u128) M << 1, low = centre - 1, high = centre + 1, S = (u128) 1 << s;
  while (POW10[qmax] < (UINT64_C (1) << (s - 1)))
    qmax++;
  uint64_t kmin = (uint64_t) ((low * POW10[qmax] + S - 1) >> s);
  uint64_t kmax = (uint64_t) ((high * POW10[qmax]) >> s);
  int q = qmax;
  while (q > 0 && (kmin + POW10[qmax - q + 1] - 1) / POW10[qmax - q + 1]
                    <= kmax / POW10[qmax - q + 1])
    q--;
  u128 p = POW10[q], C = centre * p, rem = C & (S - 1), half = S >> 1, k = C >> s;
  u128 lo = (low * p + S - 1) >> s, hi = (high * p) >> s;
  if (rem > half || (rem == half && (k & 1)))
    k++;
  k = k > hi ? hi : k < lo ? lo : k;
  if (k >= (u128) 100000000000000000ULL) /* more than 17 digits: never for a double */
    return 0;
  uint64_t ipart = (uint64_t) k / p, fpart = (uint64_t) k % p;
  /* its digits from its bit length likewise (from 1 for 0, which has none) */
  int digits = ipart ? ((64 - __builtin_clzll (ipart)) * 1233) >> 12 : 1;
  while (digits < 17 && ipart >= POW10[digits])
    digits++;
  put_digits (out + digits, ipart, digits);
  out[digits] = '.';
  if (q == 0)
  {
    out[digits + 1] = '0';
    return digits + 2;
  }
  put_digits (out + digits + 1 + q, fpart, q);
  return digits + 1 + q;
}

int float_repr (double x, char *out)
{
  uint64_t bits;
  memcpy (&bits, &x, sizeof bits);
  int biased = (int) (bits >> 52) & 0x7ff;
  uint64_t fraction = bits & ((UINT64_C (1) << 52) - 1);
  int e = biased - 1075;
  if (biased != 0 && e >= -52 && e <= -1)
  {
    int sign = (int) (bits >> 63);
    out[0] = '-';
    int n = fraction_repr (fraction | (UINT64_C (1) << 52), e, out + sign);
    if (n > 0)
      return n + sign;
  }
  char *text = PyOS_double_to_string (x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
  if (text == NULL)
    return -1;
  size_t n = strlen (text);
  if (n > FLOAT_REPR_MAX)
  {
    PyMem_Free (text);
    PyErr_SetString (PyExc_SystemError, "float_repr: a repr longer than a double's");
    return -1;
  }
  memcpy (out, text, n);
  PyMem_Free (text);
  return (int) n;
}
