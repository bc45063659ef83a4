"""Needles: the values a run looks for, from the device, the scenario's canaries, the user."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from harness.capture.rundir import RunDir
from harness.detect.finding import Needle
from harness.device.base import NeedleClass
from harness.errors import InputError, UsageError

NEEDLES_JSON = "needles.json"
MIN_LENGTH = 4
"""Shorter values would match noise everywhere."""


def _needle(raw: object, where: str, index: int) -> Needle:
    if not isinstance(raw, dict):
        raise InputError(f"needle {index} is not an object", path=where)
    name, value = raw.get("name"), raw.get("value")
    cls = raw.get("class", "user")
    if not isinstance(name, str) or not name:
        raise InputError(f"needle {index} has no name", path=where, field="name")
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        raise InputError(f"needle {name!r}: value must be a text of at least {MIN_LENGTH} "
                         "characters", path=where, field="value")
    try:
        ncls = NeedleClass(cls)
    except ValueError:
        raise InputError(f"needle {name!r}: unknown class {cls!r}; expected one of "
                         + ", ".join(c.value for c in NeedleClass), path=where,
                         field="class") from None
    return Needle(name, ncls, value, str(raw.get("source", "file")))


def load_needles_file(path: Path) -> list[Needle]:
    """A JSON or YAML list of ``{name, class, value, source}``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read needles: {exc}", path=str(path)) from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else YAML(typ="safe").load(text)
    except (json.JSONDecodeError, YAMLError) as exc:
        raise InputError(f"not valid JSON/YAML: {exc}", path=str(path)) from exc
    if not isinstance(data, list):
        raise InputError("expected a list of needles", path=str(path))
    return [_needle(x, str(path), i) for i, x in enumerate(data)]


def parse_cli(items: Sequence[str]) -> list[Needle]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or len(value) < MIN_LENGTH:
            raise UsageError(f"--needle wants NAME=VALUE with a value of at least {MIN_LENGTH} "
                             f"characters, got {item!r}")
        out.append(Needle(name, NeedleClass.USER, value, "cli"))
    return out


def run_needles(run: RunDir) -> list[Needle]:
    path = run.file(NEEDLES_JSON)
    return load_needles_file(path) if path.is_file() else []


def merge(*groups: Iterable[Needle]) -> list[Needle]:
    seen: dict[str, Needle] = {}
    for group in groups:
        for n in group:
            seen.setdefault(n.name, n)
    return list(seen.values())
