"""What the harness's cache directory (:func:`harness.cachedir.cache_dir`) holds, by kind of
file, and clearing it (``harness cache``).

Most of it is only a saving: the agent bundle, the lab browser's classes, the needles' Hyperscan
databases and the parsed public suffix list and tracker table are made again by the next run that
needs them. Two kinds are not, and are removed only when named: frida-server binaries the user put
there (``harness provision`` pushes them) and the lab device's identifiers, which keep the lab
"phone" the same phone from run to run, as a real one is, so that runs compare.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from harness.cachedir import STALE_TMP, cache_dir, frida_server_dir


@dataclass(frozen=True)
class Kind:
    name: str
    """As ``harness cache --clear NAME`` spells it."""
    what: str
    patterns: tuple[str, ...]
    """Paths relative to the cache directory (fnmatch: ``*`` matches ``/`` too) of its entries,
    a file or a directory each."""
    rebuilt: bool
    """The harness makes it again when it is missing: cleared by a plain ``--clear``."""


TMP = Kind("tmp", "temporary files (past an hour old, a killed run's)",
           ("*.tmp",), True)
KINDS = (
    TMP,
    Kind("agent", "Frida agent bundles built from hooks/ (one per source version)",
         ("agent-*.js",), True),
    Kind("lab-browser", "the lab browser's compiled classes (one per source version)",
         ("lab-browser-*",), True),
    Kind("hyperscan", "compiled needle databases (the 4 last used kept)", ("hyperscan/*.hsdb",),
         True),
    Kind("parsed", "the public suffix list's and the tracker table's parsed state",
         ("publicsuffixlist.marshal", "trackerdb.marshal"), True),
    Kind("lab-device", "the lab device's identifiers (its Android ID and IMEI)",
         ("lab-device.json",), False),
    Kind("frida-server", "frida-server binaries for `harness provision`", ("frida-server/*",),
         False),
)
BY_NAME = {k.name: k for k in KINDS}
REBUILT = tuple(k.name for k in KINDS if k.rebuilt)


@dataclass
class Entry:
    path: Path
    size: int
    """Bytes, a directory's files summed."""
    written: float
    """Modification time (a directory's newest file)."""


@dataclass
class Stock:
    """What the cache directory holds, by kind."""

    path: Path
    kinds: dict[str, list[Entry]] = field(default_factory=dict)
    other: list[Entry] = field(default_factory=list)
    """Entries of no kind the harness writes: listed, never removed."""


def _measure(path: Path) -> Entry:
    st = path.lstat()
    if not path.is_dir() or path.is_symlink():
        return Entry(path, st.st_size, st.st_mtime)
    size, written = 0, st.st_mtime
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            s = p.stat()
            size += s.st_size
            written = max(written, s.st_mtime)
    return Entry(path, size, written)


def _entries(base: Path) -> Iterator[tuple[str, Path]]:
    """Each top-level entry (relative name, path), and each one inside the directories that
    hold a kind's files (hyperscan/, frida-server/) in their place."""
    nested = {pat.split("/")[0] for k in KINDS for pat in k.patterns if "/" in pat}
    for p in sorted(base.iterdir()):
        if p.name in nested and p.is_dir() and not p.is_symlink():
            for q in sorted(p.iterdir()):
                yield f"{p.name}/{q.name}", q
        else:
            yield p.name, p


def kind_of(name: str) -> Kind | None:
    """The kind an entry's relative name belongs to (temporary files first: a half-written
    bundle is not a bundle)."""
    for k in KINDS:
        if any(fnmatchcase(name, pat) for pat in k.patterns):
            return k
    return None


def take_stock(base: Path | None = None) -> Stock:
    """Every entry of the cache directory, by kind; an empty stock when there is none."""
    base = base or cache_dir()
    stock = Stock(base, {k.name: [] for k in KINDS})
    servers = frida_server_dir()
    moved = servers.parent != base  # EGRESS_HARNESS_CACHE: provision looks there, not here
    for name, path in _entries(base) if base.is_dir() else ():
        try:
            entry = _measure(path)
        except FileNotFoundError:  # removed by a run meanwhile
            continue
        k = kind_of(name)
        if k is None or (moved and k.name == "frida-server"):
            stock.other.append(entry)
        else:
            stock.kinds[k.name].append(entry)
    if moved and servers.is_dir():
        stock.kinds["frida-server"] = [_measure(p) for p in sorted(servers.iterdir())]
    return stock


@dataclass
class Cleared:
    removed: list[Entry] = field(default_factory=list)
    kept: list[Entry] = field(default_factory=list)
    """Temporary files young enough to be a write in progress."""
    failed: list[tuple[Entry, str]] = field(default_factory=list)
    """What could not be removed, with the system's reason."""


def clear(stock: Stock, names: tuple[str, ...], now: float | None = None) -> Cleared:
    """Remove the entries of the kinds ``names`` (see :data:`BY_NAME`); a temporary file
    written in the last :data:`STALE_TMP` seconds stays (another run may be writing it)."""
    now = time.time() if now is None else now
    out = Cleared()
    for name in names:
        for e in stock.kinds.get(name, []):
            if name == TMP.name and now - e.written <= STALE_TMP:
                out.kept.append(e)
                continue
            try:
                if e.path.is_dir() and not e.path.is_symlink():
                    shutil.rmtree(e.path)
                else:
                    e.path.unlink(missing_ok=True)
            except OSError as exc:
                out.failed.append((e, exc.strerror or str(exc)))
            else:
                out.removed.append(e)
    return out
