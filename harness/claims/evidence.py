"""What the checks look at: the facts of analysed runs, loaded once.

A claim may need several journeys (each a run): checks see all runs of a suite together.
Evidence ids are ``<run-id>/<finding or message id>`` so a verdict points at the bytes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import hyperscan

from harness.capture.rundir import RunDir, RunInfo, damaged
from harness.errors import RunDirError
from harness.parse.builder import SKIPPED_ROWS
from harness.parse.message import Message, MessageKind
from harness.parse.storeread import MessageStore
from harness.text import is_digits

ANALYTICS_HOSTS = (
    r"^sa\.api\.", r"^data\.mistat\.", r"^tracking\.(intl\.|india\.|rus\.)?miui\.com$",
    r"(^|\.)sensorsdata\.(cn|com)$", r"(^|\.)google-analytics\.com$", r"(^|\.)mixpanel\.com$",
    r"(^|\.)app-measurement\.com$", r"(^|\.)umeng\.com$", r"(^|\.)appsflyer\.com$",
    r"(^|\.)adjust\.com$", r"(^|\.)posthog\.com$", r"(^|\.)segment\.io$",
)
"""Hosts whose traffic is usage statistics; the lab's sa.api.lab.test stands for Xiaomi's."""
SYNC_HOSTS = (r"^sync\.", r"(^|\.)browser\.sync\.")
OPERATORS = (
    (r"(^|\.)sensorsdata\.(cn|com)$", "Sensors Analytics"),
    (r"(^|\.)(miui|xiaomi|mi)\.com$|(^|\.)xiaomi\.net$", "Xiaomi"),
    (r"\.lab\.test$", "the lab (standing for the browser's vendor)"),
)
LAB_SUFFIX = ".lab.test"


@dataclass
class RunFacts:
    run: RunDir
    info: RunInfo
    messages: list[Message]
    findings: list[dict[str, object]]
    needles: list[dict[str, object]]
    hooks: dict[str, str]
    """hook name → installed | skipped | failed (last word for each name)."""
    sdk_by_message: dict[str, str] = field(default_factory=dict)
    """message id → SDK that built its payload, from verified wire formats."""
    recorded_gaps: int = 0
    """Sequence gaps in capture.sqlite's batches (per pid), whatever run.json says."""
    recorded_protocol_errors: int = 0
    """Rows of capture.sqlite's protocol_errors table: agent messages the harness refused."""
    unreadable_rows: int = 0
    """Rows of capture.sqlite the readers skipped as unreadable (``CaptureReader.skipped``,
    and the message builder's): records the checks could not look at."""

    @property
    def rid(self) -> str:
        return self.info.run_id

    @property
    def journey(self) -> str:
        return str(self.info.scenario.get("name", ""))

    def state(self, phase: str | None) -> dict[str, bool]:
        for p in self.info.phases:
            if p.name == phase:
                return {k: bool(v) for k, v in p.state.items()}
        return {}


def load_facts(path: RunDir | Path | str) -> RunFacts:
    run = path if isinstance(path, RunDir) else RunDir.open(path)
    info = run.load_info()
    with MessageStore.open(run) as store:
        messages = list(store.messages(with_body=False))
        skipped = store.meta().get(SKIPPED_ROWS, "0")
    findings = _json_list(run, FINDINGS_JSON)
    needles = _json_list(run, NEEDLES_JSON)
    hooks: dict[str, str] = {}
    with run.reader() as reader:
        for ev in reader.events(kinds=["hook"]):
            name, status = ev.fields.get("name"), ev.fields.get("status")
            if isinstance(name, str) and isinstance(status, str) and hooks.get(name) != "installed":
                hooks[name] = status
        gaps = batch_gaps(((pid, agent), seq)
                          for _id, pid, seq, _t, _n, _b, agent in reader.batches())
        errors = len(reader.protocol_errors())
        # a claim cannot PASS over what could not be read
        # a count the store cannot give (a damaged meta row) is at least one, never zero
        unreadable = sum(reader.skipped.values()) + (int(skipped) if is_digits(skipped)
                                                     else 1)
    sdk: dict[str, str] = {}
    for f in findings:
        for step in chain_of(f):
            if step.startswith("sensors:"):
                sdk[str(f["message"])] = "Sensors Analytics SDK"
    return RunFacts(run, info, messages, findings, needles, hooks, sdk, gaps, errors,
                    unreadable)


def batch_gaps(batches: Iterable[tuple[Hashable, int]]) -> int:
    """Missing sequence numbers per agent in what was durably written, given (agent key,
    seq) with the key (pid, agent instance): each agent numbers its batches from 0, and
    after an exec a pid has a second one, whose lost batch 1 the first one's batch 1 would
    hide under a key of the pid alone. The gate reads the record itself, not only the
    recorder's tally in run.json, which a crash can leave stale."""
    seqs: dict[Hashable, set[int]] = {}
    for key, seq in batches:
        seqs.setdefault(key, set()).add(seq)
    return sum(max(s) + 1 - len(s) for s in seqs.values())


FINDINGS_JSON = "findings.json"
NEEDLES_JSON = "needles.json"
_REQUIRED: dict[str, dict[str, tuple[type, ...]]] = {
    FINDINGS_JSON: {"id": (str,), "needle": (str,), "message": (str,), "chain": (list,),
                    "excerpt": (str,), "host": (str, type(None)), "phase": (str, type(None))},
    NEEDLES_JSON: {"name": (str,), "class": (str,), "value": (str,)},
}
"""What the checks and the report read of each item, with its type (harness/detect/finding.py
writes them): a damaged file is refused as a whole rather than read in part, which could drop
a finding from a report without a word."""


def _json_list(run: RunDir, name: str) -> list[dict[str, object]]:
    """findings.json or needles.json, each item checked (a RunDirError naming the file, the
    item and the field otherwise; re-running analyze rewrites it). Missing, it is empty."""
    path = run.file(name)
    if not path.is_file():
        return []
    data = run.read_derived(name)
    if not isinstance(data, list):
        raise RunDirError(damaged(run, name, "not a list"), path=str(path))
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise RunDirError(damaged(run, name, f"item {i} is not an object"), path=str(path))
        for key, types in _REQUIRED[name].items():
            if not isinstance(item.get(key), types):
                raise RunDirError(damaged(run, name, f"item {i} has no valid {key!r}"),
                                  path=str(path))
    return data


def _match(host: str, patterns: tuple[str, ...]) -> bool:
    return any(re.search(p, host) for p in patterns)


def operator_of(host: str | None) -> str | None:
    for pattern, name in OPERATORS:
        if host and re.search(pattern, host):
            return name
    return None


@functools.lru_cache(maxsize=256)
def host_pattern(pattern: str) -> hyperscan.Database:
    """``host:REGEX`` compiled by Hyperscan: no backtracking, so matching is linear in the
    host's length whatever the pattern (Python's re took exponential time on ``^(a+)+$`` and
    a long captured host). Raises hyperscan.error for what Hyperscan cannot compile
    (backreferences, lookaround); claims files are checked with this when they load."""
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=[pattern.encode()], ids=[0],
               flags=[hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY])
    return db


def host_matches(pattern: str, host: str) -> bool:
    """re.search semantics: the pattern anywhere in the (lower-case) host."""
    hits: list[int] = []
    host_pattern(pattern).scan(host.encode("utf-8", "surrogateescape"),
                               match_event_handler=lambda *a: hits.append(1))
    return bool(hits)


def in_scope(to: str, m: Message, vendor_domains: tuple[str, ...], facts: RunFacts) -> bool:
    host = (m.host or "").lower()
    if to == "all":
        return True
    if to.startswith("host:"):
        return host_matches(to[5:], host)
    if to.startswith("sdk:"):
        return facts.sdk_by_message.get(m.id, "").lower().startswith(to[4:].lower())
    analytics = _match(host, ANALYTICS_HOSTS) or m.id in facts.sdk_by_message \
        or m.kind == MessageKind.SDK_CALL
    vendor = any(host == d or host.endswith("." + d) for d in vendor_domains) \
        or (host.endswith(LAB_SUFFIX) and not host.startswith("canary."))
    if to == "analytics":
        return analytics
    if to == "sync":
        return _match(host, SYNC_HOSTS)
    if to == "vendor":
        return vendor
    if to == "vendor-or-analytics":
        return vendor or analytics
    if to == "third":
        return not vendor and not host.endswith(LAB_SUFFIX)
    return False


def phase_matches(state: Mapping[str, object], want: object) -> bool:
    if not isinstance(want, dict):
        return True
    return all(bool(state.get(k)) == bool(v) for k, v in want.items())


def chain_of(finding: Mapping[str, object]) -> list[str]:
    chain = finding.get("chain")
    return [str(s) for s in chain] if isinstance(chain, list) else []
