"""The report's view-model: everything the template shows, prepared and plain.

Templates stay thin: they loop and print. Every captured string reaches them as data and is
escaped by jinja2's autoescape; secrets (cookies, authorization headers, passwords, tokens)
are masked here unless the caller asks for them.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.capture.rundir import RunDir, damaged
from harness.claims.coverage import coverage as egress_coverage
from harness.claims.coverage import kernel_packets_out
from harness.claims.evidence import RunFacts, operator_of
from harness.errors import RunDirError
from harness.parse.message import Message
from harness.parse.storeread import MessageStore

SECRET_HEADERS = {"cookie", "set-cookie", "authorization", "proxy-authorization",
                  "x-api-key", "x-auth-token"}
# a key stays within one word: "Authorization: ••••\n...\nuser=bob" is not a password field
SECRET_FIELDS = re.compile(r"((?:pass(?:word|wd)?|token|secret|session|auth)[^=&\"\s]*"
                           r"[=\":]+\s*\"?)([^&\"\s]+)", re.I)
RAW_LIMIT = 4096
HEADERS_MAX = 64
EVIDENCE_PER_CLAIM = 8
MARK_PX = 3.0
"""Timeline marks closer than this (same host and phase) are drawn as one, with a count."""
TITLE_MAX = 300
# Tableau 20's dark and light halves: a demo suite has about a dozen phase names, and two
# phases must not share a colour.
PHASE_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948",
                 "#9c755f", "#ff9da7", "#bab0ac", "#1f77b4", "#8c564b", "#17becf", "#bcbd22",
                 "#7f7f7f", "#d62728")


def mask(text: str) -> str:
    return SECRET_FIELDS.sub(lambda m: m.group(1) + f"•••• ({len(m.group(2))} chars hidden)",
                             text)


@dataclass
class EvidenceRow:
    ref: str
    journey: str
    phase: str
    host: str
    needle: str
    chain: list[str]
    before: str
    match: str
    after: str
    raw: str


@dataclass
class VerdictRow:
    claim: str
    verdict: str
    quote: str
    source: str
    why: str
    reason: str
    checks: list[Mapping[str, object]]
    evidence: list[EvidenceRow] = field(default_factory=list)
    more: int = 0


@dataclass
class Mark:
    x: float
    y: float
    colour: str
    title: str


@dataclass
class Timeline:
    width: int
    height: int
    rows: list[tuple[float, str]]
    marks: list[Mark]
    phases: list[tuple[float, float, str, str]]
    """x, width, colour, label of each phase band."""
    journeys: list[tuple[float, int, str, str]]
    """x where each journey's span starts, y of its label (two rows, alternating), the label
    (cut to the room it has before the next label on its row) and the whole name."""
    legend: list[tuple[str, str]]
    """phase name and its colour."""


@dataclass
class Report:
    title: str
    verdicts: list[VerdictRow]
    counts: dict[str, int]
    destinations: list[dict[str, object]]
    health: list[dict[str, object]]
    runs: list[dict[str, object]]
    timeline: Timeline | None
    tools: dict[str, object]
    commands: list[str]
    redacted: bool


def _split_excerpt(ex: str) -> tuple[str, str, str]:
    a = ex.find("[[")
    b = ex.find("]]", a + 2)
    if a < 0 or b < 0:
        return ex, "", ""
    return ex[:a], ex[a + 2:b], ex[b + 2:]


def _cut(text: str, limit: int = RAW_LIMIT) -> str:
    """A long URL or header (analytics GETs carry whole payloads) cut to ``limit``: each piece
    of evidence stays a few kilobytes, whatever the app sent."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more)"


def _raw(m: Message, redact: bool) -> str:
    def shown(text: str) -> str:
        return mask(text) if redact else text

    lines = [shown(f"{m.method or ''} {_cut(m.url or '')} {m.protocol or ''}".strip())]
    for k, v in m.headers[:HEADERS_MAX]:
        if redact and k.lower() in SECRET_HEADERS:
            lines.append(f"{k}: •••• (hidden; --no-redact shows it)")
        else:
            lines.append(shown(f"{k}: {_cut(v)}"))
    if len(m.headers) > HEADERS_MAX:
        lines.append(f"… {len(m.headers) - HEADERS_MAX} more headers in the run dir ({m.id})")
    body = m.body[:RAW_LIMIT].decode("utf-8", "replace")
    if len(m.body) > RAW_LIMIT:
        body += f"\n… {len(m.body) - RAW_LIMIT} more bytes in the run dir ({m.id})"
    return "\n".join(lines) + "\n\n" + shown(body)


def _first_sentence(text: str) -> str:
    s = text.split(". ")[0].split("; ")[0]
    return s if len(s) <= 220 else s[:217] + "…"


def build(title: str, verdicts: Sequence[Mapping[str, object]], runs: Sequence[RunFacts],
          *, redact: bool = True, tools: Mapping[str, object] | None = None,
          commands: Sequence[str] = ()) -> Report:
    facts_by_rid = {f.rid: f for f in runs}
    rows: list[VerdictRow] = []
    counts: dict[str, int] = defaultdict(int)
    for v in verdicts:
        verdict = str(v.get("verdict"))
        counts[verdict] += 1
        checks = v.get("checks")
        row = VerdictRow(str(v.get("claim")), verdict, str(v.get("quote")), str(v.get("source")),
                         _first_sentence(str(v.get("reason"))), str(v.get("reason")),
                         [c for c in checks if isinstance(c, dict)]
                         if isinstance(checks, list) else [])
        refs = _strs(v.get("evidence"))
        row.more = max(0, len(refs) - EVIDENCE_PER_CLAIM)
        for ref in refs[:EVIDENCE_PER_CLAIM]:
            ev = _evidence(ref, facts_by_rid, redact)
            if ev is not None:
                row.evidence.append(ev)
        rows.append(row)
    return Report(title, rows, dict(counts), _destinations(runs), _health(runs),
                  [_run_row(f) for f in runs], _timeline(runs, redact), dict(tools or {}),
                  list(commands), redact)


def _evidence(ref: str, facts: Mapping[str, RunFacts], redact: bool) -> EvidenceRow | None:
    rid, _, item = ref.partition("/")
    f = facts.get(rid)
    if f is None:
        return None
    finding = next((x for x in f.findings if x.get("id") == item), None)
    with MessageStore.open(f.run) as store:
        mid = str(finding.get("message")) if finding else item
        try:
            m = store.get(mid)
        except KeyError:
            return None
    if finding is None:
        return EvidenceRow(ref, f.journey, str(m.phase), str(m.host), "", [f"message {m.id}"],
                           "", "", "", _raw(m, redact))
    before, match, after = _split_excerpt(str(finding.get("excerpt", "")))
    chain = _strs(finding.get("chain"))
    if redact:
        # the needle is the evidence; what the excerpt shows around it may be a secret
        if any(s.startswith("header:") and s[7:] in SECRET_HEADERS for s in chain):
            before = "•••• " if before else ""
            after = " ••••" if after else ""
        else:
            before, after = mask(before), mask(after)
    return EvidenceRow(ref, f.journey, str(finding.get("phase")), str(finding.get("host")),
                       str(finding.get("needle")), chain, before, match, after, _raw(m, redact))


@dataclass
class _Dest:
    host: str
    operator: str
    category: str
    party: str
    sdks: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)
    tls: set[str] = field(default_factory=set)
    phases: set[str] = field(default_factory=set)
    journeys: set[str] = field(default_factory=set)
    bytes_out: int = 0
    bytes_in: int = 0
    messages: int = 0


def _strs(v: object) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list) else []


def _int(v: object) -> int:
    return int(v) if isinstance(v, int | float) else 0


DESTINATIONS_JSON = "destinations.json"
_DEST_FIELDS: dict[str, tuple[type, ...]] = {
    "host": (str, type(None)), "bytes_out": (int,), "bytes_in": (int,), "messages": (int,),
    "sdks": (list,), "countries": (list,), "tls_versions": (list,), "phases": (list,)}
"""What the report reads of a destination (harness/classify/destination.py writes them)."""


def _destination_items(run: RunDir) -> list[dict[str, object]]:
    """destinations.json's destinations, checked: a damaged file is a RunDirError naming it
    (re-running analyze rewrites it), not a destinations table with rows missing."""
    path = run.file(DESTINATIONS_JSON)
    if not path.is_file():
        return []
    data = run.read_derived(DESTINATIONS_JSON)
    items = data.get("destinations") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RunDirError(damaged(run, DESTINATIONS_JSON, "no list of destinations"),
                          path=str(path))
    for i, d in enumerate(items):
        if not isinstance(d, dict):
            raise RunDirError(damaged(run, DESTINATIONS_JSON, f"destination {i} is not an "
                                      "object"), path=str(path))
        for key, types in _DEST_FIELDS.items():
            value = d.get(key)
            if key in d and (not isinstance(value, types) or isinstance(value, bool)):
                raise RunDirError(damaged(run, DESTINATIONS_JSON, f"destination {i} has no "
                                          f"valid {key!r}"), path=str(path))
    return items


def _destinations(runs: Sequence[RunFacts]) -> list[dict[str, object]]:
    rows: dict[str, _Dest] = {}
    for f in runs:
        for d in _destination_items(f.run):
            host = str(d.get("host"))
            row = rows.setdefault(host, _Dest(
                host, str(d.get("operator") or operator_of(host) or "unknown"),
                str(d.get("category") or ""), str(d.get("party") or "")))
            row.sdks.update(_strs(d.get("sdks")))
            row.countries.update(_strs(d.get("countries")))
            row.tls.update(_strs(d.get("tls_versions")))
            row.phases.update(_strs(d.get("phases")))
            row.journeys.add(f.journey)
            row.bytes_out += _int(d.get("bytes_out"))
            row.bytes_in += _int(d.get("bytes_in"))
            row.messages += _int(d.get("messages"))
        for m in f.messages:
            sdk = f.sdk_by_message.get(m.id)
            if sdk and m.host in rows:
                rows[m.host or ""].sdks.add(sdk)
    return [{"host": r.host, "operator": r.operator, "category": r.category, "party": r.party,
             "sdks": ", ".join(sorted(r.sdks)), "countries": ", ".join(sorted(r.countries)),
             "tls": ", ".join(sorted(r.tls)), "phases": ", ".join(sorted(r.phases)),
             "journeys": ", ".join(sorted(r.journeys)), "bytes_out": r.bytes_out,
             "bytes_in": r.bytes_in, "messages": r.messages}
            for r in sorted(rows.values(), key=lambda r: -r.bytes_out)]


def _lab(extra: Mapping[str, object]) -> str:
    lab = extra.get("completeness")
    if not isinstance(lab, dict) or not isinstance(lab.get("hosts"), dict):
        return "— (not a lab run)"
    received = sum(int(v.get("received", 0)) for v in lab["hosts"].values()
                   if isinstance(v, dict))
    return f"{received} request(s) received, {lab.get('missing', '?')} not captured"


def _health(runs: Sequence[RunFacts]) -> list[dict[str, object]]:
    out = []
    for f in runs:
        h = f.info.health
        skipped = sorted(n for n, s in f.hooks.items() if s == "skipped")
        controls = sorted({str(x.get("needle")) for x in f.findings if x.get("control")})
        pages = [p for p in _strs(f.info.extra.get("planted_canaries"))
                 if p.startswith("canary-url")]
        coverage = (egress_coverage(f.run, h.bytes_kernel_out,
                                    kernel_packets_out(f.info.extra)).describe()
                    if h.bytes_kernel_out
                    else "not measured (this device has no per-app kernel counters)")
        out.append({
            "journey": f.journey, "run": f.rid, "installed": h.hooks_installed,
            "skipped": h.hooks_skipped, "failed": h.hooks_failed, "skipped_names": skipped[:40],
            "gaps": h.sequence_gaps, "protocol_errors": h.protocol_errors,
            "controls": f"{sum(1 for p in pages if p in controls)} of {len(pages)} planted "
                        "page loads captured",
            "coverage": coverage, "batches": h.batches, "lab": _lab(f.info.extra),
            "incomplete": [p.name for p in f.info.phases if not p.complete],
        })
    return out


def _run_row(f: RunFacts) -> dict[str, object]:
    d, t = f.info.device, f.info.target
    return {"journey": f.journey, "run": f.rid, "device": f"{d.get('kind')} {d.get('model') or ''}",
            "fingerprint": d.get("fingerprint"), "app": t.get("app") or t.get("command"),
            "phases": ", ".join(f"{p.name}{'' if p.complete else ' (incomplete)'}"
                                for p in f.info.phases),
            "command": shlex.join(f.info.command) if f.info.command else ""}


LABEL_CHAR_PX = 6.5
"""Width of a character of a journey label (the report's sans-serif at 11 px), a bit over."""


def _journey_labels(starts: list[tuple[float, str]],
                    right: float) -> list[tuple[float, int, str, str]]:
    """Journey names above their spans on two alternating rows, each cut with an ellipsis
    where it would run into the next label on its row (the whole name is its tooltip)."""
    labels = []
    for i, (x, name) in enumerate(starts):
        end = starts[i + 2][0] if i + 2 < len(starts) else right + 20
        room = max(int((end - x - 6) / LABEL_CHAR_PX), 1)
        text = name if len(name) <= room else name[:max(room - 1, 0)] + "…"
        labels.append((x, 12 if i % 2 == 0 else 26, text, name))
    return labels


def _timeline(runs: Sequence[RunFacts], redact: bool = True) -> Timeline | None:
    msgs = [(f, m) for f in runs for m in f.messages if m.direction == "out"]
    if not msgs:
        return None
    hosts = sorted({m.host or m.ip or "?" for _, m in msgs})
    left, width, row_h = 190, 900, 22
    spans = []
    offset = 0.0
    for f in runs:
        if not f.messages:
            continue
        # A journey's span covers its phases and its messages, whichever reach further.
        times = [m.t for m in f.messages] + [t for p in f.info.phases
                                             for t in (p.start, p.end) if t]
        start, end = min(times), max(times)
        spans.append((f, start, end, offset))
        offset += max(end - start, 0.5) + (0.5 if len(runs) > 1 else 0.0)
    total = max(offset, 0.5)
    scale = width / total
    y_of = {h: 52 + i * row_h for i, h in enumerate(hosts)}
    phase_names = sorted({p.name for f in runs for p in f.info.phases})
    colour = {p: PHASE_COLOURS[i % len(PHASE_COLOURS)] for i, p in enumerate(phase_names)}
    bins: dict[tuple[float, float, str], tuple[int, str]] = {}
    bands = []
    labels = _journey_labels([(round(left + off * scale, 1), f.journey)
                              for f, _s, _e, off in spans], left + width)
    for f, start, _end, off in spans:
        for p in f.info.phases:
            x = left + (off + max(p.start - start, 0)) * scale
            w = max(((p.end or p.start) - p.start) * scale, 2)
            bands.append((x, w, colour.get(p.name, "#999"), f"{f.journey}: {p.name}"))
        for m in f.messages:
            if m.direction != "out":
                continue
            x = left + (off + m.t - start) * scale
            key = (round(x / MARK_PX) * MARK_PX, y_of[m.host or m.ip or "?"],
                   colour.get(str(m.phase), "#999"))
            got = bins.get(key)
            if got is not None:
                bins[key] = (got[0] + 1, got[1])
                continue
            title = f"{f.journey} {m.phase} {m.method or m.kind.value} {m.url or m.host}"
            title = mask(title) if redact else title
            bins[key] = (1, title if len(title) <= TITLE_MAX else title[:TITLE_MAX] + "…")
    # one mark per host, phase and few pixels: every message is counted, none dropped, and a
    # run of 100,000 messages draws a few thousand circles, not 100,000
    marks = [Mark(round(x, 1), y, c, t if n == 1 else f"{n} messages, first: {t}")
             for (x, y, c), (n, t) in bins.items()]
    return Timeline(left + width + 20, 62 + len(hosts) * row_h,
                    [(y_of[h], h) for h in hosts], marks, bands, labels,
                    sorted(colour.items()))
