/* HTTP/1.x byte scanning for _http1.c: the regular expressions and byte tests of http1.py
 * written out by hand, with their exact semantics (what they accept, where a match ends,
 * which of several matches is found). No Python objects here. All offsets index one
 * buffer p; nothing at or past `limit` (a regex's endpos) is looked at. */

#ifndef H1WIRE_H
#define H1WIRE_H

#include <stdint.h>
#include <sys/types.h>

/* A request line (_REQUEST_LINE) or status line (_STATUS_LINE) matched at a position. */
typedef struct
{
  ssize_t end;          /* just past the line's \n */
  int crlf;             /* the line ended with \r\n */
  char v1, v2;          /* the version's two digits */
  ssize_t a0, a1;       /* request: the method; status: the three status digits */
  ssize_t b0, b1;       /* request: the target; status: the reason (b0 < 0: no reason group) */
} H1Line;

/* _REQUEST_LINE.match(p, pos, limit): 1 and *out filled, or 0. */
int h1_request_line (const unsigned char *p, ssize_t pos, ssize_t limit, H1Line *out);

/* _STATUS_LINE.match(p, pos, limit): 1 and *out filled, or 0. */
int h1_status_line (const unsigned char *p, ssize_t pos, ssize_t limit, H1Line *out);

/* _HEAD_END.search(p, from, limit): 1 with the match's [*start, *end), or 0. */
int h1_head_end (const unsigned char *p, ssize_t from, ssize_t limit, ssize_t *start,
                 ssize_t *end);

/* p[a:b] is one of http1.METHODS. */
int h1_is_method (const unsigned char *p, ssize_t a, ssize_t b);

/* _RESYNC.search(p, from) over p[:len]: where its group 1 starts, or -1. */
ssize_t h1_resync (const unsigned char *p, ssize_t from, ssize_t len);

/* The first b"HTTP/1." at or after `from` in p[:len], or -1 (bytes.find). */
ssize_t h1_find_http1 (const unsigned char *p, ssize_t from, ssize_t len);

/* bytes.strip() (ASCII whitespace) of p[*a:*b], in place. */
void h1_strip (const unsigned char *p, ssize_t *a, ssize_t *b);

/* _CHUNK_SIZE.fullmatch(s) (1*16 hex digits): 1 and *size, or 0. */
int h1_chunk_size (const unsigned char *p, ssize_t a, ssize_t b, uint64_t *size);

#endif
