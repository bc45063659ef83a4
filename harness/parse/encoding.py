"""Content decoding (gzip, deflate, br, zstd) under an output budget.

Every decoder here is incremental and stops once it has produced ``budget`` bytes, so a
10 GB gzip bomb costs at most ``budget`` bytes of memory and the time to inflate that much;
the result says it was cut. Used for HTTP ``Content-Encoding``, WebSocket
``permessage-deflate`` and (by ``harness.detect``) for compressed blobs found in payloads.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

try:  # built by setup.py with the package
    from harness.parse import _inflate
except ImportError:  # pragma: no cover - a checkout that was never built: all in Python
    _inflate = None  # type: ignore[assignment]

DEFAULT_BUDGET = 64 * 1024 * 1024
"""Output bytes one body may decode to before it is cut (64 MiB)."""

_STEP = 64 * 1024
"""Input fed to a decoder at a time; small so one step cannot blow up memory."""

_MEMBERS = 100_000
"""gzip members decoded at most (one more is begun past this many, then the rest dropped)."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """A body with its content codings undone, as far as they went."""

    data: bytes
    complete: bool
    """True when the whole input decoded within the budget without error."""
    notes: tuple[str, ...] = ()


def _zlib_stream(data: bytes, wbits: int, budget: int,
                 compiled: bool = True) -> tuple[bytes, bool, bool]:
    """Inflate with ``wbits``; returns (output, cut, finished). Raises zlib.error.

    Through ``_inflate`` (harness/parse/_inflate.c over zinflate.c, which the HTTP parsers
    compile in too) when it is built: the same steps without a decompressobj and three
    copies per body (most bodies are a kilobyte or two, where those cost more than
    inflating), or one libdeflate call where zwhole.c proves that gives zlib's answer
    (tests/parse/test_inflate_whole.py). ``compiled=False`` (or an unbuilt checkout) runs
    :func:`_zlib_stream_py`, the reference (tests/parse/test_encoding.py compares the two)."""
    if compiled and _inflate is not None:
        return _inflate.stream(data, wbits, budget, _STEP, _MEMBERS)
    return _zlib_stream_py(data, wbits, budget)


def _zlib_stream_py(data: bytes, wbits: int, budget: int, step: int = _STEP,
                    max_members: int = _MEMBERS) -> tuple[bytes, bool, bool]:
    """:func:`_zlib_stream` through the ``zlib`` module: the reference (``step`` and
    ``max_members`` other than their constants let tests reach those limits)."""
    out = bytearray()
    view = memoryview(data)
    pos = 0
    members = 0
    while True:  # one pass per gzip member (RFC 1952 2.2 allows several back to back)
        d = zlib.decompressobj(wbits)
        members += 1
        while not d.eof:
            if d.unconsumed_tail:
                chunk = d.unconsumed_tail
            elif pos < len(data):
                chunk = bytes(view[pos : pos + step])
                pos += len(chunk)
            else:
                break
            room = budget - len(out)
            if room <= 0:
                return bytes(out), True, False
            out += d.decompress(chunk, room)
        if not d.eof:
            if len(out) >= budget:
                return bytes(out), True, False
            return bytes(out), False, False
        pos -= len(d.unused_data)
        if wbits < 16 + 8 or not bytes(view[pos : pos + 64]).strip(b"\x00"):
            return bytes(out), False, True
        if members > max_members:
            return bytes(out), False, True


def _gzip(data: bytes, budget: int) -> tuple[bytes, bool, bool]:
    return _zlib_stream(data, 16 + zlib.MAX_WBITS, budget)


def _deflate(data: bytes, budget: int) -> tuple[bytes, bool, bool]:
    # HTTP "deflate" is zlib-wrapped by the RFC, raw deflate by many servers: take both.
    try:
        return _zlib_stream(data, zlib.MAX_WBITS, budget)
    except zlib.error:
        return _zlib_stream(data, -zlib.MAX_WBITS, budget)


def _brotli(data: bytes, budget: int) -> tuple[bytes, bool, bool]:
    import brotli  # here, as zstandard below: most runs use neither (see _codec_errors)

    d = brotli.Decompressor()
    out = bytearray()
    pos = 0
    while True:
        room = budget - len(out)
        if room <= 0:
            return bytes(out[:budget]), True, False
        if d.can_accept_more_data():
            if pos >= len(data):
                break
            chunk = data[pos : pos + _STEP]
            pos += len(chunk)
        else:
            chunk = b""
        out += d.process(chunk, output_buffer_limit=room)
    return bytes(out[:budget]), len(out) > budget, bool(d.is_finished())


def _zstd(data: bytes, budget: int) -> tuple[bytes, bool, bool]:
    # decompressobj has no output cap, so feed it little input at a time: one zstd byte can
    # stand for at most ~128 KiB (an RLE block), which bounds what one step can produce.
    import zstandard

    out = bytearray()
    pos = 0
    frames = 0
    while pos < len(data) and frames < 100_000:
        d = zstandard.ZstdDecompressor().decompressobj()
        frames += 1
        while not d.eof:
            if pos >= len(data):
                return bytes(out), False, False
            chunk = data[pos : pos + 256]
            pos += len(chunk)
            out += d.decompress(chunk)
            if len(out) >= budget:
                return bytes(out[:budget]), True, False
        pos -= len(d.unused_data)
    return bytes(out), False, True


_DECODERS = {
    "gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli, "zstd": _zstd,
}

SUPPORTED = frozenset(_DECODERS)


def _codec_errors() -> tuple[type[Exception], ...]:
    """What a decoder raises for input it cannot decode. brotli and zstandard are imported
    when a body uses them, or here, when a decoder has raised: not at every start (zstandard
    brings platform, ~10 M instructions of a ``harness analyze`` that decodes neither)."""
    import brotli
    import zstandard

    return (zlib.error, brotli.error, zstandard.ZstdError, OSError, ValueError)


def decompress(data: bytes, encoding: str, budget: int = DEFAULT_BUDGET) -> Decoded:
    """Decode one content coding. Never raises for bad input: the result says what failed."""
    name = encoding.strip().lower()
    if name in ("identity", ""):
        return Decoded(data, True)
    fn = _DECODERS.get(name)
    if fn is None:
        return Decoded(data, False, (f"content-encoding {name!r} not supported; body kept as"
                                     " sent",))
    try:
        out, cut, finished = fn(data, budget)
    except Exception as exc:
        if not isinstance(exc, _codec_errors()):
            raise
        return Decoded(data, False, (f"content-encoding {name}: cannot decode ({exc});"
                                     " body kept as sent",))
    notes: list[str] = []
    if cut:
        notes.append(f"content-encoding {name}: output cut at the budget of {budget} bytes"
                     f" ({len(data)} bytes in); the rest was not decoded")
    elif not finished:
        notes.append(f"content-encoding {name}: stream ends early (truncated); decoded"
                     f" {len(out)} bytes")
    return Decoded(out, not cut and finished, tuple(notes))


def decode_content(data: bytes, encodings: Sequence[str],
                   budget: int = DEFAULT_BUDGET) -> Decoded:
    """Undo a ``Content-Encoding`` list (applied in order, so undone in reverse)."""
    notes: list[str] = []
    complete = True
    for enc in reversed([e for e in encodings if e.strip()]):
        res = decompress(data, enc, budget)
        notes += res.notes
        if not res.complete and res.data is data:
            return Decoded(data, False, tuple(notes))  # could not decode: stop here
        data = res.data
        complete = complete and res.complete
    return Decoded(data, complete, tuple(notes))


def parse_encodings(value: str | None) -> tuple[str, ...]:
    """``Content-Encoding: gzip, br`` → ("gzip", "br")."""
    if not value:
        return ()
    return tuple(p.strip().lower() for p in value.split(",") if p.strip())
