"""One multi-pattern matcher over every derived pattern (Hyperscan, literal block mode).

The database is compiled and scanned in C (scanner.c, Hyperscan's C API) when the package is
built; expand.c then scans every layer of a message with it without a call into Python. The
python-hyperscan scan below is what a checkout without the C module runs, and the reference
the C one is tested against (tests/detect/test_scanner.py): same matches, same order.

The compiled database is kept in the cache directory between runs (``hyperscan/`` in
:func:`~harness.cachedir.cache_dir`, beside the parsed data and the agent bundle),
one file a key, and loaded instead of compiled when its key is this run's: compiling the
bench's 864 patterns was ~130 M instructions (~30-40 ms) of every analyze, small run dirs
too; reading, checking and loading its 222 KB is ~2 M (callgrind, the 20 MB bench). The
key is what decides the bytecode: every pattern's bytes in order and ``Scanner.build()``
(the library's version and build, the flags and mode, the host's CPU features). A
missing, stale or corrupt file (Hyperscan checks its header, version, platform and CRC) is
compiled again, and an unwritable directory only costs the compile: a run never fails for
the cache. Files are written whole under a temporary name and renamed, so a run never reads
another's half-written file; past :data:`KEPT` files the least recently used go (a load
touches its file's time), and so do temporary files a killed run left (older than
:data:`~harness.cachedir.STALE_TMP` seconds).

Trust: the file is the user's own, as parsedcache's marshal files and the agent bundle (code
the harness injects) beside it are; Hyperscan does not harden deserialization against
crafted files, so whoever can write the cache directory can already change what runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cachedir import STALE_TMP, cache_dir
from harness.classify.parsedcache import write_whole
from harness.detect.derive import Pattern

if TYPE_CHECKING:  # imported by the reference only (the C Scanner calls Hyperscan itself)
    import hyperscan

try:  # built by setup.py with the package
    from harness.detect import _detect
except ImportError:  # pragma: no cover - a checkout that was never built
    _detect = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Match:
    """Where a pattern matched in a layer's bytes."""

    pattern: Pattern
    start: int
    end: int


KEPT = 4
"""Databases kept in the cache (one a set of needles: a user's few devices and apps)."""


def cache_path(values: Sequence[bytes], directory: Path) -> Path:
    """Where the database of ``values`` is kept in ``directory``: named by its key's hash.
    marshal format 2 writes each bytes with its length and never a back-reference, so equal
    values give the same key whichever objects hold them."""
    assert _detect is not None
    key = marshal.dumps(("egress-harness hyperscan 1", _detect.Scanner.build(), tuple(values)),
                        2)
    return directory / f"{hashlib.sha256(key).hexdigest()}.hsdb"


def stored_scanner(values: Sequence[bytes], tags: Sequence[Pattern], directory: Path | None
                   ) -> _detect.Scanner[Pattern, Match]:
    """The Scanner of ``values``, its database read from ``directory`` when that holds it
    (else compiled, and stored there for the next run). None compiles and stores nothing."""
    assert _detect is not None
    if directory is None or not values:
        return _detect.Scanner(values, tags, Match)
    path = cache_path(values, directory)
    try:
        stored: bytes | None = path.read_bytes()
    except OSError:  # none yet, or an unreadable directory
        stored = None
    scanner = _detect.Scanner(values, tags, Match, stored)
    if scanner.loaded:
        _used(path)
    else:
        data = scanner.serialize()
        if data is not None:
            _store(path, data)
    return scanner


def _store(path: Path, data: bytes) -> None:
    if not write_whole(path, data):
        return
    try:
        kept = sorted(path.parent.glob("*.hsdb"), key=_written, reverse=True)
        for old in kept[KEPT:]:
            old.unlink(missing_ok=True)
        now = time.time()
        for left in path.parent.glob(".*.hsdb.*.tmp"):
            if now - _written(left) > STALE_TMP:
                left.unlink(missing_ok=True)
    except OSError:  # removed meanwhile, or a directory that refuses: kept a run longer
        pass


def _used(path: Path) -> None:
    """Mark the file used now: pruning goes by this time, so a set of needles used every day
    stays however many others came after it."""
    with contextlib.suppress(OSError):  # a read-only cache still loads, pruned by write time
        os.utime(path)


def _written(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile by another run's pruning
        return 0.0


class Matcher:
    def __init__(self, patterns: Sequence[Pattern], compiled: bool = True,
                 cache: bool = True) -> None:
        """``compiled=False`` scans with python-hyperscan (the reference); ``cache=False``
        compiles the C one's database without the cache directory."""
        self.patterns = list(patterns)
        self.scan: Callable[[bytes], list[Match]]
        """The matches in ``data``, in the order Hyperscan reports them. In C, the Scanner's
        own method: expand.c recognises it and scans without calling it."""
        if compiled and _detect is not None:
            scanner = stored_scanner([p.value for p in self.patterns], self.patterns,
                                     cache_dir() / "hyperscan" if cache else None)
            self.scan = scanner.scan
            return
        self._db: hyperscan.Database | None = None
        if self.patterns:
            import hyperscan

            self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            # Every byte escaped (\xHH) rather than literal mode: the binding's literal mode
            # stops a pattern at its first NUL byte, which UTF-16 forms are full of.
            self._db.compile(
                expressions=[b"".join(b"\\x%02x" % c for c in p.value) for p in self.patterns],
                ids=list(range(len(self.patterns))),
                flags=[hyperscan.HS_FLAG_SOM_LEFTMOST] * len(self.patterns),
            )
        self.scan = self._scan

    def _scan(self, data: bytes) -> list[Match]:
        if self._db is None or not data:
            return []
        found: list[Match] = []

        def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> bool | None:
            found.append(Match(self.patterns[pid], start, end))
            return None

        self._db.scan(data, match_event_handler=on_match)
        return found
