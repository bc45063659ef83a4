"""The checks: pure functions over analysed runs, each returning what it saw.

A check says ``violated`` (with evidence: finding and message ids), ``held`` (it looked and
saw nothing against the claim) or ``unknown`` (it could not look, and why). Whether a
``held`` may become PASS is for the verdict gates to decide (fail-closed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.claims.evidence import RunFacts, chain_of, in_scope, operator_of, phase_matches
from harness.claims.model import TLS_ORDER, Check
from harness.parse.message import Message, MessageKind

VIOLATED, HELD, UNKNOWN = "violated", "held", "unknown"
PLAIN_SCHEMES = ("http", "ws")
"""URL schemes that say the request went in plaintext, whichever hook saw it."""
REVERSIBLE = re.compile(r"^(url|query:|header:|form:|sensors:|base64|hex|gzip|zlib|json:|"
                        r"protobuf:|derive:(raw|lower|upper|url|url-plus|json|json-slash|"
                        r"json-ascii|base64|base64url|hex|HEX|utf16le)|app:compress|app:encode|"
                        r"http:|sdk:|raw:|ws-frame:|datagram:)")
ID_KEYS = re.compile(r"(anonymous_id|distinct_id|uuid|device_id|android_id|imei|instance_id|"
                     r"login_id|user_id|oaid|gaid)$", re.I)


@dataclass
class CheckResult:
    check: Check
    status: str
    reason: str
    evidence: list[str] = field(default_factory=list)
    phases: set[tuple[str, str]] = field(default_factory=set)
    """(run id, phase) the check looked at: the verdict gates require them complete."""


Ctx = tuple[Sequence[RunFacts], tuple[str, ...]]


def _words(value: object) -> str:
    """A check parameter as a reader would write it: ``device-id, account-id`` or
    ``signed_in=on, sync=on``, not a Python repr."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={'on' if v is True else 'off' if v is False else v}"
                         for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    return "any" if value is None else str(value)


def _leaks(facts: RunFacts, classes: object, to: str, vendor: tuple[str, ...],
           phases: object) -> tuple[list[str], set[tuple[str, str]]]:
    by_id = {m.id: m for m in facts.messages}
    hits: list[str] = []
    looked = {(facts.rid, p.name) for p in facts.info.phases
              if phase_matches(p.state, phases)}
    for f in facts.findings:
        if f.get("control") or f.get("class") not in (classes or []):  # type: ignore[operator]
            continue
        m = by_id.get(str(f.get("message")))
        if m is None or not in_scope(to, m, vendor, facts):
            continue
        if (facts.rid, str(f.get("phase"))) in looked:
            hits.append(f"{facts.rid}/{f['id']}")
    return hits, looked


def no_needle(c: Check, ctx: Ctx) -> CheckResult:
    runs, vendor = ctx
    to = str(c.params.get("to", "all"))
    hits: list[str] = []
    looked: set[tuple[str, str]] = set()
    for facts in runs:
        h, lk = _leaks(facts, c.params.get("classes"), to, vendor, c.params.get("phases"))
        hits += h
        looked |= lk
    if not looked:
        return CheckResult(c, UNKNOWN,
                           f"no phase of the runs matches {_words(c.params.get('phases'))}")
    if hits:
        return CheckResult(c, VIOLATED, f"{len(hits)} finding(s) of "
                           f"{_words(c.params['classes'])} sent to {to} in the phases in scope",
                           hits, looked)
    return CheckResult(c, HELD, f"no {_words(c.params['classes'])} value reached {to} in "
                       f"{len(looked)} phase(s)", [], looked)


def only_when(c: Check, ctx: Ctx) -> CheckResult:
    runs, vendor = ctx
    to = str(c.params.get("to", "all"))
    when = c.params.get("when")
    hits: list[str] = []
    looked: set[tuple[str, str]] = set()
    for facts in runs:
        for p in facts.info.phases:
            if not phase_matches(p.state, when):
                looked.add((facts.rid, p.name))
        h, _ = _leaks(facts, c.params.get("classes"), to, vendor, None)
        for ref in h:
            fid = ref.split("/", 1)[1]
            f = next(x for x in facts.findings if x["id"] == fid)
            if not phase_matches(facts.state(str(f.get("phase"))), when):
                hits.append(ref)
    if not looked:
        return CheckResult(c, UNKNOWN, f"no phase outside {_words(when)} was run, so the claim was "
                           "not put to the test")
    if hits:
        return CheckResult(c, VIOLATED, f"{len(hits)} finding(s) sent to {to} in phases "
                           f"outside {_words(when)}", hits, looked)
    return CheckResult(c, HELD, f"nothing of {_words(c.params['classes'])} reached {to} "
                       f"outside {_words(when)}", [], looked)


def tls_at_least(c: Check, ctx: Ctx) -> CheckResult:
    runs, vendor = ctx
    to = str(c.params.get("to", "all"))
    want = TLS_ORDER.get(str(c.params["version"]), 99)
    bad: list[str] = []
    seen = 0
    unknown: list[str] = []
    for facts in runs:
        for m in facts.messages:
            if m.direction != "out" or (m.meta.get("stack") and m.links) \
                    or not in_scope(to, m, vendor, facts):
                continue
            scheme = (m.url or "").partition(":")[0].lower()
            if m.kind in (MessageKind.SDK_CALL, MessageKind.DNS) or \
                    (m.kind == MessageKind.PAGE and scheme not in PLAIN_SCHEMES):
                continue  # calls inside the app and name lookups, not traffic to the host
            seen += 1
            version = m.tls_version
            if scheme in PLAIN_SCHEMES or (m.source.startswith(("native.tcp", "plain"))
                                           and m.protocol != "tls-ciphertext"):
                bad.append(f"{facts.rid}/{m.id}")
            elif version is None:
                unknown.append(f"{facts.rid}/{m.id}")
            elif TLS_ORDER.get(version, -1) < want:
                bad.append(f"{facts.rid}/{m.id}")
    if bad:
        return CheckResult(c, VIOLATED, f"{len(bad)} message(s) to {to} below "
                           f"{c.params['version']} or in plaintext", bad)
    if seen == 0:
        return CheckResult(c, UNKNOWN, f"no message to {to} was seen, so no TLS version to check")
    if unknown:
        return CheckResult(c, UNKNOWN, f"{len(unknown)} message(s) to {to} have no TLS version "
                           "recorded", unknown)
    return CheckResult(c, HELD, f"all {seen} message(s) to {to} used {c.params['version']} or "
                       "newer")


def no_destination(c: Check, ctx: Ctx) -> CheckResult:
    runs, _ = ctx
    about = str(c.params["about"])
    operator, sdk, domain = (c.params.get(k) for k in ("operator", "sdk", "domain"))
    hits: list[str] = []
    sdk_hosts: dict[str, set[str]] = {}
    for facts in runs:
        for m in facts.messages:
            if m.direction != "out":
                continue
            built = facts.sdk_by_message.get(m.id)
            if built:
                sdk_hosts.setdefault(built, set()).add(f"{m.host} (operated by "
                                                       f"{operator_of(m.host) or 'unknown'})")
            if (about == "operator" and operator and operator_of(m.host) == operator) \
                    or (about == "sdk" and sdk and built and str(sdk).lower() in built.lower()) \
                    or (about == "domain" and domain and _under(m.host, str(domain))):
                hits.append(f"{facts.rid}/{m.id}")
    context = "; ".join(f"Payloads built by the {k} went to {', '.join(sorted(v))}"
                        for k, v in sdk_hosts.items()) or "No SDK-built payload was recognised"
    if hits:
        return CheckResult(c, VIOLATED, f"{len(hits)} message(s) went to the {about} named by "
                           f"the claim. {context}", hits)
    return CheckResult(c, HELD, f"the claim is about the {about}: none matched. {context}")


def _under(host: str | None, domain: str) -> bool:
    """``host`` is ``domain`` or a name under it (``notmiui.com`` is not under ``miui.com``)."""
    h, d = (host or "").lower().rstrip("."), domain.lower().strip(".")
    return h == d or h.endswith("." + d)


def not_linkable(c: Check, ctx: Ctx) -> CheckResult:
    runs, vendor = ctx
    to = str(c.params.get("to", "analytics"))
    tokens: dict[str, set[tuple[str, str]]] = {}
    refs: dict[str, list[str]] = {}
    for facts in runs:
        by_id = {m.id: m for m in facts.messages}
        for f in facts.findings:
            m = by_id.get(str(f.get("message")))
            if m is None or not in_scope(to, m, vendor, facts) or f.get("control"):
                continue
            if f.get("class") in ("device-id", "account-id"):
                tokens.setdefault(f"{f['needle']}", set()).add((facts.rid, str(f.get("phase"))))
                refs.setdefault(f"{f['needle']}", []).append(f"{facts.rid}/{f['id']}")
        for value, phase, ref in facts_tokens(facts, to, vendor):
            tokens.setdefault(value, set()).add((facts.rid, phase))
            refs.setdefault(value, []).append(ref)
    # two phases, or two runs (each a fresh app state), seeing one value are linked by it
    linked = {v: ps for v, ps in tokens.items() if len(ps) > 1}
    journey = {f.rid: f.journey for f in runs}

    def where(rid: str, phase: str) -> str:
        return phase if len(runs) == 1 else f"{journey[rid]}:{phase}"

    if linked:
        ev = sorted({r for v in linked for r in refs[v][:3]})
        sample = "; ".join(f"{v[:40]} in {_words(sorted({where(*p) for p in ps}))}"
                           for v, ps in list(linked.items())[:3])
        return CheckResult(c, VIOLATED, f"{len(linked)} identifier(s) repeat across phases "
                           f"(restart, reset, sign-in or incognito), linking them: {sample}", ev)
    if not tokens:
        return CheckResult(c, UNKNOWN, f"no identifier was seen in traffic to {to}")
    return CheckResult(c, HELD, f"{len(tokens)} identifier(s) seen, none in two phases")


def facts_tokens(facts: RunFacts, to: str,
                 vendor: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Id-like JSON values (anonymous_id, distinct_id, uuid...) in decoded payloads."""
    from harness.detect.decoders import Budget, Decoder
    from harness.detect.rootpairs import roots
    from harness.parse.storeread import MessageStore

    out: list[tuple[str, str, str]] = []
    known = {str(n.get("value")) for n in facts.needles}
    with MessageStore.open(facts.run) as store:
        for m in facts.messages:
            if m.direction != "out" or not in_scope(to, m, vendor, facts) \
                    or (m.meta.get("stack") and m.links):
                continue
            full: Message = store.get(m.id)
            dec = Decoder(None, Budget(max_bytes=8 << 20))
            for root in roots(full):
                for layer in dec.expand(root):
                    last = layer.chain[-1]
                    if last.startswith("json:") and ID_KEYS.search(last) and len(layer.data) >= 8:
                        value = layer.data.decode("utf-8", "replace")
                        if value in known:
                            continue  # a needle: its findings already stand for it
                        key = last.rsplit(".", 1)[-1]
                        out.append((f"{key} {value}", str(m.phase), f"{facts.rid}/{m.id}"))
    return out


def residency(c: Check, ctx: Ctx) -> CheckResult:
    runs, vendor = ctx
    to = str(c.params.get("to", "all"))
    allowed = {str(x) for x in c.params["countries"]}  # type: ignore[union-attr]
    bad: list[str] = []
    unplaced: set[str] = set()
    seen = 0
    from harness.classify.geo import locate  # offline IP database

    for facts in runs:
        for m in facts.messages:
            if m.direction != "out" or not in_scope(to, m, vendor, facts):
                continue
            seen += 1
            place = locate(m.ip) if m.ip else None
            country = place.country if place else None
            if not country:
                unplaced.add(f"{m.host} ({m.ip})")
            elif country not in allowed:
                bad.append(f"{facts.rid}/{m.id}")
    if bad:
        return CheckResult(c, VIOLATED, f"{len(bad)} message(s) to {to} went to addresses "
                           f"located outside {_words(sorted(allowed))}", bad)
    if seen == 0:
        return CheckResult(c, UNKNOWN, f"no message to {to} was seen")
    if unplaced:
        return CheckResult(c, UNKNOWN, "the location of these destinations is not a country "
                           "(loopback lab servers or addresses unknown to the offline database): "
                           + ", ".join(sorted(unplaced)[:5]))
    return CheckResult(c, HELD,
                       f"all {seen} message(s) went to addresses in {_words(sorted(allowed))}")


def respects_opt_out(c: Check, ctx: Ctx) -> CheckResult:
    switch = str(c.params["switch"])
    inner = Check("no_needle", {"classes": c.params["classes"], "to": c.params.get("to", "all"),
                                "phases": {switch: False}}, c.line)
    r = no_needle(inner, ctx)
    r.check = c
    if r.status == UNKNOWN:
        r.reason = f"no phase ran with {switch} off"
    return r


def encrypted_not_encoded(c: Check, ctx: Ctx) -> CheckResult:
    runs, _ = ctx
    hits: list[str] = []
    looked: set[tuple[str, str]] = set()
    for facts in runs:
        want = c.params.get("phases")
        looked |= {(facts.rid, p.name) for p in facts.info.phases
                   if phase_matches(p.state, want)}
        for f in facts.findings:
            if f.get("control") or f.get("class") not in c.params["classes"]:  # type: ignore[operator]
                continue
            if (facts.rid, str(f.get("phase"))) not in looked:
                continue
            chain = chain_of(f)
            if all(REVERSIBLE.match(s) for s in chain):
                hits.append(f"{facts.rid}/{f['id']}")
    if hits:
        return CheckResult(c, VIOLATED, f"{len(hits)} value(s) readable through reversible "
                           "encodings alone (form, base64, gzip, JSON): encoded, not encrypted",
                           hits, looked)
    if not looked:
        return CheckResult(c, UNKNOWN, "no phase in scope was run")
    return CheckResult(c, HELD, "no value was readable without a key", [], looked)


CHECKS: Mapping[str, Callable[[Check, Ctx], CheckResult]] = {
    "no_needle": no_needle, "only_when": only_when, "tls_at_least": tls_at_least,
    "no_destination": no_destination, "not_linkable": not_linkable, "residency": residency,
    "respects_opt_out": respects_opt_out, "encrypted_not_encoded": encrypted_not_encoded,
}


def run_check(c: Check, runs: Sequence[RunFacts], vendor_domains: tuple[str, ...]) -> CheckResult:
    return CHECKS[c.kind](c, (runs, vendor_domains))
