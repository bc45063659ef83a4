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
 * [(2M - 1) * 10**q, (2M + 1) * 10**q] / 2**s. The first q with one is the shortest (q
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

/* the fast path's repr of M * 2**e (sign apart), or 0 where it does not apply */
static int fraction_repr (uint64_t M, int e, char *out)
{
  int s = 1 - e;
  u128 centre = (u128) M << 1, low = centre - 1, high = centre + 1, S = (u128) 1 << s, p = 1;
  for (int q = 0; q <= 17; q++, p *= 10)
  {
    u128 L = low * p, H = high * p;
    u128 kmin = (L + S - 1) >> s, kmax = H >> s;
    if (kmin > kmax)
      continue;
    u128 C = centre * p, rem = C & (S - 1), half = S >> 1, k = C >> s;
    if (rem > half || (rem == half && (k & 1)))
      k++;
    k = k > kmax ? kmax : k < kmin ? kmin : k;
    if (k >= (u128) 100000000000000000ULL) /* more than 17 digits: never for a double */
      return 0;
    uint64_t pq = (uint64_t) p, ipart = (uint64_t) k / pq, fpart = (uint64_t) k % pq;
    char digits[24];
    int n = 0, len = 0;
    do
      digits[n++] = (char) ('0' + ipart % 10);
    while (ipart /= 10);
    while (n)
      out[len++] = digits[--n];
    out[len++] = '.';
    if (q == 0)
      out[len++] = '0';
    for (int i = q - 1; i >= 0; i--, fpart /= 10)
      out[len + i] = (char) ('0' + fpart % 10);
    return len + q;
  }
  return 0;
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
