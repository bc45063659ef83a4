"""A finding's line of findings.json (Finding.json_line, written field by field) against
what json writes of Finding.to_json, which stays the definition: the same text for
generated findings, with non-ASCII, lone surrogates, control characters and quotes in
their strings and every kind of number in ``t``; json_lines (a run's findings, with what
they share encoded once) against json_line, on findings that share values and on ones
whose equal values are not the same JSON (0.0 and -0.0); and findings.json written from the
lines the same bytes as written from the dicts."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.capture.rundir import RunDir
from harness.detect.finding import Finding, json_lines, new_finding
from harness.device.base import NeedleClass

# any code point, with more lone surrogates (a label made from captured bytes: characters()
# leaves them out unless asked) and ASCII controls than characters() alone gives
TEXT = st.text(st.characters() | st.characters(categories=["Cs"])
               | st.characters(max_codepoint=0x9F), max_size=40)
ODD = st.sampled_from(["", '"', "\\", "\x00", "\x1f", "\x7f", "\u2028", "\ud800", "\udcff",
                       "é", "\U0001f600", "[[x]]", '", "'])
STRINGS = st.one_of(TEXT, ODD)

findings = st.builds(
    Finding, id=STRINGS, needle=STRINGS, cls=st.sampled_from(NeedleClass),
    host=st.none() | STRINGS, phase=st.none() | STRINGS, message=STRINGS,
    chain=st.lists(STRINGS, max_size=5).map(tuple), excerpt=STRINGS, control=st.booleans(),
    t=st.none() | st.floats() | st.integers(),
)


def reference(f: Finding) -> str:
    return json.dumps(f.to_json(), ensure_ascii=False)


EDGES = [
    Finding("f1", "n", NeedleClass.DEVICE_ID, None, None, "m1", (), "", False, None),
    Finding("f2", "n", NeedleClass.USER, "h", "p", "m2", ("a",), "x", True, 1796583065.8200746),
    *(Finding("f3", "n", NeedleClass.BROWSING, "h", None, "m3", ("a", "b"), "\ud800\"\\\n",
              False, t) for t in (float("nan"), float("inf"), float("-inf"), -0.0, 0, 1e300,
                                  5e-324, 2**70, True)),
]


@given(findings)
@example(EDGES[0])
@example(EDGES[1])
def test_json_line_is_json_of_to_json(f: Finding) -> None:
    assert f.json_line() == reference(f)


@given(findings)
def test_new_finding_is_finding(f: Finding) -> None:
    """Made with its slots set straight, the same finding, field for field."""
    values = [getattr(f, field.name) for field in dataclasses.fields(Finding)]
    made = new_finding(*values)
    assert new_finding is not Finding  # else this compares Finding with itself
    assert type(made) is Finding
    assert [getattr(made, field.name) for field in dataclasses.fields(Finding)] == values
    assert made == Finding(*values)
    assert made.json_line() == f.json_line()


def test_edges() -> None:
    for f in EDGES:
        assert f.json_line() == reference(f), f


# findings made from a few values each, so that neighbours share some and not others, as a
# message's findings do: the same host and time object, or an equal id with another host
FEW_STRINGS = st.sampled_from(["m1", "m2", "h", "", "\ud800", "é"])
FEW_TIMES = st.sampled_from([None, 0.0, -0.0, 0, False, 1, 1.0, True, float("nan"),
                             float("inf"), 1796583065.8200746, 2**70])
shared = st.builds(
    Finding, id=STRINGS, needle=FEW_STRINGS, cls=st.sampled_from(NeedleClass),
    host=st.none() | FEW_STRINGS, phase=st.none() | FEW_STRINGS, message=FEW_STRINGS,
    chain=st.lists(FEW_STRINGS, max_size=3).map(tuple), excerpt=STRINGS,
    control=st.booleans(), t=FEW_TIMES,
)


@given(st.lists(shared | findings, max_size=12))
def test_json_lines_is_json_line(fs: list[Finding]) -> None:
    assert list(json_lines(fs)) == [f.json_line() for f in fs]


def test_json_lines_reuses_only_the_same() -> None:
    """Neighbours equal in what json_lines reuses, each with a value that is not."""
    nan = float("nan")
    base = Finding("f1", "n", NeedleClass.DEVICE_ID, "h", "p", "m1", ("a", "b"), "x", False, 0.0)
    fs = [base, *(Finding("f2", "n", NeedleClass.DEVICE_ID, "h", "p", "m1", ("a", "b"), "x",
                          False, t) for t in (-0.0, 0, False, nan, nan, float("nan"))),
          Finding("f3", "n", NeedleClass.USER, "h", "p", "m1", ("a",), "x", True, None),
          Finding("f4", "n", NeedleClass.USER, None, "p", "m1", ("a",), "x", True, None),
          Finding("f5", "n", NeedleClass.USER, None, None, "m1", ("a",), "x", True, None),
          Finding("f6", "n", NeedleClass.USER, None, None, "m2", ("a",), "x", True, None),
          Finding("f7", "o", NeedleClass.USER, None, None, "m2", (), "x", True, None)]
    assert list(json_lines(fs)) == [reference(f) for f in fs]


@given(st.lists(findings, max_size=6))
def test_findings_json_same_bytes(tmp_path_factory: pytest.TempPathFactory,
                                  fs: list[Finding]) -> None:
    # a fresh directory per example: hypothesis runs the body many times in one test
    run = RunDir(tmp_path_factory.mktemp("findings"))
    old = run.write_json("old.json", [f.to_json() for f in fs])
    new = run.write_json_items("new.json", json_lines(fs))
    assert new.read_bytes() == old.read_bytes()
