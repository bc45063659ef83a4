"""zwhole.c (libdeflate's decoding where it proves zlib's answer) against zlib's steps,
encoding._zlib_stream_py: deflate streams written here bit by bit, valid and in each way
libdeflate 1.14 and zlib part (code length repeats past the end, more than 286 or 30
symbols, symbols 286, 287, 30 and 31, the unused codeword of a one-codeword code, empty
and over-full codes, fixed blocks), in gzip, zlib and raw wrappings with right and wrong
trailers (an ISIZE that lies), NULs, garbage or another member after, truncated or
corrupted, under budgets at the edges of the output."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.parse.encoding import _zlib_stream_py
from tests.parse.test_encoding import GZIP, RAW, ZLIB, _compress, _outcome, _same

_inflate = pytest.importorskip("harness.parse._inflate")

PRE_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
LEN_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0, 0, 0]  # 257..287
DIST_EXTRA = [0, 0, 0, 0] + [i // 2 for i in range(2, 28)] + [13, 13]  # 0..31
FIXED = [8] * 144 + [9] * 112 + [7] * 24 + [8] * 8 + [5] * 32  # litlen 0..287, dist 0..31


class Bits:
    """Bits least significant first, as deflate packs them; Huffman codes first bit first."""

    def __init__(self) -> None:
        self.acc = self.n = 0

    def put(self, value: int, n: int) -> None:
        self.acc |= (value & ((1 << n) - 1)) << self.n
        self.n += n

    def code(self, code: int, length: int) -> None:
        self.put(int(f"{code:0{length}b}"[::-1], 2), length)

    def align(self) -> None:
        self.n = -(-self.n // 8) * 8

    def data(self) -> bytes:
        return self.acc.to_bytes(-(-self.n // 8), "little")


def rare(draw: st.DrawFn) -> bool:
    """True one time in ten (hypothesis draws small integers more often than the rest)."""
    return draw(st.sampled_from([False] * 9 + [True]))


def canonical(lens: list[int]) -> dict[int, tuple[int, int]]:
    """RFC 1951 3.2.2: each symbol with a length, its (code, length)."""
    count = [lens.count(n) if n else 0 for n in range(16)]
    code, nxt = 0, [0] * 16
    for n in range(1, 16):
        code = (code + count[n - 1]) << 1
        nxt[n] = code
    out = {}
    for sym, n in enumerate(lens):
        if n:
            out[sym] = (nxt[n], n)
            nxt[n] += 1
    return out


@st.composite
def code_lengths(draw: st.DrawFn, syms: list[int], size: int, most: int) -> list[int]:
    """Lengths of a code over `syms` (of `size` symbols): complete (a random tree of
    depth at most `most`), or one codeword of length 1, incomplete, over-full or empty."""
    lens = [0] * size
    shape = draw(st.sampled_from(["complete"] * 16 + ["single", "incomplete", "over", "empty"]))
    if shape == "empty" or not syms:
        return lens
    if shape == "single" or len(syms) == 1:
        lens[syms[0]] = 1
        return lens
    depths = [0]
    while len(depths) < len(syms):
        i = draw(st.integers(0, len(depths) - 1))
        if depths[i] == most:
            if all(d == most for d in depths):
                break
            continue
        depths[i:i + 1] = [depths[i] + 1] * 2
    for sym, d in zip(syms, depths, strict=False):
        lens[sym] = d
    if shape == "incomplete":
        lens[syms[0]] = 0 if len(depths) > 2 else min(most, lens[syms[0]] + 1)
    elif shape == "over" and len(syms) > len(depths):
        lens[syms[len(depths)]] = max(1, min(depths))
    return lens


def rle(lens: list[int], repeats: bool) -> list[tuple[int, int]]:
    """The lengths as code length symbols (symbol, extra bits' value)."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(lens):
        run = 1
        while i + run < len(lens) and lens[i + run] == lens[i]:
            run += 1
        if repeats and lens[i] == 0 and run >= 11:
            out.append((18, min(run, 138) - 11))
            i += min(run, 138)
        elif repeats and lens[i] == 0 and run >= 3:
            out.append((17, run - 3))
            i += run
        elif repeats and run >= 4:
            out += [(lens[i], 0), (16, min(run - 1, 6) - 3)]
            i += 1 + min(run - 1, 6)
        else:
            out.append((lens[i], 0))
            i += 1
    return out


@st.composite
def dynamic_block(draw: st.DrawFn, w: Bits, final: int) -> None:
    nlen = draw(st.integers(287, 288) if rare(draw) else st.integers(257, 286))
    ndist = draw(st.integers(31, 32) if rare(draw) else st.integers(1, 30))
    lits = draw(st.lists(st.integers(0, 255), min_size=1, max_size=12, unique=True))
    lengths = draw(st.lists(st.integers(257, nlen - 1), max_size=6, unique=True)) \
        if nlen > 257 else []
    eob = [] if rare(draw) else [256]
    near = st.integers(0, min(ndist - 1, 7))  # most distances within the output
    dists = draw(st.lists(st.integers(0, ndist - 1) if rare(draw) else near,
                          max_size=6, unique=True))
    lens = draw(code_lengths(sorted(lits + lengths + eob), nlen, 15)) + \
        draw(code_lengths(sorted(dists), ndist, 15))
    symbols = rle(lens, draw(st.booleans()))
    fault = draw(st.sampled_from([None] * 15 + ["overrun", "lead16", "short"]))
    if fault == "overrun":  # the last repeat past the end
        symbols.append((18, 0) if draw(st.booleans()) else (17, 7))
        symbols = symbols[-2:] + symbols[:-2] if draw(st.booleans()) else symbols
    elif fault == "lead16":
        symbols.insert(0, (16, 0))
    elif fault == "short" and symbols:
        symbols.pop()
    used = sorted({s for s, _ in symbols} | {draw(st.integers(0, 18))})
    pre = draw(code_lengths(used, 19, 7))
    ncode = max([4] + [PRE_ORDER.index(s) + 1 for s in range(19) if pre[s]])
    ncode = draw(st.integers(ncode, 19))
    w.put(final, 1)
    w.put(2, 2)
    w.put(nlen - 257, 5)
    w.put(ndist - 1, 5)
    w.put(ncode - 4, 4)
    for s in PRE_ORDER[:ncode]:
        w.put(pre[s], 3)
    pcodes = canonical(pre)
    for s, extra in symbols:
        if s not in pcodes:
            w.put(draw(st.integers(0, 127)), 7)
            continue
        w.code(*pcodes[s])
        if s >= 16:
            w.put(extra, {16: 2, 17: 3, 18: 7}[s])
    huffman_data(draw, w, canonical(lens[:nlen]), canonical(lens[nlen:]))


def huffman_data(draw: st.DrawFn, w: Bits, litlen: dict[int, tuple[int, int]],
                 dist: dict[int, tuple[int, int]]) -> None:
    """Literals, matches and an end of block, each a symbol of the codes or, at times, bits
    of no symbol (an unused codeword where a code leaves one)."""
    lits = [s for s in litlen if s < 256]
    lens = [s for s in litlen if s > 256]
    for i in range(draw(st.integers(0, 30))):
        what = draw(st.sampled_from(["lit"] * 6 + ["match"] * 4 + ["bits"])) if i > 2 else "lit"
        if what == "bits" or (what == "lit" and not lits) or (what == "match" and not lens):
            n = draw(st.integers(1, 9))
            w.put(draw(st.integers(0, (1 << n) - 1)), n)
        elif what == "lit":
            w.code(*litlen[draw(st.sampled_from(lits))])
        else:
            s = draw(st.sampled_from(lens))
            w.code(*litlen[s])
            w.put(draw(st.integers(0, 31)), LEN_EXTRA[s - 257])
            if dist and not rare(draw):
                d = draw(st.sampled_from(sorted(dist)))
                w.code(*dist[d])
                w.put(draw(st.integers(0, 1)), DIST_EXTRA[d])
            else:
                w.put(draw(st.integers(0, 31)), 5)
    if 256 in litlen:
        w.code(*litlen[256])


@st.composite
def deflate(draw: st.DrawFn) -> bytes:
    """A raw deflate stream of one to three blocks, mostly dynamic."""
    w = Bits()
    blocks = draw(st.sampled_from([1, 1, 2, 3]))  # most with one: where zs_whole answers
    for i in range(blocks):
        final = int(i == blocks - 1 and not rare(draw))
        kind = draw(st.sampled_from(["dynamic"] * 12 + ["stored"] * 3 + ["fixed"] * 2
                                    + ["reserved"]))
        if kind == "dynamic":
            draw(dynamic_block(w, final))
        elif kind == "stored":
            payload = draw(st.binary(max_size=40))
            w.put(final, 1)
            w.put(0, 2)
            w.align()
            nlen = len(payload) if rare(draw) else ~len(payload) & 0xFFFF
            w.put(len(payload) | nlen << 16, 32)
            for b in payload:
                w.put(b, 8)
        else:
            w.put(final, 1)
            w.put(1 if kind == "fixed" else 3, 2)
            huffman_data(draw, w, canonical(FIXED[:288]), canonical(FIXED[288:]))
    return w.data()


def wrap(raw: bytes, wbits: int, flags: int, trailer: str) -> bytes:
    """raw in gzip (header `flags`) or zlib, its trailer right or `trailer` wrong."""
    try:
        out = _zlib_stream_py(raw, RAW, 10**7)[0]
    except zlib.error:
        out = b""
    if wbits == RAW:
        return raw
    if wbits == ZLIB:
        adler = zlib.adler32(out) ^ (trailer == "crc")
        return b"\x78\x9c" + raw + adler.to_bytes(4, "big")
    head = bytes([0x1F, 0x8B, 8, flags, 0, 0, 0, 0, 0, 3])
    if flags & 0x04:
        head += b"\x03\x00abc"
    head += b"name\x00" * bool(flags & 0x08) + b"comment\x00" * bool(flags & 0x10)
    if flags & 0x02:
        head += (zlib.crc32(head) & 0xFFFF).to_bytes(2, "little")
    isize = {"isize": len(out) + 1, "small": len(out) - 1, "big": len(out) + 2**20,
             "huge": 2**32 - 1}.get(trailer, len(out))
    crc = zlib.crc32(out) ^ (trailer == "crc")
    return head + raw + crc.to_bytes(4, "little") + (isize % 2**32).to_bytes(4, "little")


def same_or_none(data: bytes, wbits: int, budget: int, members: int) -> bytes | None:
    """zs_stream and zlib's steps agree; where zs_whole answers, it answers as they do."""
    want = _same(data, wbits, budget, 64 * 1024, members)
    got = _inflate.whole(data, wbits, budget, members)
    if got is not None:
        assert want == (got, False, True)
    return got


@settings(max_examples=600, deadline=None)
@given(deflate())
def test_written_streams_answered_only_as_zlib_answers(raw: bytes) -> None:
    """Many raw streams alone: where zs_whole answers, zlib's steps finish with the same
    bytes (where they refuse a stream, stop short or go on, it does not answer)."""
    want = _outcome(_zlib_stream_py, raw, RAW, 10**7)
    got = _inflate.whole(raw, RAW, 10**7, 1)
    if got is not None:
        assert want == (got, False, True)


@settings(max_examples=300, deadline=None)
@given(deflate(), st.sampled_from([GZIP, ZLIB, RAW]),
       st.sampled_from([0, 0x04, 0x08, 0x1C, 0x02, 0x20]),
       st.sampled_from(["ok"] * 4 + ["crc", "isize", "small", "big", "huge"]),
       st.sampled_from([b"", b"\x00" * 70, b"\x00" * 64 + b"x", b"garbage",
                        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00" + bytes(8)]),
       st.integers(0, 3), st.data())
def test_written_streams_decode_as_zlibs_steps_decode_them(
        raw: bytes, wbits: int, flags: int, trailer: str, tail: bytes, members: int,
        data: st.DataObject) -> None:
    stream = wrap(raw, wbits, flags, trailer) + tail
    if data.draw(st.integers(0, 5)) == 0:
        stream = stream[: data.draw(st.integers(0, len(stream)))]
    if stream and data.draw(st.integers(0, 5)) == 0:
        i = data.draw(st.integers(0, len(stream) - 1))
        stream = stream[:i] + bytes([stream[i] ^ data.draw(st.integers(1, 255))]) + \
            stream[i + 1:]
    want = _outcome(_zlib_stream_py, stream, wbits, 10**7)
    size = len(want[0]) if isinstance(want[0], bytes) else 100
    for budget in (10**7, size + 1, size, max(size - 1, 0), 1):
        same_or_none(stream, wbits, budget, members)


Item = tuple[str, int, int]
"""In a hand-made block: ("l", literal/length symbol, its extra bits' value), ("d",
distance symbol, extra), ("b", value, bit count: bits of no symbol)."""


def _code(syms: list[int], size: int) -> list[int]:
    """Lengths of a complete code over syms (two at least): k symbols, the first 2^d - k
    of length d - 1, the others of length d."""
    d = (len(syms) - 1).bit_length()
    lens = [0] * size
    for i, s in enumerate(sorted(syms)):
        lens[s] = d - 1 if i < 2**d - len(syms) else d
    return lens


def _items(w: Bits, lens: list[int], nlen: int, items: list[Item]) -> bytes:
    lit, dist = canonical(lens[:nlen]), canonical(lens[nlen:])
    for kind, value, extra in items:
        if kind == "b":
            w.put(value, extra)
        elif kind == "d":
            w.code(*dist[value])
            w.put(extra, DIST_EXTRA[value])
        else:
            w.code(*lit[value])
            if value > 256:
                w.put(extra, LEN_EXTRA[value - 257])
    return w.data()


def _dynamic(lens: list[int], nlen: int, items: list[Item],
             symbols: list[tuple[int, int]] | None = None) -> bytes:
    """One final dynamic block of `lens` (nlen literal/length lengths, then distances) sent
    as `symbols` (each length as itself unless given), then `items`."""
    symbols = rle(lens, False) if symbols is None else symbols
    used = sorted({s for s, _ in symbols})
    pre = _code(used if len(used) > 1 else [*used, 17 if used == [18] else 18], 19)
    w = Bits()
    w.put(1, 1)
    w.put(2, 2)
    w.put(nlen - 257, 5)
    w.put(len(lens) - nlen - 1, 5)
    w.put(15, 4)
    for s in PRE_ORDER:
        w.put(pre[s], 3)
    pc = canonical(pre)
    for s, extra in symbols:
        w.code(*pc[s])
        if s >= 16:
            w.put(extra, {16: 2, 17: 3, 18: 7}[s])
    return _items(w, lens, nlen, items)


def _fixed(items: list[Item]) -> bytes:
    w = Bits()
    w.put(1, 1)
    w.put(1, 2)
    return _items(w, FIXED, 288, items)


A, B = ord("a"), ord("b")
TWO = [1, 1] + [0] * 28
"""Distance lengths: distances 1 and 2, one bit each."""
FAR: list[Item] = [("l", A, 0)] + [("l", 285, 0), ("d", 0, 0)] * 96
"""24,769 bytes: a distance of symbol 30 (24,577 and more) reaches back into them."""


def _cases() -> dict[str, bytes]:
    """Raw deflate streams libdeflate 1.14 decodes and zlib refuses, one for each check of
    zwhole.c that keeps libdeflate from them, and a valid one."""
    lit4 = _code([A, B, 256, 257], 286)  # a, b, end of block, length 3: two bits each
    ok = lit4 + TWO
    end: list[Item] = [("l", 256, 0)]
    across = [0] * 286 + [3] * 8  # a, b: two bits; end, 3, 284, 285: three; distances: three
    across[A] = across[B] = 2
    across[256] = across[257] = across[284] = across[285] = 3
    items: list[Item] = [("l", A, 0), ("l", B, 0), ("l", 257, 0), ("d", 1, 0), *end]
    return {
        "valid": _dynamic(ok, 286, items),
        "valid, zeros repeated across the two codes": _dynamic(  # from 258 to distance 1
            lit4 + [0, 0, 1, 1] + [0] * 26, 286, [*items[:2], ("l", A, 0), ("l", 257, 0),
                                                  ("d", 2, 0), *end],
            rle(lit4 + [0, 0, 1, 1] + [0] * 26, True)),
        "valid, a length repeated across the two codes": _dynamic(  # 3, from 285 to 290
            across, 286, [("l", A, 0), ("l", 257, 0), ("d", 0, 0), *end], rle(across, True)),
        "fixed, length symbol 286": _fixed([("l", A, 0), ("l", 286, 0), ("d", 0, 0), *end]),
        "fixed, distance symbol 30": _fixed([*FAR, ("l", 257, 0), ("d", 30, 0), *end]),
        "287 length symbols": _dynamic(_code([A, B, 256, 286], 287) + TWO, 287,
                                       [("l", A, 0), ("l", 286, 0), ("d", 0, 0), *end]),
        "31 distance symbols": _dynamic(
            _code([A, B, 256, 257, 285, 0, 1, 2], 286) + _code([0, 30], 31), 286,
            [*FAR, ("l", 257, 0), ("d", 30, 0), *end]),
        "a repeat past the end": _dynamic(ok, 286, items, [*rle(ok, False)[:-1], (17, 0)]),
        "the unused distance codeword": _dynamic(
            [*lit4, 1] + [0] * 29, 286, [("l", A, 0), ("l", 257, 0), ("b", 1, 1), *end]),
        "an empty distance code": _dynamic(
            lit4 + [0] * 30, 286, [("l", A, 0), ("l", 257, 0), ("b", 0, 1), *end]),
        "the unused literal/length codeword": _dynamic([0] * 256 + [1] + TWO, 257,
                                                       [("b", 1, 1)]),
    }


def _libdeflate(raw: bytes) -> bytes | None:
    """raw decoded by libdeflate alone (None where it refuses it)."""
    name = ctypes.util.find_library("deflate")
    if name is None:
        pytest.skip("libdeflate not found by ctypes")
    lib = ctypes.CDLL(name)
    lib.libdeflate_alloc_decompressor.restype = ctypes.c_void_p
    lib.libdeflate_deflate_decompress_ex.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t)]
    d = lib.libdeflate_alloc_decompressor()
    out = ctypes.create_string_buffer(100_000)
    used, got = ctypes.c_size_t(), ctypes.c_size_t()
    r = lib.libdeflate_deflate_decompress_ex(d, raw, len(raw), out, 100_000, ctypes.byref(used),
                                             ctypes.byref(got))
    lib.libdeflate_free_decompressor(ctypes.c_void_p(d))
    return out.raw[: got.value] if r == 0 else None


@pytest.mark.parametrize("name", list(_cases()))
def test_streams_libdeflate_decodes_and_zlib_refuses(name: str) -> None:
    raw = _cases()[name]
    assert _libdeflate(raw) is not None
    refused = isinstance(_outcome(_zlib_stream_py, raw, RAW, 10**6)[0], str)
    assert refused == (not name.startswith("valid"))
    for wbits in (GZIP, ZLIB, RAW):
        stream = wrap(raw, wbits, 0, "ok")
        got = same_or_none(stream, wbits, 10**6, 1)
        assert (got is not None) == name.startswith("valid")


def test_bombs_and_lying_lengths() -> None:
    """Output up to and past the budget: a gzip member whose ISIZE says it is past goes to
    zlib's steps at once, one whose ISIZE lies after libdeflate (out of room, or a wrong
    length), a zlib or raw one when even the room after the first guess is short; each
    is cut where zlib's steps cut it."""
    payload = bytes(3_000_000)
    for wbits in (GZIP, ZLIB, RAW):
        for budget in (10**6, 3_000_000, 3_000_001):
            raw = _compress(payload, RAW, 9)
            for trailer in ("ok", "small", "isize"):
                stream = wrap(raw, wbits, 0, trailer)
                got = same_or_none(stream, wbits, budget, 1)
                fits = budget > len(payload) and (trailer == "ok" or wbits != GZIP)
                assert (got is not None) == fits


@pytest.mark.parametrize("cmf", [0x08, 0x18, 0x78, 0x88])
def test_the_window_a_zlib_header_names(cmf: int) -> None:
    """inflate does not hold distances to the window a zlib header names (CINFO), only
    refuses one past its own 2^15 (0x88): a match 7,000 bytes back decodes after any
    other header, in both, and the stream past 2^15 is refused without zs_whole."""
    rng = random.Random(3)
    block = rng.randbytes(2000)
    payload = block + rng.randbytes(5000) + block
    flg = (31 - cmf * 256 % 31) % 31
    data = bytes([cmf, flg]) + _compress(payload, RAW, 6) + \
        zlib.adler32(payload).to_bytes(4, "big")
    got = same_or_none(data, ZLIB, 10**6, 1)
    assert got == (payload if cmf != 0x88 else None)


def test_stored_blocks_then_one_huffman_block_are_answered() -> None:
    """Where zs_whole answers: stored blocks (each one's length read at the byte boundary
    after its three bits, the bytes read ahead given back) and a final one, stored (as zlib
    writes incompressible data) or dynamic."""
    rng = random.Random(5)
    noise = rng.randbytes(200_000)
    assert same_or_none(_compress(noise, RAW, 6), RAW, 10**6, 1) == noise
    w = Bits()
    for final, payload in ((0, b"abc"), (0, b""), (0, noise[:70_000 % 65536])):
        w.put(final, 1)
        w.put(0, 2)
        w.align()
        w.put(len(payload) | (~len(payload) & 0xFFFF) << 16, 32)
        for b in payload:
            w.put(b, 8)
    stream = w.data() + _cases()["valid"]  # the final block: a dynamic one
    got = same_or_none(stream, RAW, 10**6, 1)
    assert got is not None
    assert got.startswith(b"abc" + noise[:70_000 % 65536])


@pytest.mark.parametrize("level", [1, 6, 9])
def test_bodies_zlib_writes_are_answered(level: int) -> None:
    """JSON bodies as servers send them, one dynamic block each (its code lengths with
    repeats; zlib sends the two codes' lengths apart, so none across): zs_whole answers
    every one, in each wrapping."""
    rng = random.Random(level)
    for size in (40, 300, 1000, 3000, 8000):
        body = json.dumps([{"id": i, "ev": rng.choice(["open", "tap", "view"]), "v": rng.random()}
                           for i in range(size // 40)]).encode()
        for wbits in (GZIP, ZLIB, RAW):
            stream = _compress(body, wbits, level)
            if (stream[10 if wbits == GZIP else 2 if wbits == ZLIB else 0] >> 1 & 3) == 2:
                assert same_or_none(stream, wbits, 10**6, 1) == body
