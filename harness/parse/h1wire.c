/* HTTP/1.x byte scanning (see h1wire.h); each function names the http1.py expression it
 * stands for. Regex notes: in a bytes pattern \s is [ \t\n\v\f\r] and \d is [0-9]. */

#define _GNU_SOURCE /* memmem */
#include "h1wire.h"

#include <string.h>

static const char *const METHODS[] = {
  "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND",
  "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH", "PURGE",
};
#define LONGEST_METHOD 9

static int is_space (unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_digit (unsigned char c)
{
  return c >= '0' && c <= '9';
}

static int is_hex (unsigned char c)
{
  return is_digit (c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* [A-Z0-9_-] */
static int is_method_char (unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || is_digit (c) || c == '_' || c == '-';
}

/* \r?\n at i: the line's end, or 0. */
static int line_end (const unsigned char *p, ssize_t i, ssize_t limit, H1Line *out)
{
  if (i + 1 < limit && p[i] == '\r' && p[i + 1] == '\n')
  {
    out->crlf = 1;
    out->end = i + 2;
    return 1;
  }
  if (i < limit && p[i] == '\n')
  {
    out->crlf = 0;
    out->end = i + 1;
    return 1;
  }
  return 0;
}

/* "HTTP/" \d "." \d at i (fits before limit): 1 with the digits, or 0. */
static int version (const unsigned char *p, ssize_t i, ssize_t limit, H1Line *out)
{
  if (limit - i < 8 || memcmp (p + i, "HTTP/", 5) != 0 || !is_digit (p[i + 5])
      || p[i + 6] != '.' || !is_digit (p[i + 7]))
    return 0;
  out->v1 = (char) p[i + 5];
  out->v2 = (char) p[i + 7];
  return 1;
}

/* ([A-Z][A-Z0-9_-]{0,19}) ([^\s]+) HTTP/(\d)\.(\d)\r?\n
 * No backtracking is needed: neither a method nor a target character is a space, so each
 * group can only end where its run of characters does. */
int h1_request_line (const unsigned char *p, ssize_t pos, ssize_t limit, H1Line *out)
{
  ssize_t i = pos;
  if (i >= limit || p[i] < 'A' || p[i] > 'Z')
    return 0;
  for (i++; i < limit && i - pos < 20 && is_method_char (p[i]); i++)
    ;
  if (i >= limit || p[i] != ' ')
    return 0;
  out->a0 = pos;
  out->a1 = i++;
  out->b0 = i;
  while (i < limit && !is_space (p[i]))
    i++;
  if (i == out->b0 || i >= limit || p[i] != ' ')
    return 0;
  out->b1 = i++;
  if (!version (p, i, limit, out))
    return 0;
  return line_end (p, i + 8, limit, out);
}

/* HTTP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?\r?\n
 * After the status a space opens the reason, which runs to the first \r or \n and must be
 * followed by \r\n or \n (a shorter reason would be followed by a reason character); without
 * the space the line must end right there. */
int h1_status_line (const unsigned char *p, ssize_t pos, ssize_t limit, H1Line *out)
{
  if (!version (p, pos, limit, out))
    return 0;
  ssize_t i = pos + 8;
  if (limit - i < 4 || p[i] != ' ' || !is_digit (p[i + 1]) || !is_digit (p[i + 2])
      || !is_digit (p[i + 3]))
    return 0;
  out->a0 = i + 1;
  out->a1 = i + 4;
  i += 4;
  if (i < limit && p[i] == ' ')
  {
    ssize_t r = i + 1;
    while (r < limit && p[r] != '\r' && p[r] != '\n')
      r++;
    out->b0 = i + 1;
    out->b1 = r;
    return line_end (p, r, limit, out);
  }
  out->b0 = out->b1 = -1;
  return line_end (p, i, limit, out);
}

/* \r?\n\r?\n, leftmost: a match starts at a \n, or at the \r just before one; both share
 * what follows the \n, so the first \n whose next bytes are \n or \r\n decides. */
int h1_head_end (const unsigned char *p, ssize_t from, ssize_t limit, ssize_t *start,
                 ssize_t *end)
{
  ssize_t q = from;
  while (q < limit)
  {
    const unsigned char *nl = memchr (p + q, '\n', (size_t) (limit - q));
    if (nl == NULL)
      return 0;
    q = nl - p;
    ssize_t j = q + 1;
    ssize_t e = -1;
    if (j + 1 < limit && p[j] == '\r' && p[j + 1] == '\n')
      e = j + 2;
    else if (j < limit && p[j] == '\n')
      e = j + 1;
    if (e >= 0)
    {
      *start = (q - 1 >= from && p[q - 1] == '\r') ? q - 1 : q;
      *end = e;
      return 1;
    }
    q++;
  }
  return 0;
}

int h1_is_method (const unsigned char *p, ssize_t a, ssize_t b)
{
  size_t n = (size_t) (b - a);
  for (size_t k = 0; k < sizeof METHODS / sizeof METHODS[0]; k++)
    if (strlen (METHODS[k]) == n && memcmp (p + a, METHODS[k], n) == 0)
      return 1;
  return 0;
}

/* (?:^|\n)((?:GET|POST|...) [^\s]+ HTTP/1\.[01]\r?\n), searched from `from` >= 1: ^ matches
 * only at offset 0, so every match follows a \n. No method is a prefix of another followed
 * by a space, so the alternation picks the token before the first space or nothing. */
ssize_t h1_resync (const unsigned char *p, ssize_t from, ssize_t len)
{
  ssize_t q = from;
  while (q < len)
  {
    const unsigned char *nl = memchr (p + q, '\n', (size_t) (len - q));
    if (nl == NULL)
      return -1;
    q = nl - p;
    ssize_t s = q + 1, i = s;
    while (i < len && i - s <= LONGEST_METHOD && p[i] != ' ')
      i++;
    if (i < len && p[i] == ' ' && h1_is_method (p, s, i))
    {
      ssize_t t0 = ++i;
      while (i < len && !is_space (p[i]))
        i++;
      H1Line line;
      if (i > t0 && i < len && p[i] == ' ' && version (p, i + 1, len, &line)
          && line.v1 == '1' && (line.v2 == '0' || line.v2 == '1')
          && line_end (p, i + 9, len, &line))
        return s;
    }
    q++;
  }
  return -1;
}

ssize_t h1_find_http1 (const unsigned char *p, ssize_t from, ssize_t len)
{
  if (from >= len)
    return -1;
  const unsigned char *hit = memmem (p + from, (size_t) (len - from), "HTTP/1.", 7);
  return hit ? hit - p : -1;
}

void h1_strip (const unsigned char *p, ssize_t *a, ssize_t *b)
{
  while (*a < *b && is_space (p[*a]))
    (*a)++;
  while (*b > *a && is_space (p[*b - 1]))
    (*b)--;
}

int h1_chunk_size (const unsigned char *p, ssize_t a, ssize_t b, uint64_t *size)
{
  if (b - a < 1 || b - a > 16)
    return 0;
  uint64_t n = 0;
  for (ssize_t i = a; i < b; i++)
  {
    unsigned char c = p[i];
    if (!is_hex (c))
      return 0;
    n = n << 4 | (uint64_t) (is_digit (c) ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  *size = n;
  return 1;
}
