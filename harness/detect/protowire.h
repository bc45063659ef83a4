/* Which layers blackboxprotobuf (bbpb 1.4.2) certainly refuses, so that children.c calls the
 * protobuf decoder (decoders.Decoder._bbpb, a Python callback) only on the others. It is
 * tried on every layer that is not text, and most of those are not protobuf: bbpb then raises,
 * _bbpb gives no layers, and the callback cost more than any other decoder of the walk.
 *
 * bbpb's decode_message first splits the whole top level into fields
 * (length_delim._group_by_number) and raises on the first of these:
 *  - a tag or a varint value that is cut short, above 2^64-1 or not in its shortest form
 *    (varint.decode_uvarint re-encodes what it read and compares);
 *  - wire type 3 or 4 (groups: "not supported"), or 6 or 7 (unknown);
 *  - a field that runs past the end (a length, or a fixed32/64 with too few bytes left);
 *  - a field number seen before with another wire type.
 * Field number 0 is accepted. protobuf_may answers 0 only where one of these holds, checked
 * the way bbpb checks it; anything else (a length that bbpb reads as negative, a top level
 * that splits and then fails deeper) goes on. tests/detect/test_bytetests.py compares it
 * with bbpb on random, real and damaged messages.
 *
 * bbpb reads a length with varint.decode_varint, which is signed: a ten-byte length with bit
 * 63 set is negative, passes its over-the-end check and steps its loop back, which may then
 * never end, its lists growing (issue 4: hostile input must take bounded time and memory).
 * protobuf_hazard finds such a length wherever bbpb would read one, the top level or a
 * payload it tries as a message, and children.c hands such a layer to the Python walk,
 * whose Decoder._protobuf writes a note instead of calling bbpb (protowire.py is the same
 * test in Python, for a checkout that was never built; tests/detect/test_pbhazard.py). */

#ifndef EGRESS_PROTOWIRE_H
#define EGRESS_PROTOWIRE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* varint.decode_uvarint at *pos: 1 with *v and *pos past it, 0 where it raises. */
static inline int pb_uvarint (const unsigned char *b, Py_ssize_t n, Py_ssize_t *pos,
    uint64_t *v)
{
  uint64_t x = 0;
  for (int k = 0;; k++)
  {
    if (*pos >= n)
      return 0; /* cut short */
    unsigned char c = b[(*pos)++];
    if (k == 9) /* the tenth byte holds bit 63 only: 1, or the value is too big or padded */
    {
      *v = x | (uint64_t) 1 << 63;
      return c == 1;
    }
    x |= (uint64_t) (c & 0x7f) << (7 * k);
    if (!(c & 0x80))
    {
      *v = x;
      return k == 0 || c != 0; /* a last byte 0 after others is not the shortest form */
    }
  }
}

enum { PB_RAISES, PB_SPLITS, PB_NEGATIVE };

/* How length_delim._group_by_number walks b[0, n), field by field: PB_RAISES at the first
   field it raises on, PB_NEGATIVE at the first length it reads as negative (its loop then
   steps back: it may never end), PB_SPLITS when it reaches the end, and then the number of
   nonempty length-delimited payloads in *payloads unless it is NULL. */
static inline int pb_level (const unsigned char *b, Py_ssize_t n, Py_ssize_t *payloads)
{
  unsigned char wire[128]; /* wire type + 1 of field numbers below 128 seen so far */
  memset (wire, 0, sizeof wire);
  Py_ssize_t pos = 0, count = 0;
  while (pos < n)
  {
    uint64_t tag, v;
    if (!pb_uvarint (b, n, &pos, &tag))
      return PB_RAISES;
    uint64_t field = tag >> 3;
    int type = (int) (tag & 7);
    if (field < sizeof wire && wire[field] && wire[field] != type + 1)
      return PB_RAISES;
    Py_ssize_t at = pos, length;
    switch (type)
    {
    case 0: /* varint */
      if (!pb_uvarint (b, n, &at, &v))
        return PB_RAISES;
      length = at - pos;
      break;
    case 1: /* fixed64 */
      length = 8;
      break;
    case 5: /* fixed32 */
      length = 4;
      break;
    case 2: /* length-delimited: varint.decode_varint, a signed length */
      if (!pb_uvarint (b, n, &at, &v))
        return PB_RAISES;
      if (v >> 63)
        return PB_NEGATIVE;
      if (v > (uint64_t) (n - at))
        return PB_RAISES;
      length = (Py_ssize_t) v + (at - pos);
      count += v > 0;
      break;
    default: /* 3, 4 groups; 6, 7 */
      return PB_RAISES;
    }
    if (length > n - pos)
      return PB_RAISES;
    if (field < sizeof wire)
      wire[field] = (unsigned char) (type + 1);
    pos += length;
  }
  if (payloads != NULL)
    *payloads = count;
  return PB_SPLITS;
}

/* 0 where blackboxprotobuf.decode_message(b[0, n)) certainly raises; 1 otherwise. */
static inline int protobuf_may (const unsigned char *b, Py_ssize_t n)
{
  return pb_level (b, n, NULL) != PB_RAISES;
}

#define PB_MAX_DEPTH 100 /* the recursion limit of protobuf's own parsers */

/* 1 where bbpb's decode_message(b[0, n)) may meet a length it reads as negative: at the top
   level, or in a length-delimited payload it tries as a message (it tries every one of a
   level that splits, _try_decode_lendelim_fields, and its raising there is caught, a string
   or bytes then), at any depth; or nesting past PB_MAX_DEPTH, where this stops looking.
   Conservative: bbpb may raise before it reaches the bad field (another payload of the same
   field number that fails first, a mismatch of a field number above 127, which pb_level
   does not track) and then decode the layer anyway, that payload as bytes; this refuses
   it. Only hostile bytes hold such a length (a ten-byte varint with bit 63 set), so only
   they are refused. Each level is walked twice (pb_level, then its payloads), reading its
   own tags and lengths only (a payload is skipped, to be walked as a level of its own):
   each byte is read at most twice in all, O(n), on the C stack PB_MAX_DEPTH frames deep
   at most. */
static inline int pb_hazard_at (const unsigned char *b, Py_ssize_t n, int depth);

/* pb_hazard_at's answer for b[0, n) from what pb_level gave for it (r, and payloads when r
   is PB_SPLITS): its payloads are walked, not its level again; children.c, which has
   called pb_level already to ask protobuf_may's question, goes on from here. */
static inline int pb_hazard_after (const unsigned char *b, Py_ssize_t n, int r,
    Py_ssize_t payloads, int depth)
{
  if (r != PB_SPLITS)
    return r == PB_NEGATIVE;
  if (payloads == 0)
    return 0;
  if (depth >= PB_MAX_DEPTH)
    return 1;
  /* the level split: every field is well formed, and the walk needs no checks */
  for (Py_ssize_t pos = 0; pos < n;)
  {
    uint64_t tag = 0, v = 0;
    pb_uvarint (b, n, &pos, &tag);
    switch (tag & 7)
    {
    case 0:
      pb_uvarint (b, n, &pos, &v);
      break;
    case 1:
      pos += 8;
      break;
    case 5:
      pos += 4;
      break;
    default: /* 2 */
      pb_uvarint (b, n, &pos, &v);
      if (v > 0 && pb_hazard_at (b + pos, (Py_ssize_t) v, depth + 1))
        return 1;
      pos += (Py_ssize_t) v;
    }
  }
  return 0;
}

static inline int pb_hazard_at (const unsigned char *b, Py_ssize_t n, int depth)
{
  Py_ssize_t payloads = 0;
  int r = pb_level (b, n, &payloads);
  return pb_hazard_after (b, n, r, payloads, depth);
}

static inline int protobuf_hazard (const unsigned char *b, Py_ssize_t n)
{
  return pb_hazard_at (b, n, 0);
}

#endif
