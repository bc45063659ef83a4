"""Scenario files: a journey as named phases of steps, typed, with line-numbered errors.

```yaml
name: incognito
description: browse normally, then in incognito, with fresh canaries
phases:
  - name: normal
    steps:
      - launch
      - open_url: "{canary.url}"
      - search: "{canary.query}"
  - name: incognito
    steps:
      - incognito: on
      - open_url: "{canary.url}"
```

Every error names the file, line and column and what was expected, and is raised before
anything runs. The model also computes the app state in force in each phase (incognito,
signed in, sync, usage statistics), which claims select phases by.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from harness.errors import InputError
from harness.protocol import JSON
from harness.yamldoc import load_yaml


class ValueKind(StrEnum):
    NONE = "none"
    TEXT = "text"
    """A string, templated from the run's canaries."""
    SWITCH = "switch"
    """on | off (true | false)."""
    SECONDS = "seconds"
    SELECTOR = "selector"
    """A mapping: resource_id | text | description, plus ``text`` to type for ``type``."""
    OPTIONAL_TEXT = "optional-text"


STEPS: Mapping[str, ValueKind] = {
    "launch": ValueKind.NONE, "clear_data": ValueKind.NONE, "open_url": ValueKind.TEXT,
    "search": ValueKind.TEXT, "download": ValueKind.TEXT, "incognito": ValueKind.SWITCH,
    "sign_in": ValueKind.OPTIONAL_TEXT, "sign_out": ValueKind.NONE, "sync": ValueKind.SWITCH,
    "usage_stats": ValueKind.SWITCH, "tap": ValueKind.SELECTOR, "type": ValueKind.SELECTOR,
    "swipe": ValueKind.SELECTOR, "wait": ValueKind.SECONDS, "idle": ValueKind.SECONDS,
    "background": ValueKind.NONE, "foreground": ValueKind.NONE, "kill": ValueKind.NONE,
    "restart": ValueKind.NONE, "crash": ValueKind.NONE,
}
"""Every step a scenario may use, with the value it takes."""

TEMPLATE_NAMES = ("canary.url", "canary.query", "canary.download", "account")
_TEMPLATE = re.compile(r"\{([^{}]*)\}")
SELECTOR_KEYS = ("resource_id", "text", "description", "input")
SWIPE_DIRECTIONS = ("up", "down", "left", "right")
"""What ``swipe: {input: ...}`` takes (the device layer's ``input swipe`` directions)."""
STATE_STEPS = {"incognito": "incognito", "sync": "sync", "usage_stats": "usage_stats"}


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    value: JSON
    line: int
    column: int

    def describe(self) -> str:
        return self.action if self.value is None else f"{self.action}: {self.value}"


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    name: str
    steps: tuple[Step, ...]
    state: Mapping[str, bool] = field(default_factory=dict)
    """State in force at the end of the phase: incognito, signed_in, sync, usage_stats."""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    phases: tuple[PhaseSpec, ...]
    path: str
    sha256: str

    def actions(self) -> set[str]:
        return {s.action for p in self.phases for s in p.steps}


def _pos(node: object, key: object = None, at_key: bool = False) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is None:
        return 0, 0
    try:
        if key is not None:
            if isinstance(node, CommentedMap):
                line, col = lc.value(key) if key in node and not at_key else lc.key(key)
                return line + 1, col + 1
            if isinstance(node, CommentedSeq):
                line, col = lc.item(key)
                return line + 1, col + 1
        return lc.line + 1, lc.col + 1
    except (KeyError, IndexError, TypeError):
        return lc.line + 1, lc.col + 1


def _err(path: str, node: object, key: object, message: str, fld: str | None = None,
         at_key: bool = False) -> InputError:
    line, col = _pos(node, key, at_key)
    return InputError(message, path=path, line=line or None, column=col or None, field=fld)


def _switch(path: str, node: object, key: object, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("on", "off"):
        return value.lower() == "on"
    raise _err(path, node, key, f"expected on or off, got {value!r}")


def _check_template(path: str, node: object, key: object, text: str) -> None:
    for m in _TEMPLATE.finditer(text):
        if m.group(1) not in TEMPLATE_NAMES:
            raise _err(path, node, key, f"unknown template {{{m.group(1)}}}; expected one of "
                       + ", ".join("{" + n + "}" for n in TEMPLATE_NAMES))
    if text.count("{") != text.count("}"):
        raise _err(path, node, key, f"unbalanced braces in template {text!r}")


def _step(path: str, seq: CommentedSeq, index: int) -> Step:
    raw = seq[index]
    line, col = _pos(seq, index)
    holder: object
    key: object
    if isinstance(raw, str):
        action, value, holder, key = raw, None, seq, index
    elif isinstance(raw, CommentedMap) and len(raw) == 1:
        action = next(iter(raw))
        value, holder, key = raw[action], raw, action
    else:
        raise _err(path, seq, index, "a step is a name (`- launch`) or a one-key mapping "
                   "(`- open_url: URL`)")
    if action not in STEPS:
        raise _err(path, seq, index, f"unknown step {action!r}; expected one of "
                   + ", ".join(sorted(STEPS)))
    kind = STEPS[action]
    out: JSON
    if kind == ValueKind.NONE:
        if value is not None:
            raise _err(path, holder, key, f"step {action!r} takes no value", action)
        out = None
    elif kind in (ValueKind.TEXT, ValueKind.OPTIONAL_TEXT):
        if value is None and kind == ValueKind.OPTIONAL_TEXT:
            out = None
        elif not isinstance(value, str) or not value:
            raise _err(path, holder, key, f"step {action!r} takes a text, got {value!r}", action)
        else:
            _check_template(path, holder, key, value)
            out = value
    elif kind == ValueKind.SWITCH:
        out = _switch(path, holder, key, value)
    elif kind == ValueKind.SECONDS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
            raise _err(path, holder, key, f"step {action!r} takes seconds (0-3600), got "
                       f"{value!r}", action)
        out = float(value)
    else:
        if not isinstance(value, CommentedMap) or not value:
            raise _err(path, holder, key, f"step {action!r} takes a selector mapping with "
                       + " / ".join(SELECTOR_KEYS), action)
        for k, v in value.items():
            if k not in SELECTOR_KEYS or not isinstance(v, str):
                raise _err(path, value, k, f"selector key {k!r} must be one of "
                           + ", ".join(SELECTOR_KEYS) + " with a text value", action)
        if action == "swipe" and value.get("input", "up") not in SWIPE_DIRECTIONS:
            raise _err(path, value, "input", "a swipe's input is the direction: "
                       f"{', '.join(SWIPE_DIRECTIONS[:-1])} or {SWIPE_DIRECTIONS[-1]}, "
                       f"got {value['input']!r}", action)
        out = {str(k): str(v) for k, v in value.items()}
    return Step(action, out, line, col)


def load_scenario(path: Path | str) -> Scenario:
    p = Path(path)
    name = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read scenario: {exc}", path=name) from exc
    doc = load_yaml(text, name)
    if not isinstance(doc, CommentedMap):
        raise InputError("a scenario is a mapping with name and phases", path=name, line=1)
    for key in doc:
        if key not in ("name", "description", "phases"):
            raise _err(name, doc, key, f"unknown key {key!r}; expected name, description, "
                       "phases", str(key), at_key=True)
    title = doc.get("name")
    if not isinstance(title, str) or not title:
        raise _err(name, doc, "name" if "name" in doc else None, "expected a name (text)", "name")
    phases_raw = doc.get("phases")
    if not isinstance(phases_raw, CommentedSeq) or not phases_raw:
        raise _err(name, doc, "phases" if "phases" in doc else None,
                   "expected phases: a non-empty list", "phases")
    state = {"incognito": False, "signed_in": False, "sync": False, "usage_stats": True}
    phases: list[PhaseSpec] = []
    seen: set[str] = set()
    for i, ph in enumerate(phases_raw):
        if not isinstance(ph, CommentedMap):
            raise _err(name, phases_raw, i, "a phase is a mapping with name and steps")
        for key in ph:
            if key not in ("name", "steps"):
                raise _err(name, ph, key, f"unknown key {key!r} in a phase; expected name, "
                           "steps", str(key), at_key=True)
        pname = ph.get("name")
        if not isinstance(pname, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", pname):
            raise _err(name, ph, "name" if "name" in ph else None,
                       "a phase name is letters, digits, _ . - ", "name")
        if pname in seen:
            raise _err(name, ph, "name", f"phase {pname!r} appears twice", "name")
        seen.add(pname)
        steps_raw = ph.get("steps")
        if not isinstance(steps_raw, CommentedSeq) or not steps_raw:
            raise _err(name, ph, "steps" if "steps" in ph else None,
                       "expected steps: a non-empty list", "steps")
        steps = tuple(_step(name, steps_raw, j) for j in range(len(steps_raw)))
        for s in steps:
            if s.action in STATE_STEPS:
                state[STATE_STEPS[s.action]] = bool(s.value)
            elif s.action == "sign_in":
                state["signed_in"] = True
            elif s.action == "sign_out":
                state["signed_in"] = False
            elif s.action == "clear_data":
                state.update(signed_in=False)
        phases.append(PhaseSpec(pname, steps, dict(state), _pos(phases_raw, i)[0]))
    return Scenario(title, str(doc.get("description") or ""), tuple(phases), name,
                    hashlib.sha256(text.encode()).hexdigest())
