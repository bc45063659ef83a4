"""The form decoder in C (harness/detect/form.c, which children.c runs) against Decoder._form,
its reference: the same children, chains and bytes in the same order, for generated forms
full of what _form decides on (Sensors uploads and their crc, Mixpanel's token, names that
come twice or that different escapes decode to alike, %-escapes good and bad)."""

from __future__ import annotations

import base64
import gzip
import json
import urllib.parse

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.decoders import _FORM, Decoder, java_hash_py


def reference(body: bytes) -> list[tuple[tuple[str, ...], bytes]]:
    return [(c.chain, c.data) for c in Decoder()._form(body, ())]


names = st.sampled_from(["data", "data_list", "gzip", "crc", "ip", "verbose", "a", "x%41",
                         "%64ata", "da%74a_list", "%ff", "%FE", "%e2%82%ac", "%e2%82", "a%",
                         "$x", "a[0]", "a.b", "-", "%%41"]) \
    | st.text("abcdz_.%[]$-019", min_size=1, max_size=6)
_PAYLOAD = base64.b64encode(gzip.compress(json.dumps([{"id": "x"}]).encode())).decode()
values = st.sampled_from([
    "", "1", _PAYLOAD, urllib.parse.quote(_PAYLOAD, safe=""), _PAYLOAD[:-3], "aGVsbG8=",
    base64.b64encode(b'{"token": "t"}').decode(), '  {"$token": 1}', '[1, "\\"token\\""]',
    "%7B%22token%22%3A1%7D", " " + base64.b64encode(b'x"$token"').decode() + "\n", "12",
    "-5", "--1", "0012", "99999999999", "-2147483648", "%ZZ", "%4", "%c3%a9%", "a=b=c",
    "\u20ac", "\udcff"]).map(lambda s: s.encode("utf-8", "surrogateescape")) \
    | st.binary(max_size=30).map(lambda b: b.replace(b"&", b""))


@st.composite
def forms(draw: st.DrawFn) -> bytes:
    fields = draw(st.lists(st.tuples(names, values), min_size=1, max_size=7))
    parts = [n.encode() + b"=" + v for n, v in fields]
    if draw(st.booleans()):  # the crc the payload has, as the Sensors SDK sends it
        payload = next((urllib.parse.unquote_to_bytes(v) for n, v in reversed(fields)
                        if n in ("data_list", "data")), b"")
        crc = java_hash_py(payload.decode("utf-8", "replace"))
        parts.insert(draw(st.integers(0, len(parts))), f"crc={crc}".encode())
    return b"&".join(parts)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(forms())
@example(b"gzip=1&data_list=" + _PAYLOAD.encode() + b"&crc="
         + str(java_hash_py(_PAYLOAD)).encode())
@example(b"gzip=1&data=" + urllib.parse.quote(_PAYLOAD, safe="").encode() + b"&data_list=&crc=1")
@example(b"data=" + base64.b64encode(b'{"token": "t"}') + b"&verbose=1&%64ata=x")
@example(b"%ff=1&%fe=2&a=3&a=4")  # two escapes that decode to the same U+FFFD name
@example(b"a=&b=")
# Mixpanel's data with whitespace around its base64 (stripped before decoding): the
# generator seldom makes it, and a form.c without the strip passed
@example(b"verbose=1&data=%20" + base64.b64encode(b'{"token": "t"}') + b"%0A")
def test_the_form_decoder_in_c_gives_decoder_form(body: bytes) -> None:
    got = _detect.form(body)
    assert got is not None
    assert got == reference(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | st.lists(st.sampled_from(
    [b"a", b"=", b"&", b"%", b"1", b"\n", b" ", b"[", b"\xe9"]), max_size=12).map(b"".join))
@example(b"=a&b=1")
@example(b"a=1&")
@example(b"a=1&&b=2")
@example(b"a=1\n")
def test_the_c_form_decoder_takes_what_form_matches(body: bytes) -> None:
    """What _decode gives _form (stripped; _detect.form asks form_whole, as children.c)."""
    body = body.strip()
    got = _detect.form(body)
    assert (got is not None) == bool(_FORM.match(body) and b"=" in body)
    if got is not None:
        assert got == reference(body)
