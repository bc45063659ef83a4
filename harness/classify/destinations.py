"""Destinations of a run: messages grouped by host, each host classified (registrable
domain, operator and category, SDKs, hosting country and network, TLS, first or third
party), written to ``destinations.json``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from weakref import WeakMethod

from harness.capture.rundir import RunDir
from harness.classify import domain, geo
from harness.classify.destination import Destination, Party
from harness.classify.trackers import TrackerDB
from harness.classify.vendors import XIAOMI, Vendor
from harness.detect.finding import Finding
from harness.parse.message import Message, MessageKind
from harness.parse.storeread import MessageStore

try:
    from harness.classify import _classify
except ImportError:  # an unbuilt checkout: Classifier.add is the reference
    _classify = None  # type: ignore[assignment]
try:
    from harness.detect import _outjson
except ImportError:  # an unbuilt checkout: json.dump writes destinations.json
    _outjson = None  # type: ignore[assignment]

DESTINATIONS_JSON = "destinations.json"
FINDINGS_JSON = "findings.json"

_NETWORK_KINDS = frozenset({MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.WS_FRAME,
                            MessageKind.RAW, MessageKind.DATAGRAM})
"""Kinds that crossed the network (SDK calls, page loads and DNS lookups did not go to the
host they name, or went to a resolver)."""


_LAB_TLDS = frozenset({"localhost", "test", "example", "invalid", "local", "internal",
                       "home", "lan"})
"""Names reserved for testing and local networks (RFC 2606, 6761, 6762): the lab."""


@dataclass(slots=True)
class _Acc:
    """What the classifier gathers of one host as the messages go by (``_classify.Adder`` fills
    it in C)."""

    ips: set[str] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    sdks: set[str] = field(default_factory=set)
    tls: set[str] = field(default_factory=set)
    ciphers: set[str] = field(default_factory=set)
    phases: set[str] = field(default_factory=set)
    ids: list[str] = field(default_factory=list)
    messages: int = 0
    bytes_out: int = 0
    bytes_in: int = 0


_TLS_UNKNOWN = "tls (version not captured)"
_PLAIN_SCHEMES = ("http://", "ws://")


def _tls_of(m: Message) -> str | None:
    """What a message says of its TLS."""
    if m.tls_version:
        return m.tls_version
    if m.protocol == "tls-ciphertext":
        return _TLS_UNKNOWN
    if m.source.endswith((".tcp", ".udp")) or (m.url or "").startswith(_PLAIN_SCHEMES):
        return "plaintext"
    if m.source.endswith(".tls"):
        return _TLS_UNKNOWN
    return None


def _size(m: Message) -> int:
    """What the message carried: its start line and headers (a GET's URL is data too) and
    its body as sent on the wire."""
    headers = m.headers
    # each header's name and value, and ": " and CRLF; a loop, not sum(map(len, chain...)):
    # a message has a handful of headers, too few for the iterators to pay for themselves
    head = len(m.method or "") + len(m.url or "") + 4 * len(headers)
    for name, value in headers:
        head += len(name) + len(value)
    if m.body_len_wire is not None:
        return head + m.body_len_wire
    n = m.meta.get("body_len")
    return head + (n if isinstance(n, int) else len(m.body))


class Classifier:
    """Network messages grouped by host as they stream past (``harness analyze`` feeds it
    the messages the detector reads, so they are read once); :meth:`destinations`
    classifies each host.

    :attr:`add` counts a message under its host: through ``_classify.Adder``
    (harness/classify/_classify.c) when it is built, which reads a message's slots in C
    (a quarter of the instructions, for every message of a run) and leaves what it does not
    know to :meth:`add_reference`; ``compiled=False`` (or an unbuilt checkout) is the
    reference alone (tests/classify/test_add.py compares the two)."""

    def __init__(self, compiled: bool = True) -> None:
        # the Adder holds these two dicts: they are never rebound
        self.accs: dict[str, _Acc] = {}
        # TLS records seen by a TCP hook under a TLS hook: counted only for a host that no
        # TLS-layer message reached (else the same traffic would count twice)
        self.below: dict[str, _Acc] = {}
        self.stack_ids: list[tuple[str, str]] = []
        """(host, id) of the Java HTTP stack records also seen on the wire."""
        self.add: Callable[[Message], None] = self.add_reference
        self.compiled = compiled and _classify is not None
        """Whether the C paths (:attr:`add`, and the SDKs of :meth:`destinations`) run."""
        if self.compiled:
            # the reference weakly: the Adder is the classifier's, and a cycle would keep
            # every host's ids until a full collection (analyze_run runs with none). So add
            # raises ReferenceError once the Classifier is gone, where the reference would
            # count into dicts no one can read any more (destinations() is the Classifier's)
            self.add = _classify.Adder(self.accs, self.below, Message, _Acc, MessageKind,
                                       _NETWORK_KINDS, WeakMethod(self.add_reference)).add

    def add_reference(self, m: Message) -> None:
        """Count a message under its host (the reference of :attr:`add`)."""
        if m.kind not in _NETWORK_KINDS:
            return
        host = (m.host or m.ip or "").lower().rstrip(".")
        if not host:
            return
        if m.links and m.meta.get("stack"):  # a Java HTTP stack record seen on the wire too
            self._stack_record(host, m)
            return
        group = self.below if m.protocol == "tls-ciphertext" else self.accs
        a = group.get(host)
        if a is None:  # not setdefault(host, _Acc()): that makes six sets for every message
            a = group[host] = _Acc()
        if m.ip:
            a.ips.add(m.ip)
        if m.port:
            a.ports.add(m.port)
        if m.sdk:
            a.sdks.add(m.sdk)
        tls = _tls_of(m)
        if tls:
            a.tls.add(tls)
        if m.cipher:
            a.ciphers.add(m.cipher)
        if m.phase:
            a.phases.add(m.phase)
        a.ids.append(m.id)
        a.messages += 1
        n = _size(m)
        if m.direction == "out":
            a.bytes_out += n
        else:
            a.bytes_in += n

    def _stack_record(self, host: str, m: Message) -> None:
        # the same bytes are counted from the TLS layer's message; keep who sent them
        if m.sdk:
            self.accs.setdefault(host, _Acc()).sdks.add(m.sdk)
        self.stack_ids.append((host, m.id))

    def destinations(self, vendor: Vendor = XIAOMI, sdk_of: Mapping[str, str] | None = None,
                     trackers: TrackerDB | None = None) -> list[Destination]:
        """``sdk_of`` maps message ids to the SDK that built their payload (from the
        detector's verified formats)."""
        db = trackers or TrackerDB.bundled()
        accs, sdk_of = dict(self.accs), sdk_of or {}
        if sdk_of:
            hosts = [*accs.values(), *self.below.values()]
            for a, sdks in zip(hosts, self._sdks_at_ids(hosts, sdk_of), strict=True):
                a.sdks.update(sdks)
            for host, mid in self.stack_ids:
                if mid in sdk_of:
                    accs.setdefault(host, _Acc()).sdks.add(sdk_of[mid])
        for host, a in self.below.items():
            accs.setdefault(host, a)
        return [_destination(h, a, vendor, db) for h, a in sorted(accs.items())]

    def _sdks_at_ids(self, hosts: list[_Acc], sdk_of: Mapping[str, str]
                     ) -> Iterable[Iterable[str]]:
        """For each host, the SDKs ``sdk_of`` names of its ids. In C where it is built
        (``_classify.sdks_at_ids``), which reads each id's number where the reference hashes
        each id to look it up: ~300 instructions a message of the run, most of which have
        no SDK. The reference (a host at a time, as it is updated) for what it does not
        take, and with ``compiled=False`` (tests/classify/test_sdks.py compares the two)."""
        fast = (_classify.sdks_at_ids([a.ids for a in hosts], sdk_of)
                if self.compiled and isinstance(sdk_of, dict) else None)
        if fast is not None:
            return fast
        return (map(sdk_of.__getitem__, sdk_of.keys() & a.ids) for a in hosts)


def classify(messages: Iterable[Message], vendor: Vendor = XIAOMI,
             sdk_of: Mapping[str, str] | None = None,
             trackers: TrackerDB | None = None) -> list[Destination]:
    """Group network messages by host and classify each host. ``sdk_of`` maps message ids
    to the SDK that built their payload (from the detector's verified formats)."""
    c = Classifier()
    for m in messages:
        c.add(m)
    return c.destinations(vendor, sdk_of, trackers)


def _destination(host: str, a: _Acc, vendor: Vendor, db: TrackerDB) -> Destination:
    reg = domain.registrable_domain(host)
    ips = sorted(a.ips) or ([host] if domain.is_ip(host) else [])
    locs = [geo.locate(ip) for ip in ips]
    sources = [domain.SOURCE, geo.SOURCE]
    operator = category = operator_country = service = tracker = None
    endpoint = vendor.endpoint(host)
    if endpoint is not None:
        operator, category, service = endpoint.operator, endpoint.category, endpoint.service
        sources.append(f"vendor table: {endpoint.source}")
    match = db.lookup(host)
    if match is not None:
        tracker = match.tracker
        operator = operator or match.organisation
        operator_country = match.organisation_country
        category = category or match.category
        sources.append(db.source)
    if operator is None and vendor.owns(reg, host):
        operator, category = vendor.name, category or "vendor"
    if host.rsplit(".", 1)[-1] in _LAB_TLDS or (locs and all(loc.local for loc in locs)):
        party = Party.LOCAL
    elif vendor.owns(reg, host):
        party = Party.FIRST
    elif reg is not None:
        party = Party.THIRD
    else:
        party = Party.UNKNOWN
    return Destination(
        host=host, registrable_domain=reg, ips=tuple(ips), ports=tuple(sorted(a.ports)),
        party=party, operator=operator, category=category, sdks=tuple(sorted(a.sdks)),
        countries=tuple(sorted({loc.country for loc in locs if loc.country})),
        networks=tuple(sorted({loc.network for loc in locs if loc.network})),
        tls_versions=tuple(sorted(a.tls)), messages=a.messages, bytes_out=a.bytes_out,
        bytes_in=a.bytes_in, phases=tuple(sorted(a.phases)), sources=tuple(sources),
        ciphers=tuple(sorted(a.ciphers)), operator_country=operator_country,
        service=service, tracker=tracker, message_ids=tuple(a.ids),
    )


def sdks_from_findings(run: RunDir) -> dict[str, str]:
    """:func:`sdks_of` the findings in the run's ``findings.json``; none when it is absent or
    unreadable."""
    path = run.file(FINDINGS_JSON)
    out: dict[str, str] = {}
    try:
        findings = json.loads(path.read_text("utf-8")) if path.is_file() else []
    except (OSError, ValueError):
        return out
    for f in findings if isinstance(findings, list) else []:
        if not isinstance(f, dict) or not isinstance(f.get("message"), str):
            continue
        sdk = _verified_sdk(f.get("chain") or [])
        if sdk is not None:
            out[f["message"]] = sdk
    return out


def sdks_of(findings: Iterable[Finding], compiled: bool = True) -> dict[str, str]:
    """Message id → SDK, from wire formats the detector verified on the way to a finding
    (its chain step ``sensors:<field> (crc ok)``: a Sensors Analytics upload;
    ``mixpanel:data``: Mixpanel's ingestion form); a later finding's wins.

    A list of findings is read in C (``_classify.verified_sdks``) where it is built: each
    finding has a chain tuple of its own, and hashing and comparing them to work each chain
    out once cost ~1,500 instructions a finding in Python; ``compiled=False`` (or an
    unbuilt checkout, or findings of other types) is the reference, which
    tests/classify/test_sdks.py compares it with."""
    if compiled and _classify is not None and type(findings) is list:
        fast = _classify.verified_sdks(findings, Finding, _SENSORS_CRC, _SENSORS_WIRE,
                                       _MIXPANEL)
        if fast is not None:
            return fast
    out: dict[str, str] = {}
    # a run's findings share a few hundred chains (748 among 132,915 on the 200 MB bench):
    # each one's SDK is worked out once (one get, not `in` then [], which hashes and
    # compares the chain twice: a fifth less)
    known: dict[tuple[str, ...], str | None] = {}
    for f in findings:
        chain = f.chain
        sdk = known.get(chain, _UNSEEN)
        if sdk is _UNSEEN:
            sdk = known[chain] = _verified_sdk(chain)
        if sdk is not None:
            out[f.message] = sdk
    return out


_UNSEEN = "\0unseen"
"""sdks_of's mark of a chain not worked out yet (never an SDK's name)."""

_SENSORS_CRC = "sensors-analytics (crc verified)"
_SENSORS_WIRE = "sensors-analytics (wire format)"
_MIXPANEL = "mixpanel (wire format)"


def _verified_sdk(chain: Iterable[object]) -> str | None:
    """The SDK of the last step of ``chain`` that names a verified wire format."""
    sdk = None
    for step in chain:
        if not isinstance(step, str) or not step.startswith(("sensors:", "mixpanel:")):
            continue  # most steps: one test each
        if step.startswith("sensors:"):
            sdk = _SENSORS_CRC if "crc ok" in step else _SENSORS_WIRE
        else:
            sdk = _MIXPANEL
    return sdk


def write_destinations(run: RunDir, vendor: Vendor = XIAOMI,
                       sdk_of: Mapping[str, str] | None = None,
                       classifier: Classifier | None = None,
                       findings: Iterable[Finding] | None = None) -> Path:
    """Classify a run's messages and write ``destinations.json``. SDKs come from the
    messages themselves (SDK hooks, Java senders), ``sdk_of``, and the formats verified in
    the run's findings: ``findings`` when the caller has them (``harness analyze``, which
    has just written them), else ``findings.json`` when it exists. A ``classifier`` that
    has seen every message already saves reading them again."""
    return destinations_writer(run, vendor, sdk_of, classifier, findings)()


def destinations_writer(run: RunDir, vendor: Vendor = XIAOMI,
                        sdk_of: Mapping[str, str] | None = None,
                        classifier: Classifier | None = None,
                        findings: Iterable[Finding] | None = None) -> Callable[[], Path]:
    """:func:`write_destinations`'s work, all but the write, which it returns: ``harness
    analyze`` does this work while findings.json goes to disk, then writes."""
    verified = sdks_from_findings(run) if findings is None else sdks_of(findings)
    sdks = {**verified, **(sdk_of or {})}
    if classifier is not None:
        dests = classifier.destinations(vendor, sdks)
    else:
        with MessageStore.open(run) as store:
            dests = classify(store.messages(with_body=False), vendor, sdks)
    doc = {
        "vendor": {"name": vendor.name, "domains": list(vendor.domains)},
        "notice": "Operator data from the Ghostery Tracker Database (CC-BY-NC-SA-4.0);"
                  " locations from GeoLite2-derived data (geoip2fast).",
        "destinations": [d.to_json() for d in dests],
    }
    # write_json's json.dump(indent=2) is json's pure-Python encoder, a generator a value
    # (~700 M instructions on the 200 MB bench); json_indented writes the same bytes in C,
    # or None for what only json.dump may write (tests/detect/test_jsonindent.py)
    text = _outjson.json_indented(doc) if _outjson is not None else None
    if text is None:
        return lambda: run.write_json(DESTINATIONS_JSON, doc)
    return lambda: run.write_json_text(DESTINATIONS_JSON, text)


if __name__ == "__main__":  # pragma: no cover - `harness analyze` is the usual way
    import sys

    print(write_destinations(RunDir.open(sys.argv[1])))
