"""findings.json's lines in C (findinglines.c) against the reference (finding.py's json_lines):
the same bytes for generated findings, with every kind of string, time and field type,
one after another (so that the C's caches of a class's value and of a time are hit and
missed); the repr of a float (floatrepr.c) against Python's on generated doubles, the ones
its integer path takes most of all."""

from __future__ import annotations

import math
import random
import struct

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.capture.rundir import RunDir
from harness.detect import finding as finding_mod
from harness.detect.finding import Finding, findings_json, json_lines
from harness.device.base import NeedleClass
from tests.detect.test_finding import EDGES, findings, shared

outjson = pytest.importorskip("harness.detect._outjson")


def bits(b: int) -> float:
    x: float = struct.unpack("<d", struct.pack("<Q", b))[0]
    return x


# doubles the integer path takes: 1 <= |x| < 2**52 (biased exponents 1023 to 1074), every
# mantissa; and any double at all (the fallback's)
FAST = st.builds(lambda e, m, s: bits(s << 63 | e << 52 | m), st.integers(1023, 1074),
                 st.integers(0, 2**52 - 1), st.integers(0, 1))
ANY = st.floats(allow_nan=False, allow_infinity=False)
# a short decimal and its neighbours: where the shortest digits are fewest
SHORT = st.builds(lambda k, q, step: math.nextafter(k / 10**q, math.inf) if step > 0
                  else math.nextafter(k / 10**q, 0) if step < 0 else k / 10**q,
                  st.integers(1, 10**17), st.integers(0, 17), st.integers(-1, 1))


@given(FAST | ANY | SHORT)
@example(1796583065.8200746)
@example(4503599627370495.5)   # the largest the integer path takes
@example(4503599627370496.0)   # 2**52: the fallback's
@example(1125899906842624.25)  # between 2**50 and 2**51, an odd quarter: the ties'
@example(-1125899906842625.75)
@example(1.0)
@example(2.0**-1)
@example(9.999999999999998)
@example(5e-324)
@example(-0.0)
def test_float_repr_is_repr(x: float) -> None:
    assert outjson.float_repr(x) == repr(x)


def test_float_repr_many() -> None:
    """200,000 random doubles of the integer path's range, and powers of two (the
    interval's lower end is half as far) with their neighbours."""
    rnd = random.Random(17)
    for _ in range(200_000):
        x = bits(rnd.randint(1023, 1074) << 52 | rnd.getrandbits(52))
        assert outjson.float_repr(x) == repr(x)
    for e in range(1000, 1080):
        for m in (0, 1, 2, 2**52 - 1):
            x = bits(e << 52 | m)
            assert outjson.float_repr(x) == repr(x)


def test_float_repr_ties() -> None:
    """Between 2**50 and 2**51 an odd quarter is the one place where two shortest decimals
    are as near (x.x25 and x.x75, one digit after the point): the even one."""
    rnd = random.Random(5)
    for _ in range(2000):
        x = 2.0**50 + rnd.getrandbits(50) + rnd.choice((0.25, 0.75))
        assert outjson.float_repr(x) == repr(x)
        assert outjson.float_repr(-x) == repr(-x)


def reference(fs: list[Finding]) -> bytes:
    return findings_json(fs, compiled=False)


class Odd(str):
    """A str subclass: its text is what json writes."""


class Later(Finding):
    """Not a Finding itself: the reference writes it."""


@given(st.lists(shared | findings, max_size=12))
def test_findings_json_is_the_reference(fs: list[Finding]) -> None:
    assert findings_json(fs) == reference(fs)


def test_long_strings() -> None:
    """Each character that is not itself in JSON, at every place of strings long enough for
    the C's eight-bytes-at-a-time path, in every string field."""
    fs = []
    for ch in ('"', "\\", "\x00", "\x1f", "\n", "\x7f", "é", "\x80", "\ud800", "\udfff",
               "\U0001f600", "\u2028"):
        for at in range(18):
            text = "a" * at + ch + "b" * (17 - at)
            fs.append(Finding(text, text, NeedleClass.USER, text, text, text, (text, text), text,
                              False, None))
    assert findings_json(fs) == reference(fs)


def test_edges() -> None:
    fs = [*EDGES, Later(*(getattr(EDGES[1], n) for n in Finding.__slots__)),
          Finding(Odd("f9"), Odd("\ud800x"), NeedleClass.USER, Odd("h"), None, "m", (Odd("a"),),
                  Odd('"'), True, 2.5),
          Finding("f10", "n", NeedleClass.USER, "h", None, "m", ["a"], "x",  # type: ignore[arg-type]
                  False, 2.5),
          Finding("f11", "n", NeedleClass.USER, "h", None, "m", ("a",), "x", 1, 2.5),
          Finding("f12", "n", NeedleClass.USER, "h", None, "m", ("a", 3), "x",  # type: ignore[arg-type]
                  False, 2.5)]
    good = [f for f in fs if not isinstance(f.chain, list) and 3 not in f.chain]
    assert findings_json(good) == reference(good)
    assert findings_json([]) == reference([]) == b""
    for bad in fs[-3::2]:  # a list chain, a chain holding an int: the reference's TypeError
        with pytest.raises(TypeError):
            reference([bad])
        with pytest.raises(TypeError):
            findings_json([bad])


def test_shared_text_many() -> None:
    """More needles than findinglines.c keeps the text of (64), in random turns with random
    classes, so that slots are taken over and found again; hosts equal but other objects;
    a message's findings with one of another type (written by the reference) between
    them."""
    rnd = random.Random(11)
    needles = [f"n{i}" for i in range(200)]
    fs: list[Finding] = []
    for m in range(2000):
        message, host = f"m{m}", rnd.choice(["h", None, "".join(["h", "2"])])
        for _ in range(rnd.randrange(1, 4)):
            fs.append(Finding(f"f{len(fs)}", rnd.choice(needles), rnd.choice(list(NeedleClass)),
                              host, rnd.choice([None, "p"]), message, ("c",), "x", False,
                              None))
            if rnd.random() < 0.05:
                fs.append(Later(*(getattr(fs[-1], n) for n in Finding.__slots__)))
    assert findings_json(fs) == reference(fs)


def test_unbuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unbuilt checkout writes the reference."""
    monkeypatch.setattr(finding_mod, "_outjson", None)
    assert findings_json(EDGES) == b",\n".join(
        line.encode("utf-8", "backslashreplace") for line in json_lines(EDGES))


@given(st.lists(findings, max_size=6))
def test_findings_json_file_same_bytes(tmp_path_factory: pytest.TempPathFactory,
                                       fs: list[Finding]) -> None:
    """The file from the joined bytes is the file json writes of the dicts."""
    run = RunDir(tmp_path_factory.mktemp("findings"))
    old = run.write_json("old.json", [f.to_json() for f in fs])
    new = run.write_json_lines("new.json", findings_json(fs))
    assert new.read_bytes() == old.read_bytes()
