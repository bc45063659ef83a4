"""A finding's line of findings.json (Finding.json_line, written field by field) against
what json writes of Finding.to_json, which stays the definition: the same text for
generated findings, with non-ASCII, lone surrogates, control characters and quotes in
their strings and every kind of number in ``t``; and findings.json written from the lines
the same bytes as written from the dicts."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.capture.rundir import RunDir
from harness.detect.finding import Finding
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


def test_edges() -> None:
    for f in EDGES:
        assert f.json_line() == reference(f), f


@given(st.lists(findings, max_size=6))
def test_findings_json_same_bytes(tmp_path_factory: pytest.TempPathFactory,
                                  fs: list[Finding]) -> None:
    # a fresh directory per example: hypothesis runs the body many times in one test
    run = RunDir(tmp_path_factory.mktemp("findings"))
    old = run.write_json("old.json", [f.to_json() for f in fs])
    new = run.write_json_items("new.json", map(Finding.json_line, fs))
    assert new.read_bytes() == old.read_bytes()
