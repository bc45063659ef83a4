"""A length that blackboxprotobuf reads as negative (protowire.h, protowire.py): bbpb's field
loop steps back on it and may never end, its lists growing. The walk refuses such a layer
with a note, wherever bbpb would meet the length (the top level, or a payload it tries as a
message); it never refuses real protobuf; and the C test and its Python twin agree."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import blackboxprotobuf
import pytest
from google.protobuf import struct_pb2
from hypothesis import example, given
from hypothesis import strategies as st

from harness.detect import _detect, protowire
from harness.detect.decoders import Decoder, Layer
from harness.detect.finding import Needle
from harness.detect.findings import find
from harness.device.base import NeedleClass
from harness.parse.message import Message, MessageKind
from harness.testing.runbuilder import RunBuilder
from tests.detect.test_bytetests import _field, _mutations, _varint, hand_made, real

NEGATIVE = b"\xf5" + b"\xff" * 8 + b"\x01"
"""A ten-byte varint with bit 63 set: bbpb's decode_varint reads it as -11."""
TOP = b"\x0a" + NEGATIVE
"""Field 1, length-delimited, the length negative: the top level loops."""
NESTED = _field(1, 0, 150) + _field(2, 2, _field(3, 0, 1) + TOP) + _field(4, 2, b"abcd")
"""A valid top level whose second field's payload holds it: bbpb tries the payload as a
message and loops there."""
NEEDLE = Needle("android-id", NeedleClass.DEVICE_ID, "a1b2c3d4e5f60718", "device")
NOTE = "protobuf: a field length reads negative"

CHILD = """
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # a regression fails, not swaps
from harness.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = main(["analyze", sys.argv[1]])
print(json.dumps({"rc": rc, "out": out.getvalue()}))
"""


def hazard(b: bytes) -> bool:
    """The C test, held equal to the Python twin on every input it is given here."""
    got = _detect.protobuf_hazard(b)
    assert protowire.protobuf_hazard(b) is got, b
    return got


def test_the_reproducers_are_refused() -> None:
    assert hazard(TOP)
    assert hazard(NESTED)
    assert _detect.protobuf_may(TOP)  # the top-level test lets both pass: this one is needed
    assert _detect.protobuf_may(NESTED)


def test_a_level_bbpb_raises_on_first_is_no_hazard() -> None:
    assert not hazard(b"\x0b" + TOP)  # a group first: bbpb raises before the length
    assert not hazard(_field(1, 0, 1) + TOP)  # field 1 again as another wire type
    # a payload that raises falls back to bytes: what follows it in the payload is not read
    assert not hazard(_field(2, 2, b"\x0f" + TOP))
    assert hazard(_field(2, 2, b"") + _field(3, 2, TOP))  # an empty payload before it
    # a payload bbpb never tries: the level around it raises
    assert not hazard(_field(2, 2, TOP) + b"\x0f")


def test_depth() -> None:
    deep = _field(1, 0, 1)
    for _ in range(protowire.MAX_DEPTH):
        deep = _field(1, 2, deep)
    assert not hazard(deep)  # MAX_DEPTH levels of payloads, a varint at the bottom
    assert hazard(_field(1, 2, deep))  # one more: past where the walk looks
    assert not hazard(_field(1, 2, _field(1, 2, b"")))  # an empty payload is {} to bbpb


def _insert(t: tuple[bytes, int, int]) -> bytes:
    b, at, v = t
    at %= len(b) + 1
    return b[:at] + b"\x0a" + _varint(v) + b[at:]


with_negative = st.tuples(st.one_of(hand_made, real), st.integers(0, 1 << 20),
                          st.integers(2**63, 2**64 - 1)).map(_insert)
"""Real and hand-made messages with a negative length put in anywhere: mostly where bbpb
raises before it, sometimes where it reaches it."""


@given(st.one_of(st.binary(max_size=64), hand_made, real, with_negative).flatmap(_mutations))
@example(TOP)
@example(NESTED)
@example(b"\x0a" + b"\xff" * 9 + b"\x01")  # -1
@example(b"\x0a\x80" + b"\x80" * 8 + b"\x01")  # -2^63, the least
@example(b"\x0a" + b"\xff" * 8 + b"\x7f")  # 2^63 - 1: not negative, past the end
def test_c_and_python_agree(b: bytes) -> None:
    hazard(b)


@given(st.one_of(hand_made, real))
def test_real_protobuf_is_never_refused(b: bytes) -> None:
    assert not hazard(b)


level = st.tuples(st.lists(st.one_of(
    st.builds(lambda n, v: (n, _field(n, 0, v)), st.integers(0, 300), st.integers(0, 2**64 - 1)),
    st.builds(lambda n, v: (n, _field(n, 1, v)), st.integers(0, 300),
              st.binary(min_size=8, max_size=8)),
    st.builds(lambda n, v: (n, _field(n, 2, v)), st.integers(0, 300), hand_made)),
    max_size=6, unique_by=lambda t: t[0]), st.integers(0, 6))
"""A level's other fields, each number once (so that it splits whatever they hold), and
where among them the next level goes."""


@given(st.lists(level, min_size=1, max_size=6), st.integers(2**63, 2**64 - 1))
def test_a_reachable_negative_length_is_always_refused(
        path: list[tuple[list[tuple[int, bytes]], int]], v: int) -> None:
    """A negative length at the bottom of a path of levels that split, each holding the
    next as a payload among other fields: bbpb reaches it, and so does the walk."""
    b = b"\x0a" + _varint(v)
    for fields, at in reversed(path):
        other = [f for _, f in fields]
        b = b"".join(other[:at]) + _field(1000, 2, b) + b"".join(other[at:])
    assert hazard(b)


@pytest.mark.timeout(60)  # a wrong answer hangs bbpb, which grows a few MB a second
@given(st.one_of(with_negative, with_negative.flatmap(_mutations), hand_made, real))
@example(_field(2, 2, b"\x0f" + TOP))
@example(_field(2, 2, TOP) + b"\x0f")
def test_bbpb_ends_wherever_no_hazard_is_seen(b: bytes) -> None:
    """What the refusal is for: where the walk lets bbpb run, bbpb ends."""
    if hazard(b):
        return
    with contextlib.suppress(Exception):  # bbpb raises many kinds; ending is what counts
        blackboxprotobuf.decode_message(b)


def _request(body: bytes, mid: str) -> Message:
    return Message(id=mid, kind=MessageKind.REQUEST, t=1.0, direction="out",
                   source="native.tls", method="POST", host="pb.test",
                   url=f"https://pb.test/p?id={NEEDLE.value}", body=body, phase="p")


@pytest.mark.timeout(60)
def test_python_walk_notes_and_c_walk_hands_back() -> None:
    layers = list(Decoder().expand(Layer(("body",), NESTED)))
    assert [x.chain for x in layers] == [("body",)]  # no protobuf children, no hang
    notes_c: list[str] = []
    notes_py: list[str] = []
    msgs = [_request(TOP, "m1"), _request(NESTED, "m2")]
    got_c = find(msgs, [NEEDLE], notes=notes_c)
    got_py = find(msgs, [NEEDLE], notes=notes_py, compiled=False)
    assert got_c == got_py
    assert {f.message for f in got_c} == {"m1", "m2"}  # the URL's needle, in both
    assert notes_c == notes_py
    assert [n.split(":", 1)[0] for n in notes_c if NOTE in n] == ["m1", "m2"]


def test_analyze_finishes_with_a_note_and_the_rest(tmp_path: Path) -> None:
    b = RunBuilder(tmp_path).phase("p")
    b.needle(NEEDLE.name, NEEDLE.cls.value, NEEDLE.value)
    b.request("top.test", "/p", body=TOP, headers=[("Content-Type", "application/x-protobuf")])
    b.request("nested.test", f"/p?id={NEEDLE.value}", body=NESTED)
    b.request("form.test", "/f", body=f"id={NEEDLE.value}".encode())
    good = _field(1, 2, _field(2, 2, NEEDLE.value.encode()))
    b.request("good.test", "/g", body=good)
    s = struct_pb2.Struct()
    s.update({"id": NEEDLE.value})
    b.request("struct.test", "/s", body=s.SerializeToString())
    run = b.build(analyze=False)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(run.path)], capture_output=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    res = json.loads(proc.stdout)
    assert res["rc"] == 0, res
    assert str(res["out"]).count(NOTE) == 2, res["out"]
    findings = json.loads((run.path / "findings.json").read_text())
    chains = {(f["host"], tuple(f["chain"])) for f in findings}
    hosts = {h for h, _ in chains}
    assert {"nested.test", "form.test", "good.test", "struct.test"} <= hosts, findings
    assert not any("protobuf:" in s for h, c in chains if h in ("top.test", "nested.test")
                   for s in c)
    assert any(c[-1].startswith("protobuf:") for h, c in chains if h == "good.test"), chains
