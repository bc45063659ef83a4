"""Claims files: a vendor's statements, quoted verbatim, each turned into checks.

```yaml
vendor: Xiaomi
vendor_domains: [xiaomi.com, miui.com]
claims:
  - id: incognito-not-synced
    quote: Under incognito mode, user browsing data is not synced, ...
    source: {file: seeds/000_....txt, date: 2020-05-02, by: Xiaomi blog}
    journeys: [incognito]
    checks:
      - no_needle: {classes: [browsing], to: sync, phases: {incognito: true}}
```
Errors name the file, line, column and field, before anything is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import hyperscan
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from harness.claims.evidence import host_pattern
from harness.device.base import NeedleClass
from harness.errors import InputError
from harness.protocol import JSON
from harness.yamldoc import load_yaml, position

TARGETS = ("all", "analytics", "sync", "vendor", "third", "vendor-or-analytics")
"""Destination scopes; also ``host:REGEX`` and ``sdk:NAME``."""
STATE_KEYS = ("incognito", "signed_in", "sync", "usage_stats")
TLS_ORDER = {"SSLv3": 0, "TLSv1": 1, "TLSv1.0": 1, "TLSv1.1": 2, "TLSv1.2": 3, "TLSv1.3": 4}
"""TLS versions as the capture names them, oldest first."""

CHECK_PARAMS: Mapping[str, Mapping[str, bool]] = {
    # param -> required
    "no_needle": {"classes": True, "to": False, "phases": False},
    "only_when": {"classes": True, "to": False, "when": True},
    "tls_at_least": {"version": True, "to": False},
    "no_destination": {"operator": False, "sdk": False, "domain": False, "about": True},
    "not_linkable": {"to": False},
    "residency": {"countries": True, "to": False},
    "respects_opt_out": {"switch": True, "classes": True, "to": False},
    "encrypted_not_encoded": {"classes": True, "phases": False},
}


@dataclass(frozen=True, slots=True)
class Check:
    kind: str
    params: Mapping[str, JSON]
    line: int

    def describe(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind}({inner})"


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    quote: str
    source: Mapping[str, str]
    journeys: tuple[str, ...]
    checks: tuple[Check, ...]
    line: int


@dataclass(frozen=True, slots=True)
class ClaimsFile:
    path: str
    vendor: str
    vendor_domains: tuple[str, ...]
    claims: tuple[Claim, ...]


def _fail(path: str, node: object, key: object, msg: str, fld: str | None = None) -> InputError:
    line, col = position(node, key)
    return InputError(msg, path=path, line=line, column=col, field=fld)


def _plain(v: object) -> JSON:
    if isinstance(v, CommentedMap | dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, CommentedSeq | list):
        return [_plain(x) for x in v]
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    return str(v)


def _check_params(path: str, kind: str, params: CommentedMap) -> None:
    spec = CHECK_PARAMS[kind]
    for k in params:
        if k not in spec:
            raise _fail(path, params, k, f"{kind}: unknown parameter {k!r}; expected "
                        + ", ".join(spec), str(k))
    for k, required in spec.items():
        if required and k not in params:
            raise _fail(path, params, None, f"{kind}: missing parameter {k!r}", k)
    v = params.get("classes")
    if "classes" in params and (not isinstance(v, CommentedSeq) or not v):
        raise _fail(path, params, "classes", f"{kind}: classes is a list of needle classes",
                    "classes")
    for c in v or ():
        if not isinstance(c, str) or c not in {x.value for x in NeedleClass}:
            raise _fail(path, params, "classes", f"{kind}: unknown needle class {c!r}; "
                        "expected " + ", ".join(x.value for x in NeedleClass), "classes")
    to = params.get("to")
    if "to" in params and not (isinstance(to, str) and (
            to in TARGETS or to.startswith("host:") or (to.startswith("sdk:") and to[4:]))):
        raise _fail(path, params, "to", f"{kind}: unknown destination scope {to!r}; expected "
                    + ", ".join(TARGETS) + ", host:REGEX or sdk:NAME", "to")
    if isinstance(to, str) and to.startswith("host:"):
        try:  # here, not while judging a run
            host_pattern(to[5:])
        except hyperscan.error as exc:
            raise _fail(path, params, "to", f"{kind}: host:REGEX is not a regular expression"
                        f" Hyperscan takes: {exc}", "to") from exc
    for k in ("phases", "when"):
        if k in params:
            v = params[k]
            if not isinstance(v, CommentedMap) or any(
                    x not in STATE_KEYS or not isinstance(b, bool) for x, b in v.items()):
                raise _fail(path, params, k, f"{kind}: {k} maps state names ("
                            + ", ".join(STATE_KEYS) + ") to true/false", k)
    if kind == "no_destination":
        about = params.get("about")
        if about not in ("operator", "sdk", "domain"):
            raise _fail(path, params, "about", "no_destination: about is operator, sdk or domain",
                        "about")
        named = params.get(about)
        if not isinstance(named, str) or not named.strip():
            # without it nothing could match, and the check would hold whatever was sent
            raise _fail(path, params, about if about in params else None,
                        f"no_destination: about {about} needs {about}: NAME (text)", about)
    if kind == "tls_at_least" and params.get("version") not in TLS_ORDER:
        raise _fail(path, params, "version", f"tls_at_least: unknown version "
                    f"{params.get('version')!r}; expected " + ", ".join(TLS_ORDER), "version")
    if kind == "respects_opt_out" and params.get("switch") not in STATE_KEYS:
        raise _fail(path, params, "switch", f"respects_opt_out: unknown switch "
                    f"{params.get('switch')!r}; expected " + ", ".join(STATE_KEYS), "switch")
    countries = params.get("countries")
    if kind == "residency" and (not isinstance(countries, CommentedSeq) or not countries
                                or not all(isinstance(c, str) and c for c in countries)):
        raise _fail(path, params, "countries", "residency: countries is a list of country"
                    " codes (CN, SG...)", "countries")


def _texts(path: str, node: CommentedMap, key: str) -> tuple[str, ...]:
    """A list of strings (journeys, vendor_domains); a lone string would be read letter by
    letter."""
    v = node.get(key)
    if v is None:
        return ()
    if not isinstance(v, CommentedSeq) or not all(isinstance(x, str) for x in v):
        raise _fail(path, node, key, f"{key} is a list of names", key)
    return tuple(v)


def load_claims(path: Path | str) -> ClaimsFile:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read claims: {exc}", path=name) from exc
    doc = load_yaml(text, name)
    if not isinstance(doc, CommentedMap) or not isinstance(doc.get("claims"), CommentedSeq):
        raise InputError("a claims file is a mapping with a claims list", path=name, line=1)
    claims: list[Claim] = []
    ids: set[str] = set()
    seq = doc["claims"]
    for i, c in enumerate(seq):
        if not isinstance(c, CommentedMap):
            raise _fail(name, seq, i, "a claim is a mapping")
        for key in ("id", "quote", "source", "checks"):
            if key not in c:
                raise _fail(name, c, None, f"claim is missing {key!r}", key)
        cid = c["id"]
        if not isinstance(cid, str) or cid in ids:
            raise _fail(name, c, "id", f"claim id {cid!r} is missing or repeated", "id")
        ids.add(cid)
        source = c["source"]
        if not isinstance(source, CommentedMap) or "file" not in source or "date" not in source:
            raise _fail(name, c, "source", "source needs file and date", "source")
        checks_raw = c["checks"]
        if not isinstance(checks_raw, CommentedSeq) or not checks_raw:
            raise _fail(name, c, "checks", "checks is a non-empty list", "checks")
        checks: list[Check] = []
        for j, ch in enumerate(checks_raw):
            if not isinstance(ch, CommentedMap) or len(ch) != 1:
                raise _fail(name, checks_raw, j, "a check is a one-key mapping: KIND: {params}")
            kind = next(iter(ch))
            if kind not in CHECK_PARAMS:
                raise _fail(name, checks_raw, j, f"unknown check {kind!r}; expected "
                            + ", ".join(CHECK_PARAMS), str(kind))
            params = ch[kind]
            if not isinstance(params, CommentedMap):
                raise _fail(name, ch, kind, f"{kind}: parameters are a mapping", str(kind))
            _check_params(name, kind, params)
            plain = _plain(params)
            assert isinstance(plain, dict)
            checks.append(Check(str(kind), plain, position(checks_raw, j)[0] or 0))
        if not isinstance(c["quote"], str):
            raise _fail(name, c, "quote", "quote is the vendor's words, as text", "quote")
        if any(isinstance(v, CommentedMap | CommentedSeq) for v in source.values()):
            raise _fail(name, c, "source", "source values are text (file, date, by)", "source")
        claims.append(Claim(cid, " ".join(c["quote"].split()),
                            {str(k): str(v) for k, v in source.items()},
                            _texts(name, c, "journeys"), tuple(checks), position(seq, i)[0] or 0))
    vendor = doc.get("vendor", "")
    if not isinstance(vendor, str):
        raise _fail(name, doc, "vendor", "vendor is a name", "vendor")
    return ClaimsFile(name, vendor, _texts(name, doc, "vendor_domains"), tuple(claims))
