"""Reassembly against the code it replaced (tests/parse/reassembly_ref.py, the reference):
the flows built from generated stream events (any order of seqs, repeated seqs, every
direction, empty and missing bodies, truncated events whose original length is shorter,
equal or longer), and every lookup on them (which events hold a byte range, their times,
bytes lost to truncation) for ranges inside, across, empty and out of bounds. Flows made
from chunks by hand (as the parser tests do) answer as before too."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harness.capture.rundir import Event
from harness.parse.reassembly import Chunk, Flow, assemble
from tests.parse.reassembly_ref import RefChunk, RefFlow, ref_assemble

events = st.lists(st.tuples(st.sampled_from(["out", "in", None, "sideways", ""]),
                            st.binary(max_size=6), st.booleans(), st.integers(0, 12),
                            st.integers(0, 30)),
                  max_size=14)
ranges = st.lists(st.tuples(st.integers(-3, 60), st.integers(-3, 60)), min_size=1, max_size=14)


def _events(spec: list[tuple[Any, bytes, bool, int, int]], sorted_seqs: bool) -> list[Event]:
    return [Event(seq=10 + i if sorted_seqs else seq, t=100.0 + i * 0.5 - seq, kind="stream",
                  pid=1, tid=1, conn="c", direction=d, hook="native.tls.SSL_read",
                  data=data if data or i % 3 else None, orig_len=orig if orig or i % 2 else None,
                  truncated=trunc, fields={"layer": "tls"})
            for i, (d, data, trunc, orig, seq) in enumerate(spec)]


def _same(f: Flow, ref: RefFlow, rs: list[tuple[int, int]]) -> None:
    assert (f.direction, f.data, len(f), f.lossy) == (ref.direction, ref.data, len(ref),
                                                       ref.lossy)
    assert [tuple(c) for c in f.chunks] == [tuple(c) for c in ref.chunks]
    for start, end in rs:
        assert f.seqs(start, end) == ref.seqs(start, end)
        assert f.span(start, end) == ref.span(start, end)
        assert f.missing_in(start, end) == ref.missing_in(start, end)
        assert f.holes_before(start) == ref.holes_before(start)
        assert f._index(start) == ref._index(start)
        if ref.chunks:
            assert f.t_at(start) == ref.t_at(start)
            assert f.seq_at(end) == ref.seq_at(end)
        else:
            assert (f.t_at(start), f.seq_at(end)) == (0.0, 0)


@given(events, ranges, st.booleans(), st.booleans())
def test_flows_and_lookups_as_before(spec: list[tuple[Any, bytes, bool, int, int]],
                                     rs: list[tuple[int, int]], sorted_seqs: bool,
                                     as_list: bool) -> None:
    evs = _events(spec, sorted_seqs)
    flows = assemble(evs if as_list else iter(evs))
    want = ref_assemble(evs)
    assert list(flows) == ["out", "in"]
    for d, f in flows.items():
        _same(f, want[d], rs)
        # the lookups before and after the chunks are made (the lossy path makes them)
        _same(assemble(evs)[d], want[d], rs[::-1])


chunks = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 9), st.integers(0, 99),
                            st.floats(0, 1e9), st.integers(0, 5)), max_size=8)


@given(chunks, st.lists(st.integers(0, 40), max_size=9), st.binary(max_size=40), st.booleans(),
       ranges)
def test_flows_made_by_hand_as_before(cs: list[tuple[int, int, int, float, int]],
                                      starts: list[int], data: bytes, lossy: bool,
                                      rs: list[tuple[int, int]]) -> None:
    starts = sorted(starts)
    f = Flow("out", data, [Chunk(*c) for c in cs], list(starts), lossy)
    ref = RefFlow("out", data, [RefChunk(*c) for c in cs], list(starts), lossy)
    _same(f, ref, rs)
    assert Flow("in").seqs(0, 5) == ()
    assert len(Flow("in", b"ab")) == 2
