"""Byte tests of the C walk against what they stand for: plausible (bytetests.h) against
decoders._plausible, whose UTF-8 test is bytes.decode("utf-8"); printable, read eight bytes
at a time, against decoders._printable; protobuf_may (protowire.h), which keeps a layer from
the protobuf decoder only where blackboxprotobuf would raise."""

from __future__ import annotations

import blackboxprotobuf
import pytest
from google.protobuf import struct_pb2
from hypothesis import example, given
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.decoders import _TEXT, _plausible, _printable

# Where UTF-8 is easy to get wrong: C0 C1 (overlong 2-byte), E0 80-9F (overlong 3-byte), ED A0-BF
# (surrogates), F0 80-8F (overlong 4-byte), F4 90+ (above U+10FFFF), F5-FF, lone continuations
EDGES = [b"\xc0\xaf", b"\xc1\xbf", b"\xc2\x80", b"\xdf\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf",
         b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xee\x80\x80",
         b"\xef\xbf\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf0\x90\x80\x80",
         b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\x80",
         b"\xbf", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc",
         b"\xe2\x82\xc3", b"\xf0\x9f\xc3\xa9", b"\xf0\x9f\x98\xe2"]

utf8ish = st.lists(st.sampled_from(EDGES) | st.text(max_size=4).map(
    lambda s: s.encode("utf-8", "surrogatepass")) | st.binary(max_size=3), max_size=12
).map(b"".join)


def _text_padded(x: bytes) -> bytes:
    """x behind three ASCII bytes for each of its bytes that is not text: a printable share
    of 0.75 when it has no text, so that only the UTF-8 test decides."""
    return b"a" * (3 * len(x.translate(None, _TEXT))) + x


def _mutations(b: bytes) -> st.SearchStrategy[bytes]:
    """b, cut short, with a byte changed, one inserted or one removed."""
    if not b:
        return st.just(b)
    at = st.integers(0, len(b) - 1)
    return st.one_of(
        st.just(b), st.integers(0, len(b)).map(lambda i: b[:i]),
        st.tuples(at, st.integers(0, 255)).map(lambda t: b[:t[0]] + bytes([t[1]]) + b[t[0] + 1:]),
        st.tuples(at, st.integers(0, 255)).map(lambda t: b[:t[0]] + bytes([t[1]]) + b[t[0]:]),
        at.map(lambda i: b[:i] + b[i + 1:]))


@given(utf8ish.flatmap(_mutations))
@example(("aaaaé" * 1000).encode() + b"\xff")  # past the 4096 bytes the share is taken of
@example(("aaaaé" * 1000).encode())
def test_plausible_is_decoders(x: bytes) -> None:
    for b in (x, _text_padded(x)):
        assert _detect.plausible(b) is _plausible(b), b


@pytest.mark.parametrize("edge", EDGES)
def test_plausible_utf8_edges(edge: bytes) -> None:
    for b in map(_text_padded, (edge, edge + b"\x80", edge + b"\xe2\x82\xac",
                                b"\xe2\x82\xac" + edge)):
        assert 0.6 < _printable(b) <= 0.85  # the UTF-8 test decides
        assert _detect.plausible(b) is _plausible(b), b
        # the bytes after the end are not read: a cut sequence stays cut
        assert _detect.plausible(memoryview(b + b"\xbf\xbf\xbf")[:len(b)]) is _plausible(b), b


@given(st.binary(max_size=40) | st.lists(st.sampled_from(b"\x00\x08\t\n\x0b\r\x1f \x7e\x7f"
                                                     b"\x80\xff"), max_size=40).map(bytes),
       st.integers(0, 4100))
@example(b"", 0)
def test_printable_is_decoders(x: bytes, pad: int) -> None:
    for b in (x, b"a" * pad + x, x + b"a" * pad):
        assert _detect.printable(b) == _printable(b), b


def test_printable_every_byte_at_every_offset() -> None:
    # each byte value at each place of a sixteen-byte block (SSE2), of an eight-byte word
    # and of the bytes after the last whole one, among text and among other bytes; and past
    # the 4096 bytes it reads
    for c in range(256):
        for size in (1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33):
            for at in range(size):
                for fill in (b"a", b"\x01"):
                    b = fill * at + bytes([c]) + fill * (size - at - 1)
                    assert _detect.printable(b) == _printable(b), b
        b = b"a" * 4095 + bytes([c]) * 9
        assert _detect.printable(b) == _printable(b), c


@example(b"\x01", 4096)  # 256 of each lane's sixteen: more than a byte counts in one part
@example(b"\x01", 2049)
@given(st.sampled_from([b"\x01", b"\x80", b"\x7f", b"\xff", b"\x01a", b"\x80\x01\t"]),
       st.integers(2000, 4200))
def test_printable_of_long_runs_of_other_bytes(other: bytes, size: int) -> None:
    # the sixteen-byte blocks count each lane's other bytes in a byte: read in parts that
    # keep it below 256
    b = (other * size)[:size]
    assert _detect.printable(b) == _printable(b), size


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        out.append(v & 0x7F | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def _field(number: int, wire: int, value: bytes | int) -> bytes:
    tag = _varint(number << 3 | wire)
    if wire == 0:
        assert isinstance(value, int)
        return tag + _varint(value)
    assert isinstance(value, bytes)
    return tag + (_varint(len(value)) + value if wire == 2 else value)


numbers = st.sampled_from([0, 1, 2, 15, 16, 127, 128, 2047, 2**29 - 1, 2**61 - 1]) \
    | st.integers(0, 200)
wire_fields = st.recursive(
    st.one_of(
        st.builds(_field, numbers, st.just(0), st.integers(0, 2**64 - 1)),
        st.builds(_field, numbers, st.just(1), st.binary(min_size=8, max_size=8)),
        st.builds(_field, numbers, st.just(5), st.binary(min_size=4, max_size=4)),
        st.builds(_field, numbers, st.just(2), st.binary(max_size=20))),
    lambda inner: st.builds(_field, numbers, st.just(2), st.lists(inner, max_size=4).map(
        b"".join)), max_leaves=10)
hand_made = st.lists(wire_fields, max_size=6).map(b"".join)

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3), max_leaves=8)


def _struct(d: dict[str, object]) -> bytes:
    s = struct_pb2.Struct()
    s.update(d)
    return s.SerializeToString()


real = st.dictionaries(st.text(max_size=5), json_values, max_size=4).map(_struct)


@given(st.one_of(st.binary(max_size=64), hand_made, real).flatmap(_mutations))
@example(b"\x0b\x00")  # a group
@example(b"\x00\x00")  # field 0, which bbpb takes
@example(b"\x08\x80\x00")  # a varint not in its shortest form
@example(b"\x08" + b"\xff" * 9 + b"\x01")  # 2^64 - 1: the largest it takes
@example(b"\x08" + b"\xff" * 9 + b"\x02")  # one bit more
@example(b"\x08\x01\x10\x01\x09" + b"\x00" * 8)  # field 1 again, another wire type
@example(b"\x0a\xf6\xff\xff\xff\xff\xff\xff\xff\xff\x01")  # a length bbpb reads as -10
def test_protobuf_may_refuses_only_what_bbpb_refuses(b: bytes) -> None:
    if _detect.protobuf_may(b):
        return  # bbpb runs as before (one of its lengths can loop forever: never called here)
    with pytest.raises(Exception):  # noqa: B017, PT011 - bbpb raises many kinds
        blackboxprotobuf.decode_message(b)  # so Decoder._protobuf gives no layers


@given(real)
def test_protobuf_may_takes_protobuf(b: bytes) -> None:
    assert _detect.protobuf_may(b)


@pytest.mark.parametrize("b", [
    b"\x0b\x00", b"\x0c", b"\x0e", b"\x0f",  # wire types 3 (a group), 4, 6, 7
    b"\x80", b"\x08", b"\x08\x80", b"\x0a", b"\x0a\x80",  # a tag, value or length cut short
    b"\x80\x00", b"\x08\x80\x00", b"\x0a\x80\x00",  # not the shortest form
    b"\x08" + b"\x80" * 9 + b"\x00", b"\x08" + b"\x80" * 9 + b"\x02",  # a tenth byte not 1
    b"\x08" + b"\x80" * 10 + b"\x01",  # an eleventh
    b"\x0a\x03ab", b"\x0d\x00\x00\x00", b"\x09" + b"\x00" * 7,  # past the end
    b"\x08\x01\x0d\x00\x00\x00\x00",  # field 1 again, another wire type
])
def test_protobuf_may_refuses(b: bytes) -> None:
    assert not _detect.protobuf_may(b)
    with pytest.raises(Exception):  # noqa: B017, PT011
        blackboxprotobuf.decode_message(b)


def test_protobuf_may_refuses_most_binary() -> None:
    """What the test is for: most bytes that are not protobuf never reach bbpb."""
    refused = sum(not _detect.protobuf_may(bytes([i, (i * 7) & 255, 0x81, 3])) for i in range(256))
    assert refused > 200
