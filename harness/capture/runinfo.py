"""``run.json``: what a run is (its phases, health, device, tools), and the checks that
refuse a file whose known fields have the wrong type, naming the field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard

from harness.errors import RunDirError
from harness.protocol_checks import is_int as is_int

if TYPE_CHECKING:  # the type only: an analysis needs none of the agent's schema
    from harness.protocol import JSON

FORMAT_VERSION = 2
"""2: ``capture.sqlite`` ``batches.agent``. Older formats are read as they are, never upgraded
(harness/capture/dbformat.py, ``LATER_COLUMNS``)."""
RUN_JSON = "run.json"


@dataclass(slots=True)
class Phase:
    """A phase of the run (``run.json``'s ``phases``): its name, its times, how it went."""

    name: str
    start: float
    end: float | None = None
    complete: bool = True
    """False when a step failed or the app died inside the phase."""
    state: dict[str, JSON] = field(default_factory=dict)
    """App state in force during the phase (incognito, signed_in, sync, usage_stats)."""
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Health:
    """What the capture says of itself (``run.json``'s ``health``): hooks, batches, gaps."""

    hooks_installed: int = 0
    hooks_skipped: int = 0
    hooks_failed: int = 0
    batches: int = 0
    records: int = 0
    sequence_gaps: int = 0
    protocol_errors: int = 0
    detached: list[dict[str, JSON]] = field(default_factory=list)
    """One entry per agent detach: pid, reason, t."""
    bytes_hooked_out: int = 0
    bytes_hooked_in: int = 0
    bytes_kernel_out: int | None = None
    bytes_kernel_in: int | None = None
    """From the device's egress counters where it has them; None where it does not."""
    ring_drops: int = 0
    ring_dropped_bytes: int = 0
    ring_waits: int = 0
    """The native rings' loss counters (summed over agents, as of each one's last batch):
    records dropped because both buffers stayed full past the wait limit, their bytes, and
    how often a hooked thread had to wait for a drain."""


BLINDING_DETACH = ("connection-terminated", "device-lost", "teardown-timeout",
                   "unrequested-detach", "not-instrumented", "lost-after-fork",
                   "unfollowed-exec")
"""Detach reasons (the part before the first colon) after which the app may go on sending
unobserved, unlike the app exiting or the harness detaching at the end. Frida's own, and the
harness's: ``teardown-timeout`` (the final flush did not return, so batches may be missing;
``teardown-timeout-after-flush`` is not one), ``unrequested-detach`` (Frida said
application-requested while the harness had not detached), ``not-instrumented`` (a child
Frida announced, or an exec's image, that the harness could not instrument),
``lost-after-fork`` (a child its parent reaped that never reported;
harness/capture/recorder.py) and ``unfollowed-exec`` (Frida said process-terminated but the
pid ran on, instrumented again late: an exec without child gating; harness/agent/execs.py).
Frida's ``process-replaced`` (an exec) is not one: the session follows the new image, and
records ``not-instrumented`` when it cannot."""


def blinding_detach(reason: object) -> bool:
    """Whether a ``Health.detached`` reason leaves a blind spot (``BLINDING_DETACH``): the
    capture summary lists those processes and the verdicts' gates count them."""
    return str(reason).split(":", 1)[0] in BLINDING_DETACH


@dataclass(slots=True)
class RunInfo:
    """The contents of ``run.json``. Unknown keys in a newer file are kept in ``extra``."""

    run_id: str
    created: float
    format_version: int = FORMAT_VERSION
    started: float | None = None
    ended: float | None = None
    status: str = "created"
    """created | capturing | complete | interrupted | failed"""
    device: dict[str, JSON] = field(default_factory=dict)
    target: dict[str, JSON] = field(default_factory=dict)
    scenario: dict[str, JSON] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    tools: dict[str, JSON] = field(default_factory=dict)
    health: Health = field(default_factory=Health)
    command: list[str] = field(default_factory=list)
    """The command line that made the run (for the report's reproduce line)."""
    extra: dict[str, JSON] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: str = RUN_JSON) -> RunInfo:
        _check_run_json(data, path)
        known = {f for f in cls.__dataclass_fields__}
        try:
            kwargs = {k: v for k, v in data.items() if k in known and k != "extra"}
            kwargs["phases"] = [Phase(**p) for p in data.get("phases", [])]
            kwargs["health"] = Health(**data.get("health", {}))
            kwargs["extra"] = {k: v for k, v in data.items() if k not in known}
            return cls(**kwargs)
        except TypeError as exc:
            raise RunDirError(f"run.json does not fit format {FORMAT_VERSION}: {exc}",
                              path=path) from exc


def kind_of(value: object) -> str:
    """How a JSON value is named in an error: its type, and the value when it is short."""
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
             str: "a string", list: "a list", dict: "an object"}
    name = names.get(type(value), type(value).__name__)
    shown = repr(value)
    return name if value is None or len(shown) > 40 else f"{name} ({shown})"


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


_WANT: dict[str, tuple[str, Callable[[object], bool]]] = {
    "string": ("a string", lambda v: isinstance(v, str)),
    "number": ("a number", is_number),
    "number?": ("a number or null", lambda v: v is None or is_number(v)),
    "int": ("an integer", is_int),
    "int?": ("an integer or null", lambda v: v is None or is_int(v)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "object": ("an object", lambda v: isinstance(v, dict)),
    "list": ("a list", lambda v: isinstance(v, list)),
    "objects": ("a list of objects", lambda v: isinstance(v, list)
                and all(isinstance(x, dict) for x in v)),
    "strings": ("a list of strings", lambda v: isinstance(v, list)
                and all(isinstance(x, str) for x in v)),
}
_RUN_FIELDS = {"run_id": "string", "created": "number", "format_version": "int",
               "started": "number?", "ended": "number?", "status": "string",
               "device": "object", "target": "object", "scenario": "object", "phases": "list",
               "tools": "object", "health": "object", "command": "strings",
               "completeness": "object"}
_PHASE_FIELDS = {"name": "string", "start": "number", "end": "number?", "complete": "bool",
                 "state": "object", "notes": "strings"}
_HEALTH_FIELDS = {f: "int" for f in Health.__dataclass_fields__} | {
    "bytes_kernel_out": "int?", "bytes_kernel_in": "int?", "detached": "objects"}
_LAB_FIELDS = {"missing": "int", "hosts": "object"}
_LAB_HOST_FIELDS = {"received": "int", "missing": "int", "examples": "list"}


def _check_fields(data: Mapping[str, Any], fields: Mapping[str, str], path: str,
                  prefix: str = "") -> None:
    for name, want in fields.items():
        if name in data:
            text, ok = _WANT[want]
            if not ok(data[name]):
                raise RunDirError(f"{text} expected, not {kind_of(data[name])}", path=path,
                                  field=prefix + name)


def _check_run_json(data: Mapping[str, Any], path: str) -> None:
    """Refuse a run.json whose known fields have the wrong type here, naming the field: read
    as they are, they failed much later (the report's timeline, analyze's store) with a
    traceback naming neither the file nor the field."""
    _check_fields(data, _RUN_FIELDS, path)
    for i, phase in enumerate(data.get("phases", [])):
        if not isinstance(phase, dict):
            raise RunDirError(f"an object expected, not {kind_of(phase)}", path=path,
                              field=f"phases[{i}]")
        _check_fields(phase, _PHASE_FIELDS, path, f"phases[{i}].")
    _check_fields(data.get("health", {}), _HEALTH_FIELDS, path, "health.")
    lab = data.get("completeness", {})
    _check_fields(lab, _LAB_FIELDS, path, "completeness.")
    for host, counts in lab.get("hosts", {}).items():
        where = f"completeness.hosts.{host}"
        if not isinstance(counts, dict):
            raise RunDirError(f"an object expected, not {kind_of(counts)}", path=path,
                              field=where)
        _check_fields(counts, _LAB_HOST_FIELDS, path, where + ".")


