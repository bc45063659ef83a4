"""A byte test of the C walk against what it stands for: plausible (bytetests.h) against
decoders._plausible, whose UTF-8 test is bytes.decode("utf-8")."""

from __future__ import annotations

import pytest
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
