"""zwhole.c's guard (blocks_ok, dynamic_ok: which streams libdeflate may decode) against the
same rules written plainly here, a length at a time: zs_whole answers a raw stream exactly
where the rules pass and zlib's steps finish it, on the streams test_inflate_whole writes
bit by bit. Its tests hold what zs_whole answers to zlib's answer; this one holds it to
answering every stream the rules let through, so that a guard stricter than they are (a
Kraft sum, a repeat across the two codes or a table entry wrong) fails too."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from harness.parse.encoding import _zlib_stream_py
from tests.parse.test_encoding import RAW, _compress, _outcome
from tests.parse.test_inflate_whole import PRE_ORDER, TWO, _cases, _dynamic, canonical, deflate

_inflate = pytest.importorskip("harness.parse._inflate")


class _Short(Exception):
    """The stream ended inside what was being read."""


class _Reader:
    """A raw deflate stream's bits, least significant first."""

    def __init__(self, data: bytes) -> None:
        self.acc, self.size, self.pos = int.from_bytes(data, "little"), 8 * len(data), 0

    def take(self, n: int) -> int:
        if self.pos + n > self.size:
            raise _Short
        self.pos += n
        return (self.acc >> (self.pos - n)) & ((1 << n) - 1)

    def symbol(self, codes: dict[tuple[int, int], int]) -> int:
        """A symbol of a Huffman code by its (length, code), the code's first bit first."""
        code = length = 0
        while (length, code) not in codes:
            code, length = code << 1 | self.take(1), length + 1
        return codes[(length, code)]


def complete(lens: list[int]) -> bool:
    """The lengths form a complete prefix code: never over-subscribed, nothing left."""
    left = 1
    for n in range(1, 16):
        left = 2 * left - lens.count(n)
        if left < 0:
            return False
    return left == 0


def _dynamic_ok(r: _Reader) -> bool:
    nlen, ndist, ncode = 257 + r.take(5), 1 + r.take(5), 4 + r.take(4)
    if nlen > 286 or ndist > 30:
        return False
    pre = [0] * 19
    for s in PRE_ORDER[:ncode]:
        pre[s] = r.take(3)
    if not complete(pre):
        return False
    codes = {(n, c): s for s, (c, n) in canonical(pre).items()}
    lens: list[int] = []
    while len(lens) < nlen + ndist:
        sym = r.symbol(codes)
        if sym < 16:
            lens.append(sym)
            continue
        if sym == 16 and not lens:
            return False
        val, rep = ((lens[-1], 3 + r.take(2)) if sym == 16 else
                    (0, 3 + r.take(3)) if sym == 17 else (0, 11 + r.take(7)))
        if len(lens) + rep > nlen + ndist:
            return False
        lens += [val] * rep
    return complete(lens[:nlen]) and complete(lens[nlen:])


def guard(raw: bytes) -> bool:
    """Stored blocks, then a final block that is stored, or dynamic with a header zlib
    accepts and two complete codes (zwhole.c's top comment says why)."""
    r = _Reader(raw)
    try:
        while True:
            final, kind = r.take(1), r.take(2)
            if kind == 2:
                return bool(final) and _dynamic_ok(r)
            if kind != 0:
                return False
            r.pos = -(-r.pos // 8) * 8
            size, nsize = r.take(16), r.take(16)
            if size != ~nsize & 0xFFFF:
                return False
            r.take(8 * size)
            if final:
                return True
    except _Short:
        return False


def answered(raw: bytes) -> bool:
    """zs_whole answers raw; checked against the rules and zlib's steps."""
    want = _outcome(_zlib_stream_py, raw, RAW, 10**7)
    got = _inflate.whole(raw, RAW, 10**7, 1)
    finished = isinstance(want, tuple) and want[1:] == (False, True)
    assert (got is not None) == (guard(raw) and finished)
    return got is not None


@settings(max_examples=1000, deadline=None)
@given(deflate())
def test_whole_answers_where_the_guard_passes_and_zlib_finishes(raw: bytes) -> None:
    answered(raw)


def test_the_cases_and_zlibs_own_streams() -> None:
    """The hand-made cases, codes with codewords of every length up to 15 (written by
    zlib only for large skewed inputs), and zlib's streams of text at each level, cut at
    every length of the header (where the input ends inside the code lengths)."""
    for name, raw in _cases().items():
        assert answered(raw) == name.startswith("valid")
    skewed = [0] * 286
    for n, sym in enumerate([*range(97, 111), 256, 257], start=1):
        skewed[sym] = min(n, 15)  # 1, 2, ... 14, 15, 15: complete
    for dist in (TWO, [*range(1, 15), 15, 15] + [0] * 14):
        for drop in (None, 256, 257):  # complete, then short of one codeword of 15 bits
            lens = [0 if i == drop else n for i, n in enumerate(skewed)] + dist
            raw = _dynamic(lens, 286, [("l", 97, 0), ("l", 98, 0), ("l", 256, 0)]
                           if drop != 256 else [("l", 97, 0)])
            assert answered(raw) == (drop is None)
    text = b"".join(b'{"id": %d, "ev": "tap", "v": %d}, ' % (i, i * i) for i in range(300))
    for level in (1, 6, 9):
        raw = _compress(text, RAW, level)
        assert answered(raw)
        for n in range(1, 120):
            answered(raw[:n])
