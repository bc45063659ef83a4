"""What the builder stamps on each message from outside it: the scenario phase its time
falls in (:class:`PhaseClock`), and for a message that does not name its host, the name a DNS
answer gave its peer address (:class:`DnsNames`). Both are asked for messages by the
100,000 (the clock only when a message's time leaves the gap that held the last one's).
:func:`put_drafts` is the builder's loop that stamps them (the C writer's ``put`` is the
same loop in C)."""

from __future__ import annotations

import math
from bisect import bisect_right as _after
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

from harness.capture.rundir import Marker, Phase

if TYPE_CHECKING:
    from harness.parse.draft import Draft
    from harness.parse.message import Message
    from harness.parse.store import StoreWriter


class PhaseClock:
    """Which scenario phase a time falls in (run.json phases, refined by phase markers): the
    latest-starting phase that contains it, ends included.

    Asked once per message, so the answer is looked up rather than found by walking every
    phase: between two consecutive phase boundaries (starts and ends) the phases containing
    a time do not change, so :meth:`at` bisects the boundaries and reads the answer for the
    boundary itself or for the gap after it, both found once by :meth:`_scan` (the walk,
    which stays the answer for phase times that are not numbers: run.json is not checked)."""

    def __init__(self, phases: list[Phase], markers: list[Marker]) -> None:
        spans: dict[str, list[float | None]] = {}
        for p in phases:
            spans[p.name] = [p.start, p.end]
        for m in markers:
            if m.kind == "phase-start":
                spans.setdefault(m.name, [None, None])[0] = m.t
            elif m.kind == "phase-end":
                spans.setdefault(m.name, [None, None])[1] = m.t
        self.spans = sorted(((s, e, n) for n, (s, e) in spans.items() if s is not None),
                            key=lambda x: (x[0] or 0.0))
        self._bounds: list[float] = []
        """Every start and end, once each, ascending (NaN left out: it bounds nothing); none
        when a phase time is not a number (then :meth:`at` walks the phases)."""
        self._on: list[str | None] = []
        """The phase at each bound."""
        self._between: list[str | None] = [None]
        """The phase before the first bound (none), then in the gap after each bound."""
        times = [v for s, e, _n in self.spans for v in (s, e) if v is not None]
        if all(type(v) in (int, float) for v in times):
            self._bounds = sorted({v for v in times if v == v})
            self._on = [self._scan(b) for b in self._bounds]
            self._between += [self._within(a, b) for a, b in pairwise([*self._bounds, math.inf])]

    def _scan(self, t: float) -> str | None:
        """The walk over every phase (what :meth:`at` answered before it looked up)."""
        best: str | None = None
        for start, end, name in self.spans:
            if start is not None and start <= t and (end is None or t <= end):
                best = name  # the latest-starting phase that contains t
        return best

    def _within(self, a: float, b: float) -> str | None:
        """The latest-starting phase that holds every time strictly between ``a`` and ``b``
        (two consecutive bounds: each phase holds all of them or none)."""
        best: str | None = None
        for start, end, name in self.spans:
            if start is not None and start <= a and (end is None or b <= end):
                best = name
        return best

    def gap(self, t: float) -> tuple[float, float]:
        """``(a, b)``: :meth:`at` gives every time strictly between ``a`` and ``b`` the phase
        it gives ``t`` (the gap between two consecutive bounds that holds ``t``), so a caller
        stamping many times (the builder, a connection's messages) asks again only outside
        it. Empty, ``(inf, -inf)``, where ``t`` is a bound or NaN, or the walk answers; all
        times when there is no phase."""
        if not self.spans:
            return -math.inf, math.inf
        bounds = self._bounds
        if not bounds or t != t:
            return math.inf, -math.inf
        i = _after(bounds, t) - 1
        if i >= 0 and bounds[i] == t:
            return math.inf, -math.inf
        return (bounds[i] if i >= 0 else -math.inf,
                bounds[i + 1] if i + 1 < len(bounds) else math.inf)

    def at(self, t: float) -> str | None:
        bounds = self._bounds
        if not bounds:  # no phase (or phase times that are not numbers: the walk)
            return self._scan(t) if self.spans else None
        if t != t:  # NaN is in no phase (bisect would place it after every bound)
            return None
        i = _after(bounds, t) - 1
        if i >= 0 and bounds[i] == t:
            return self._on[i]
        return self._between[i + 1]


@dataclass(slots=True)
class DnsNames:
    """Peer IP → the last name a DNS answer gave it."""

    by_ip: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    """Each IP's answer times, ascending: made by :meth:`sort`, once every answer is in."""

    def add(self, t: float, name: str, ips: list[str]) -> None:
        for ip in ips:
            self.by_ip.setdefault(ip, []).append((t, name))

    def sort(self) -> None:
        """Order each IP's answers by time (then name); :meth:`name` reads them so."""
        for ip, entries in self.by_ip.items():
            entries.sort()
            self.times[ip] = [e[0] for e in entries]

    def name(self, ip: str | None, t: float) -> str | None:
        entries = self.by_ip.get(ip or "")
        if not entries:
            return None
        i = _after(self.times[ip or ""], t) - 1
        return entries[max(i, 0)][1]


class _Linker(Protocol):
    """What :func:`put_drafts` tells of each draft it writes (the builder's Java/TLS links)."""

    def add(self, d: Draft) -> None: ...


@dataclass(slots=True)
class Stamps:
    """What :func:`put_drafts` stamps on each draft and where it puts each message, and the
    phase of the last time it asked the clock, kept from one connection to the next."""

    at: Callable[[float], str | None]
    """:meth:`PhaseClock.at`"""
    gap: Callable[[float], tuple[float, float]]
    """:meth:`PhaseClock.gap`"""
    name: Callable[[str | None, float], str | None]
    """:meth:`DnsNames.name`"""
    message: Callable[[], Message]
    """:meth:`StoreWriter.message`: the message of the draft written last."""
    ready: list[Message] | None
    """Where each message goes (None: the drafts are only written, no message made)."""
    held: list[Message]
    """Where a Java HTTP stack record goes instead (yielded once its links are known)."""
    phase: str | None = None
    lo: float = math.inf
    hi: float = -math.inf
    """The phase of the last time asked, and the gap around it where it is the same
    (:meth:`PhaseClock.gap`): most messages fall in the gap of the one before."""


def put_drafts(w: StoreWriter, drafts: list[Draft], peer_host: str | None, stamps: Stamps,
               links: _Linker | None = None) -> None:
    """Stamp host and phase on each draft, write it and queue its message (the builder's
    loop). A draft naming no host and no SNI is named ``peer_host`` when given (the name a
    Java TLS socket connected to), else by DNS. The C writer's ``put`` does the same where
    there are no ``links`` to find, each message made of its draft (no second object): this
    is its reference (tests/parse/test_put.py) and the loop of a build that links."""
    ready, held = stamps.ready, stamps.held
    add_message, message = w.message_adder(), w.message
    for d in drafts:
        t = d.t
        if not d.host:
            d.host = d.sni or peer_host or stamps.name(d.ip, t)
        if not stamps.lo < t < stamps.hi:
            stamps.phase = stamps.at(t)
            stamps.lo, stamps.hi = stamps.gap(t)
        d.phase = stamps.phase
        if ready is None:
            w.add(d)
        else:
            m = add_message(d)  # the C writer's own method, where it is built
            if m is None:  # a row it reads back
                m = message()
            (held if m.meta.get("stack") else ready).append(m)
        if links is not None:
            links.add(d)
