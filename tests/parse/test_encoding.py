"""encoding._zlib_stream in C (``_inflate``) against its Python reference: the same output,
cut and finished flags, or the same zlib.error text, on generated gzip, zlib and raw
deflate streams (several members, trailing bytes, truncated, corrupted, under budgets that
end anywhere, fed in steps small enough to end anywhere too)."""

from __future__ import annotations

import gzip
import random
import threading
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.parse import encoding
from harness.parse.encoding import _zlib_stream_py, decode_content

_inflate = pytest.importorskip("harness.parse._inflate")

GZIP, ZLIB, RAW = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS


def _outcome(fn: object, *args: object) -> object:
    try:
        return fn(*args)  # type: ignore[operator]
    except zlib.error as exc:
        return ("zlib.error", str(exc))


def _same(data: bytes, wbits: int, budget: int, step: int = encoding._STEP,
          members: int = encoding._MEMBERS) -> object:
    want = _outcome(_zlib_stream_py, data, wbits, budget, step, members)
    got = _outcome(_inflate.stream, data, wbits, budget, step, members)
    assert got == want
    return got


def _compress(payload: bytes, wbits: int, level: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return c.compress(payload) + c.flush()


_payloads = st.one_of(
    st.binary(max_size=3000),  # little to compress: stored blocks
    st.lists(st.sampled_from([b"a", b"bc", b"\x00", b"token=", b"\xff" * 40]),
             max_size=400).map(b"".join),  # repetitive: back references
)


@st.composite
def _streams(draw: st.DrawFn) -> tuple[bytes, int]:
    wbits = draw(st.sampled_from([GZIP, ZLIB, RAW]))
    level = draw(st.integers(0, 9))
    data = b"".join(_compress(p, wbits, level)
                    for p in draw(st.lists(_payloads, min_size=1, max_size=3)))
    # after a gzip member, 64 bytes are looked at for another: NULs alone end the stream
    tail = draw(st.sampled_from([b"", b"\x00" * 70, b"\x00" * 3 + b"x", b"garbage",
                                 b"\x00" * 63 + b"x", b"\x00" * 64 + b"x",
                                 gzip.compress(b"next", mtime=0)]))
    data += tail
    if draw(st.booleans()):  # truncated
        data = data[: draw(st.integers(0, len(data)))]
    if data and draw(st.booleans()):  # one byte changed
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    return data, wbits


@settings(max_examples=600, deadline=None)
@given(_streams(), st.integers(-1, 9000), st.integers(1, 300), st.integers(1, 4))
@example((b"", GZIP), 0, 64, 3)  # nothing, no budget: cut
@example((b"", GZIP), 5, 64, 3)  # nothing: not finished
def test_inflate_matches_the_reference(stream: tuple[bytes, int], budget: int, step: int,
                                       members: int) -> None:
    data, wbits = stream
    _same(data, wbits, budget, step, members)
    _same(data, wbits, budget)


@pytest.mark.parametrize("wbits", [GZIP, ZLIB, RAW])
def test_budget_ending_at_every_edge_of_the_output(wbits: int) -> None:
    payload = b"".join(b"%d," % i for i in range(3000))
    data = _compress(payload, wbits, 6)
    if wbits == GZIP:
        data += _compress(payload[:500], wbits, 1)
    for budget in (0, 1, 499, 500, 501, len(payload) - 1, len(payload), len(payload) + 1,
                   len(payload) + 500, len(payload) + 501):
        for step in (1, 7, len(data)):
            _same(data, wbits, budget, step)


def test_steps_of_the_real_size_across_a_large_body() -> None:
    # incompressible, so the input spans several 64 KiB steps; cut inside and past them
    payload = random.Random(7).randbytes(300_000)
    data = gzip.compress(payload, mtime=0)
    assert len(data) > 3 * encoding._STEP
    for budget in (1, encoding._STEP, 2 * encoding._STEP + 17, len(payload), 10**9):
        assert _same(data, GZIP, budget)[0] == payload[:budget]  # type: ignore[index]


def test_member_limit_and_the_error_text() -> None:
    one = gzip.compress(b"m", mtime=0)
    out, cut, finished = _same(one * 6, GZIP, 100, encoding._STEP, 3)  # type: ignore[misc]
    assert (out, cut, finished) == (b"mmmm", False, True)  # one member begun past the limit
    assert _same(b"not gzip at all", GZIP, 100) == (
        "zlib.error", "Error -3 while decompressing data: incorrect header check")


def test_a_body_through_either_path() -> None:
    data = gzip.compress(b"hello" * 100, mtime=0) + b"garbage"
    assert _outcome(encoding._zlib_stream, data, GZIP, 1000) == _same(data, GZIP, 1000)
    res = decode_content(data, ("gzip",), 1000)
    assert res.notes == ("content-encoding gzip: cannot decode (Error -3 while decompressing"
                         " data: incorrect header check); body kept as sent",)


@pytest.mark.parametrize("name", ["br", "zstd"])
def test_a_broken_body_of_a_lazily_imported_codec_is_a_note(name: str) -> None:
    """brotli and zstandard are imported when used: their errors are still a note."""
    res = encoding.decompress(b"\xff" * 64, name, 1000)
    assert not res.complete
    assert res.data == b"\xff" * 64
    assert res.notes[0].startswith(f"content-encoding {name}: cannot decode (")


def test_the_parsers_step_and_member_limit_are_encodings() -> None:
    """zinflate.h's ZS_STEP and ZS_MEMBERS, which the parsers' bodies are inflated with."""
    assert (_inflate.STEP, _inflate.MEMBERS) == (encoding._STEP, encoding._MEMBERS)


def _gzip_member(payload: bytes, flags: int = 0, header_crc: int | None = None,
                 crc: int | None = None, isize: int | None = None) -> bytes:
    """A gzip member written by hand: flags (FHCRC 0x02 adds the header's CRC-16, right or
    ``header_crc``), and a trailer with the right CRC-32 and length unless given."""
    head = bytes([0x1F, 0x8B, 8, flags, 0, 0, 0, 0, 0, 255])
    if flags & 0x02:
        hc = zlib.crc32(head) & 0xFFFF if header_crc is None else header_crc
        head += hc.to_bytes(2, "little")
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = c.compress(payload) + c.flush()
    return head + body + (zlib.crc32(payload) if crc is None else crc).to_bytes(4, "little") \
        + (len(payload) if isize is None else isize).to_bytes(4, "little")


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 63, 64, 65, 79, 80, 127, 128, 129, 1000,
                                  4096, 70_000])
def test_gzip_trailers_checked_as_zlib_checks_them(size: int) -> None:
    """zinflate.c checks a gzip member's CRC-32 and length itself (folded CRC where the
    processor can), and leaves a member whose header has a CRC to zlib: every trailer byte
    wrong, and header CRCs right and wrong, give what the zlib module gives."""
    rng = random.Random(size)
    payload = (rng.randbytes(size // 2) + b"ab" * (size // 8) + bytes(size))[:size]
    assert len(payload) == size  # the budget of `size` ends where the member's output does
    crc = zlib.crc32(payload)
    members = [_gzip_member(payload), _gzip_member(payload, 0x02),
               _gzip_member(payload, 0x02, header_crc=0x1234),
               _gzip_member(payload, crc=crc ^ 1), _gzip_member(payload, crc=crc ^ 0x80000000),
               _gzip_member(payload, isize=size + 1), _gzip_member(payload, isize=size + 2**24),
               _gzip_member(payload, 0x02, crc=crc ^ 0x100)]
    good = _gzip_member(payload)
    for m in members:
        for data in (m, good + m, m + good, m + b"\x00" * 70):
            for step in (encoding._STEP, 5):
                _same(data, GZIP, 10**6, step)
            _same(data, GZIP, size)  # the budget ending at the member's end
            _same(data, 32 + zlib.MAX_WBITS, 10**6)  # zlib or gzip as the header says: zlib checks
        # the trailer cut short, or read in two steps with the budget spent after the first:
        # inflate has read (and checked) the CRC-32 and waits for the length
        for cut in (1, 4, 5):
            _same(m[:-cut], GZIP, 10**6)
        _same(m, GZIP, size, len(m) - 4)
        _same(m, GZIP, size, len(m) - 2)
    wrapped = _compress(payload, ZLIB, 6)  # zlib's own trailer (Adler-32), not gzip's
    for data in (wrapped, wrapped[:-1] + bytes([wrapped[-1] ^ 1])):
        _same(data, 32 + zlib.MAX_WBITS, 10**6)
        _same(data, ZLIB, 10**6)
    for offset in range(16):  # where the output starts against 16-byte blocks
        data = gzip.compress(bytes(offset) + payload, mtime=0)
        assert _same(data, GZIP, 10**6)[0] == bytes(offset) + payload  # type: ignore[index]


def test_the_kept_inflate_state_after_every_ending() -> None:
    """zinflate.c keeps one inflate state and resets it for the next member or body: after
    a refused window size, a corrupt stream, a truncated one, a cut one and each kind of
    wrapping (window sizes from 2^8 to 2^15), the next body inflates as from a fresh one."""
    payload = bytes(range(256)) * 40 + b"tail" * 300
    bodies = [(_compress(payload, w, 6), w) for w in (GZIP, ZLIB, RAW, 16 + 9, -9, 9)]
    bodies += [(_compress(payload, ZLIB, 6), 32 + zlib.MAX_WBITS), (_compress(payload, 9, 6), 0)]
    broken = [(bodies[0][0][:-9], GZIP),
              (bodies[1][0][:40] + b"\xff" * 8 + bodies[1][0][48:], ZLIB),
              (bodies[0][0], RAW), (_compress(payload, ZLIB, 6), 8)]
    for before in broken + bodies + [(b"x", 99), (b"x", -16)]:
        for data, wbits in bodies:
            if before[1] in (99, -16):  # no window of that size: refused by the reset
                for fn in (_inflate.stream, _zlib_stream_py):
                    with pytest.raises(ValueError, match="Invalid initialization option"):
                        fn(before[0], before[1], 10**6, encoding._STEP, encoding._MEMBERS)
            else:
                _same(before[0], before[1], 10**6)
                _same(before[0], before[1], 100)  # cut by the budget
            assert _same(data, wbits, 10**6)[0] == payload  # type: ignore[index]


def test_inflating_in_threads() -> None:
    """A chunk of 16 KiB or more inflates with the GIL released: another thread inflating
    meanwhile gets an inflate state of its own, not the one kept (zinflate.c)."""
    rng = random.Random(7)
    payloads = [rng.randbytes(40_000) + bytes(i * 1000) for i in range(6)]
    streams = [(gzip.compress(p, 1), GZIP) for p in payloads] + \
        [(_compress(p, RAW, 1), RAW) for p in payloads]
    wrong: list[int] = []

    def work(seed: int) -> None:
        order = random.Random(seed)
        for _ in range(40):
            i = order.randrange(len(streams))
            got = _inflate.stream(*streams[i], 10**7, encoding._STEP, 3)
            if got != (payloads[i % len(payloads)], False, True):
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
