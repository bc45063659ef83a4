"""Base64 in C (harness/detect/b64.c, which expand.c runs) against the Python function it
stands for (decoders._b64decode, which the Python walk runs): the same bytes or the same None
for valid, unpadded, over-padded, URL-safe, mixed-alphabet, whitespace and garbage input."""

from __future__ import annotations

import base64
import itertools

from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.decoders import _b64decode

ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"


def _unpadded(b: bytes) -> bytes:
    return base64.b64encode(b).rstrip(b"=")


def _mixed(b: bytes) -> bytes:
    """Standard and URL-safe characters in one string (each half in one alphabet)."""
    enc = base64.b64encode(b)
    half = len(enc) // 2
    return enc[:half] + enc[half:].replace(b"+", b"-").replace(b"/", b"_")


encoded = st.binary(max_size=64).flatmap(lambda b: st.sampled_from([
    base64.b64encode(b), base64.urlsafe_b64encode(b), _unpadded(b),
    base64.urlsafe_b64encode(b).rstrip(b"="), _mixed(b), base64.b64encode(b) + b"==",
    base64.b64encode(b) + b"=", base64.b64encode(b) + b"\n", b" " + base64.b64encode(b),
    base64.encodebytes(b), base64.b64encode(b)[:-1], base64.b64encode(b)[1:],
]))
# cut, joined, or with a byte put in: padding in the middle, a character too many
edited = st.builds(lambda s, i, c: s[:i] + c + s[i:], encoded, st.integers(0, 90),
                   st.sampled_from([b"=", b"==", b"A", b"-", b" ", b"\t", b"\x00", b"\xff",
                                    b".", b"", b"\r\n"]))
inputs = encoded | edited | st.binary(max_size=40) | st.lists(
    st.sampled_from([*ALPHABET, 61, 61, 32, 10, 0, 0x80]), max_size=40).map(bytes)


@settings(max_examples=1000, deadline=None)
@given(inputs)
@example(b"")
@example(b"====")
@example(b"AAAA=")  # '=' after a whole group: 3.11 skips it
@example(b"AAAA==")
@example(b"AAAAA")  # a character too many
@example(b"QR==")  # bits past the last byte are dropped, not checked
@example(b"QQ=")
@example(b"QQ=A")
@example(b"QUJD-_+/")
def test_c_base64_is_the_python_one(s: bytes) -> None:
    assert _detect.b64decode(s) == _b64decode(s)


def test_every_short_string_of_the_bytes_that_matter() -> None:
    """Exhaustive up to 5 bytes over characters of both alphabets, '=', whitespace, a NUL,
    a high byte and a dot: every padding and alphabet rule meets every other."""
    chars = [bytes([c]) for c in b"AQR/-_=+ \n\x00\x80."]
    for n in range(6):
        for t in itertools.product(chars, repeat=n):
            s = b"".join(t)
            assert _detect.b64decode(s) == _b64decode(s), s


def test_large_and_buffer_inputs() -> None:
    blob = bytes(range(256)) * 400
    enc = base64.urlsafe_b64encode(blob).rstrip(b"=")
    assert _detect.b64decode(enc) == _b64decode(enc) == blob
    assert _detect.b64decode(memoryview(enc)) == blob  # type: ignore[arg-type]


def test_every_byte_in_every_place_of_a_group() -> None:
    """Each of the 256 bytes in each place of a whole group, of a last group of two or three
    characters, and of the padding (the C decoder looks a character up in its place's table,
    and finds the body before the '=' at the end first)."""
    for c in range(256):
        for s in (b"QUJD", b"QUI", b"QQ", b"QUJDQUI", b"QUJDQQ==", b"QUI=", b"QUJD="):
            for i in range(len(s)):
                t = s[:i] + bytes([c]) + s[i + 1:]
                assert _detect.b64decode(t) == _b64decode(t), t
