"""Needles (what we look for) and findings (where we found them): the ``needles.json`` and
``findings.json`` contracts of DESIGN.md."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring

from harness.needleclass import NeedleClass
from harness.slots import maker

try:  # built by setup.py with the package
    from harness.detect import _outjson
except ImportError:  # pragma: no cover - a checkout that was never built
    _outjson = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Needle:
    """A value looked for (``needles.json``)."""

    name: str
    cls: NeedleClass
    value: str
    source: str
    """Where the value came from: ``device:settings secure android_id``, ``canary``, ``cli``..."""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "class": self.cls.value, "value": self.value,
                "source": self.source}


@dataclass(frozen=True, slots=True)
class Finding:
    """A needle found in a message (``findings.json``)."""

    id: str
    """``f<N>``, stable for a given analysis."""
    needle: str
    """The needle's name."""
    cls: NeedleClass
    host: str | None
    phase: str | None
    message: str
    """Id of the outermost message the value was found in."""
    chain: tuple[str, ...]
    """How the value was reached, outermost first, e.g. ``("http:POST sa.api.intl.miui.com/sa",
    "form:data_list", "base64", "gzip", "json:$[0].properties.url")``; the last element names
    the derivation matched when it was not the raw value (``derive:sha256-hex``)."""
    excerpt: str
    """Text around the match with the match marked as ``[[...]]``; non-printables escaped."""
    control: bool = False
    """True for a positive control (the canary's own page load), kept apart from leaks."""
    t: float | None = None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "needle": self.needle, "class": self.cls.value,
                "host": self.host, "phase": self.phase, "message": self.message,
                "chain": list(self.chain), "excerpt": self.excerpt, "control": self.control,
                "t": self.t}

    def json_line(self) -> str:
        """``json.dumps(self.to_json(), ensure_ascii=False)``, a line of findings.json,
        written field by field with the string encoder json's own uses: a dict and an
        encoder for each of 100,000s of findings cost twice as much; the template is
        :func:`json_lines`'s, alone. :meth:`to_json` stays what a finding is in JSON;
        tests/detect/test_finding.py holds the two to the same text."""
        return next(json_lines((self,)))


new_finding = maker(Finding)
"""``Finding(*values)``, positional and all of them, made faster (:mod:`harness.slots`)."""


def findings_json(findings: Sequence[Finding], compiled: bool = True) -> bytes:
    """findings.json's lines (:func:`json_lines`) joined by ``",\\n"``, as the file holds them:
    UTF-8, a lone surrogate as its ``\\udxxx`` (what its ``backslashreplace`` writes).
    In C (findinglines.c) where it is built, which writes a finding of the declared types from
    its slots, a float time without dtoa where it can (floatrepr.c), and leaves any other
    finding to :meth:`Finding.json_line`; ``compiled=False`` is the reference, which
    tests/detect/test_outjson.py compares it with."""
    if compiled and _outjson is not None:
        return _outjson.findings_json(findings, Finding, Finding.json_line)
    return ",\n".join(json_lines(findings)).encode("utf-8", "backslashreplace")


def json_lines(findings: Iterable[Finding]) -> Iterator[str]:
    """``map(Finding.json_line, findings)``, with what findings share encoded once: a
    needle's name and class, a chain (the same endpoints, again and again), and the host,
    phase, id and time of a message, whose findings come one after another. A line costs
    half as much; the time's repr alone cost more than the rest of the line.
    tests/detect/test_finding.py holds it to json.dumps of each finding's to_json, alone
    and with values shared.

    Exact whatever the findings: a string (or a tuple of them) equal to one met before has
    the same JSON text; the time is reused only for the same object (``0.0 == -0.0``,
    ``1 == 1.0``, and NaN is not equal to itself); a needle's text only with the same
    class."""
    s = encode_basestring
    heads: dict[str, tuple[NeedleClass, str]] = {}
    chains: dict[tuple[str, ...], str] = {}
    host: object = _UNSET
    phase: object = _UNSET
    message: object = _UNSET
    where = ""
    t: object = _UNSET
    when = ""
    for f in findings:
        head = heads.get(f.needle)
        if head is None or head[0] is not f.cls:
            head = heads[f.needle] = (f.cls, f'"needle": {s(f.needle)}, '
                                             f'"class": {s(f.cls.value)}, ')
        if f.message != message or f.host != host or f.phase != phase:
            message, host, phase = f.message, f.host, f.phase
            where = (f'"host": {"null" if f.host is None else s(f.host)}, '
                     f'"phase": {"null" if f.phase is None else s(f.phase)}, '
                     f'"message": {s(f.message)}, ')
        chain = chains.get(f.chain)
        if chain is None:
            chain = chains[f.chain] = ", ".join(map(s, f.chain))
        if f.t is not t:
            t = f.t
            when = "null" if f.t is None else _number(f.t)
        yield (f'{{"id": {s(f.id)}, {head[1]}{where}"chain": [{chain}], '
               f'"excerpt": {s(f.excerpt)}, "control": {"true" if f.control else "false"}, '
               f'"t": {when}}}')


_UNSET = object()
"""No value yet (json_lines' last host, phase, message and time)."""


def _number(t: float) -> str:
    """A finite float as json writes it (its repr); anything else (NaN, infinities, an int)
    through json itself."""
    if type(t) is float and math.isfinite(t):
        return repr(t)
    return json.dumps(t)
