"""What the builder stamps on each message, against the walks it replaced: the phase a time
falls in (``PhaseClock.at``, a lookup over the phase boundaries, against ``_scan``, the walk
over every phase) on generated phases and markers (overlapping, nested, open-ended, equal
starts and ends, NaN and infinite times), asked at every boundary, next to it and between;
and the name DNS gave an address at a time (``DnsNames.name``, against the bisect over a list
of times made on every call)."""

from __future__ import annotations

import bisect
import math

from hypothesis import given
from hypothesis import strategies as st

from harness.capture.rundir import Marker, Phase
from harness.parse.stamps import DnsNames, PhaseClock

times = st.one_of(st.integers(0, 12).map(float), st.sampled_from([math.nan, math.inf,
                                                                  -math.inf, -0.0, 2.5]))
names = st.sampled_from(["a", "b", "c", "d"])
phases = st.lists(st.builds(Phase, name=names, start=st.one_of(times, st.integers(0, 12)),
                            end=st.none() | times), max_size=5)
markers = st.lists(st.builds(Marker, id=st.just(1), t=times,
                             kind=st.sampled_from(["phase-start", "phase-end", "note"]),
                             name=names, detail=st.just({})), max_size=6)


def _asked(clock: PhaseClock, extra: list[float]) -> list[float]:
    """Every boundary, each just below and above, the gaps' middles, and ``extra``."""
    bounds = [v for s, e, _n in clock.spans for v in (s, e) if v is not None]
    near = [math.nextafter(b, d) for b in bounds for d in (-math.inf, math.inf)]
    middles = [(a + b) / 2 for a, b in zip(sorted(bounds), sorted(bounds)[1:], strict=False)]
    return [*bounds, *near, *middles, *extra, math.nan, math.inf, -math.inf, -1.0, 100.0]


@given(phases, markers, st.lists(st.floats(-2, 14), max_size=5))
def test_phase_at_as_the_walk_over_every_phase(ps: list[Phase], ms: list[Marker],
                                               extra: list[float]) -> None:
    clock = PhaseClock(ps, ms)
    assert clock._bounds or not [v for s, e, _n in clock.spans for v in (s, e)
                                 if v is not None and v == v]
    for t in _asked(clock, extra):
        assert clock.at(t) == clock._scan(t), t


@given(phases, markers, st.lists(st.floats(-2, 14), max_size=5))
def test_phase_gap_holds_one_phase(ps: list[Phase], ms: list[Marker],
                                   extra: list[float]) -> None:
    """Every time asked strictly inside the gap around another has that one's phase (a
    bound's gap is empty: the times just past it may be in another)."""
    clock = PhaseClock(ps, ms)
    asked = _asked(clock, extra)
    for t in asked:
        lo, hi = clock.gap(t)
        assert all(clock.at(x) == clock.at(t) for x in asked if lo < x < hi), t


def test_phase_at_edges() -> None:
    clock = PhaseClock([Phase("outer", 0.0, 10.0), Phase("inner", 2.0, 4.0),
                        Phase("late", 4.0, None), Phase("same", 2.0, 3.0)], [])
    assert [clock.at(t) for t in (-1.0, 0.0, 1.0, 2.0, 3.0, 3.5, 4.0, 5.0, 10.0, 11.0,
                                  math.nan)] == \
        [None, "outer", "outer", "same", "same", "inner", "late", "late", "late", "late", None]
    assert PhaseClock([], []).at(1.0) is None
    # a phase time that is not a number (run.json is not checked): the walk, as before
    odd = PhaseClock([Phase("x", 0.0, True)], [])  # run.json's "end": true
    assert not odd._bounds
    assert [odd.at(t) for t in (-1.0, 0.5, 1.0, 1.5)] == [None, "x", "x", None]


def _old_name(names: DnsNames, ip: str | None, t: float) -> str | None:
    entries = names.by_ip.get(ip or "")
    if not entries:
        return None
    i = bisect.bisect_right([e[0] for e in entries], t) - 1
    return entries[max(i, 0)][1]


@given(st.lists(st.tuples(st.integers(0, 6).map(float), names,
                          st.lists(st.sampled_from(["10.0.0.1", "10.0.0.2", ""]),
                                   max_size=2)), max_size=12),
       st.lists(st.tuples(st.sampled_from(["10.0.0.1", "10.0.0.2", "", None, "10.9.9.9"]),
                          st.floats(-1, 7)), max_size=8))
def test_name_as_the_bisect_over_a_fresh_list(answers: list[tuple[float, str, list[str]]],
                                              asked: list[tuple[str | None, float]]) -> None:
    names = DnsNames()
    for t, name, ips in answers:
        names.add(t, name, ips)
    names.sort()
    for ip, t in [*asked, *((ip, t) for t, _n, ips in answers for ip in ips)]:
        assert names.name(ip, t) == _old_name(names, ip, t)
