"""Parsed data kept between runs: what a library builds from a data file it ships, stored with
:mod:`marshal` in the user's cache directory under a key (the file's SHA-256, the library's
version) and built again whenever the key differs or the file is missing, unreadable or not
writable.

Why: ``publicsuffixlist`` parses its list on every start, encoding each of ~7,000 rules to
IDNA in Python (286 M instructions, ~0.07 s), to build the same frozenset each time; with
the list's hash, the marshalled frozenset loads in 16 M (callgrind, the 20 MB bench run).
marshal, not pickle: loading it builds data and never runs code. marshal is not hardened
against crafted input either (its documentation says so), so the file is trusted as the user's
own, as the agent bundle beside it is, which holds code the harness injects."""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def file_key(data: bytes, *parts: str) -> tuple[str, ...]:
    """A cache key for what is parsed from ``data``: its SHA-256 and ``parts`` (the parser's
    version and options)."""
    return (*parts, hashlib.sha256(data).hexdigest(), f"marshal {marshal.version}")


def load(path: Path | None, key: tuple[str, ...], build: Callable[[], object]) -> object:
    """What ``path`` holds under ``key``, else ``build()`` (stored there for the next run when
    marshal can hold it). None as ``path`` builds and stores nothing."""
    if path is not None:
        try:
            stored, value = marshal.loads(path.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):  # missing, cut short, not ours
            pass
        else:
            if stored == key:
                return value
    value = build()
    if path is not None:
        _store(path, key, value)
    return value


def _store(path: Path, key: tuple[str, ...], value: object) -> None:
    try:
        # marshal's stub names the types it holds; what it does not, it refuses here
        data = marshal.dumps((key, value))  # type: ignore[arg-type]
    except ValueError:  # a value marshal cannot hold: built again each run
        return
    write_whole(path, data)


def write_whole(path: Path, data: bytes) -> bool:
    """``data`` put at ``path`` whole or not at all (written beside it as
    ``.NAME.*.tmp``, then renamed), for runs reading it at the same time. False when the disk
    refuses (read-only, full): the next run builds it again."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
