"""Needles: the values a run looks for, from the device, the scenario's canaries, the user."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from harness.capture.rundir import RunDir
from harness.detect.finding import Needle
from harness.errors import InputError, UsageError
from harness.needleclass import NeedleClass
from harness.text import is_text

NEEDLES_JSON = "needles.json"
MIN_LENGTH = 4
"""Shorter values would match noise everywhere."""


def _needle(raw: object, where: str, index: int, seq: object = None) -> Needle:
    def fail(msg: str, key: object = None, fld: str | None = None) -> InputError:
        from harness.yamldoc import position

        line, col = position(raw, key) if key is not None else position(seq, index)
        return InputError(msg, path=where, line=line, column=col, field=fld)

    if not isinstance(raw, dict):
        raise fail(f"needle {index} is not a mapping with name, value and class")
    name, value = raw.get("name"), raw.get("value")
    cls = raw.get("class", "user")
    if not isinstance(name, str) or not name:
        raise fail(f"needle {index} has no name", "name" if "name" in raw else None, "name")
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        raise fail(f"needle {name!r}: value must be a text of at least {MIN_LENGTH} "
                   "characters", "value" if "value" in raw else None, "value")
    if not is_text(value):
        raise fail(f"needle {name!r}: the value is not Unicode text (a lone surrogate)",
                   "value", "value")
    try:
        ncls = NeedleClass(cls)
    except ValueError:
        raise fail(f"needle {name!r}: unknown class {cls!r}; expected one of "
                   + ", ".join(c.value for c in NeedleClass), "class", "class") from None
    return Needle(name, ncls, value, str(raw.get("source", "file")))


def load_needles_file(path: Path) -> list[Needle]:
    """A JSON or YAML list of ``{name, class, value, source}``. Errors name the file, and
    for YAML the line, column and field."""
    # harness.yamldoc (ruamel.yaml, 10 ms of `harness analyze`'s start) is imported for a
    # YAML file or an error's position only: analyze reads a needles.json
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read needles: {exc}", path=str(path)) from exc
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", path=str(path), line=exc.lineno,
                             column=exc.colno) from exc
    else:
        from harness.yamldoc import load_yaml

        data = load_yaml(text, str(path))
    if not isinstance(data, list):
        from harness.yamldoc import position

        line, col = position(data)
        raise InputError("expected a list of needles (- name: ..., value: ..., class: ...)",
                         path=str(path), line=line or 1, column=col)
    return [_needle(x, str(path), i, data) for i, x in enumerate(data)]


def parse_cli(items: Sequence[str]) -> list[Needle]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or len(value) < MIN_LENGTH:
            raise UsageError(f"--needle wants NAME=VALUE with a value of at least {MIN_LENGTH} "
                             f"characters, got {item!r}")
        if not is_text(item):  # a command line's bytes that were not UTF-8, name or value
            raise UsageError(f"--needle wants UTF-8 text, got {item!r}")
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
