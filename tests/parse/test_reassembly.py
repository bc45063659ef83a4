"""Reassembly against the code it replaced (kept here as the reference): the flows built
from generated stream events, and every lookup on them (which events hold a byte range,
their times, bytes lost to truncation) for ranges inside, across, empty and out of bounds."""

from __future__ import annotations

import bisect
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harness.capture.rundir import Event
from harness.parse.reassembly import Chunk, Flow, assemble


def _ref_assemble(events: list[Event]) -> dict[str, tuple[bytes, list[Chunk], list[int], bool]]:
    parts: dict[str, list[bytes]] = {"out": [], "in": []}
    chunks: dict[str, list[Chunk]] = {"out": [], "in": []}
    starts: dict[str, list[int]] = {"out": [], "in": []}
    lossy = {"out": False, "in": False}
    sizes = {"out": 0, "in": 0}
    for ev in events:
        d = ev.direction if ev.direction in parts else "out"
        data = ev.data or b""
        missing = max(0, (ev.orig_len or 0) - len(data)) if ev.truncated else 0
        lossy[d] = lossy[d] or missing > 0
        chunks[d].append(Chunk(sizes[d], len(data), ev.seq, ev.t, missing))
        starts[d].append(sizes[d])
        parts[d].append(data)
        sizes[d] += len(data)
    return {d: (b"".join(parts[d]), chunks[d], starts[d], lossy[d]) for d in ("out", "in")}


def _ref_index(f: Flow, offset: int) -> int:
    i = bisect.bisect_right(f._starts, offset) - 1
    return max(0, min(i, len(f.chunks) - 1))


def _ref_seqs(f: Flow, start: int, end: int) -> tuple[int, ...]:
    if not f.chunks:
        return ()
    a = _ref_index(f, start)
    b = _ref_index(f, max(start, end - 1))
    return tuple(c.seq for c in f.chunks[a : b + 1])


def _ref_span(f: Flow, start: int, end: int) -> tuple[float, int, tuple[int, ...], int]:
    if not f.chunks:
        return 0.0, 0, (), 0
    a = _ref_index(f, start)
    b = a if end - 1 <= start else _ref_index(f, end - 1)
    chunks = f.chunks[a : b + 1]
    first = chunks[0]
    lost = sum(c.missing for c in chunks if c.missing and c.offset + c.length <= end) \
        if f.lossy else 0
    return first.t, first.seq, tuple(c.seq for c in chunks), lost


events = st.lists(st.tuples(st.sampled_from(["out", "in", None, "sideways"]),
                            st.binary(max_size=6), st.booleans(), st.integers(0, 12)),
                  max_size=12)
ranges = st.lists(st.tuples(st.integers(-3, 60), st.integers(-3, 60)), min_size=1, max_size=12)


def _events(spec: list[tuple[Any, bytes, bool, int]]) -> list[Event]:
    return [Event(seq=10 + i, t=100.0 + i, kind="stream", pid=1, tid=1, conn="c",
                  direction=d, hook="native.tls.SSL_read", data=data if data or i % 3 else None,
                  orig_len=orig if orig or i % 2 else None, truncated=trunc,
                  fields={"layer": "tls"})
            for i, (d, data, trunc, orig) in enumerate(spec)]


@given(events, ranges)
def test_flows_and_lookups_as_before(spec: list[tuple[Any, bytes, bool, int]],
                                     rs: list[tuple[int, int]]) -> None:
    evs = _events(spec)
    flows = assemble(evs)
    want = _ref_assemble(evs)
    assert list(flows) == ["out", "in"]
    for d, f in flows.items():
        assert (f.direction, f.data, f.chunks, f._starts, f.lossy) == (d, *want[d])
        for start, end in rs:
            assert f.seqs(start, end) == _ref_seqs(f, start, end)
            assert f.span(start, end) == _ref_span(f, start, end)
            if f.chunks:
                assert f._index(start) == _ref_index(f, start)
                assert f.t_at(start) == f.chunks[_ref_index(f, start)].t
                assert f.seq_at(end) == f.chunks[_ref_index(f, end)].seq
