"""Whether blackboxprotobuf may read a length-delimited field's length as negative, which can
loop it forever with growing memory: protowire.h's protobuf_hazard in Python, for a checkout
whose C part was never built (tests/detect/test_pbhazard.py holds the two equal).

bbpb (1.4.2) reads a length with the signed varint.decode_varint; a ten-byte length with bit
63 set passes _group_by_number's over-the-end check and steps its loop back. The walk below
follows _group_by_number on each level bbpb would split: the top level, and every nonempty
length-delimited payload of a level that splits (bbpb tries each as a message, and catches
its raising). A level bbpb raises on before any negative length is no hazard; one whose
first trouble is a negative length is. Conservative, as the C is: bbpb may raise before it
reaches the bad field and decode the layer anyway (that payload as bytes), which this
refuses; only hostile bytes hold such a length. Each level reads its own tags and lengths
only, so each byte is read once in all: O(n).
"""

from __future__ import annotations

MAX_DEPTH = 100
"""Nesting past the recursion limit of protobuf's own parsers is refused too: the walk stops
looking there, so it cannot say the rest is safe."""

_RAISES, _NEGATIVE = -1, -2


def _uvarint(b: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """varint.decode_uvarint at pos: (value, pos after it), or None where it raises (cut
    short, above 2^64-1, not in its shortest form)."""
    x = 0
    for k in range(10):
        if pos >= end:
            return None
        c = b[pos]
        pos += 1
        if k == 9:  # the tenth byte holds bit 63 only
            return (x | 1 << 63, pos) if c == 1 else None
        x |= (c & 0x7F) << 7 * k
        if not c & 0x80:
            return (x, pos) if k == 0 or c else None
    return None  # not reached: the tenth byte returns


def _level(b: bytes, start: int, end: int) -> list[tuple[int, int]] | int:
    """The nonempty length-delimited payloads of b[start:end] as (start, end) when bbpb
    splits it; _RAISES or _NEGATIVE for the first trouble it meets instead."""
    wire: dict[int, int] = {}
    payloads: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        got = _uvarint(b, pos, end)
        if got is None:
            return _RAISES
        tag, pos = got
        field, kind = tag >> 3, tag & 7
        if field < 128 and wire.get(field, kind) != kind:  # as protowire.h: numbers < 128
            return _RAISES
        if kind == 0:
            got = _uvarint(b, pos, end)
            if got is None:
                return _RAISES
            length = got[1] - pos
        elif kind in (1, 5):
            length = 8 if kind == 1 else 4
        elif kind == 2:
            got = _uvarint(b, pos, end)
            if got is None:
                return _RAISES
            v, at = got
            if v >> 63:
                return _NEGATIVE
            if v > end - at:
                return _RAISES
            if v:
                payloads.append((at, at + v))
            length = v + at - pos
        else:  # groups, 6, 7
            return _RAISES
        if length > end - pos:
            return _RAISES
        wire[field] = kind
        pos += length
    return payloads


def protobuf_hazard(b: bytes) -> bool:
    """True where blackboxprotobuf.decode_message(b) may meet a length it reads as negative,
    or nesting past MAX_DEPTH."""
    todo = [(0, len(b), 0)]
    while todo:
        start, end, depth = todo.pop()
        got = _level(b, start, end)
        if got == _NEGATIVE:
            return True
        if isinstance(got, int) or not got:
            continue
        if depth >= MAX_DEPTH:
            return True
        todo.extend((s, e, depth + 1) for s, e in got)
    return False
