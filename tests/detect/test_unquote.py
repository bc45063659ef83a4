"""Percent-decoding in C (_detect.unquote, which the form decoder runs) against
urllib.parse.unquote_to_bytes, which it stands for: the same bytes for escapes of either case,
cut ones, '%' next to '%', and bytes that are not ASCII."""

from __future__ import annotations

import urllib.parse

from hypothesis import example, given
from hypothesis import strategies as st

from harness.detect import _detect

pieces = st.sampled_from([b"%", b"%%", b"%2F", b"%2f", b"%2", b"%g0", b"%0g", b"%4", b"41",
                          b"%E9", b"%C3%A9", b"+", b"=", b"&", b"\xff", b"\x00", b"a", b"F"])


@given(st.lists(pieces | st.binary(max_size=4), max_size=20).map(b"".join))
@example(b"")
@example(b"%")
@example(b"%4%41")  # a cut escape, then a whole one: "%4A"
@example(b"%%41")
@example(b"abc%4")
@example(b"%AF%af%aF")
def test_unquote_is_urllib(b: bytes) -> None:
    assert _detect.unquote(b) == urllib.parse.unquote_to_bytes(b)
    # no byte past the end is read: an escape cut at the end stays cut
    cut = memoryview(b + b"41")[:len(b)]
    assert _detect.unquote(cut) == urllib.parse.unquote_to_bytes(b)  # type: ignore[arg-type]
