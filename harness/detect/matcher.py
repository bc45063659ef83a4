"""One multi-pattern matcher over every derived pattern (Hyperscan, literal block mode).

The database is compiled and scanned in C (scanner.c, Hyperscan's C API) when the package is
built; expand.c then scans every layer of a message with it without a call into Python. The
python-hyperscan scan below is what a checkout without the C module runs, and the reference
the C one is tested against (tests/detect/test_scanner.py): same matches, same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.detect.derive import Pattern

if TYPE_CHECKING:  # imported by the reference only (the C Scanner calls Hyperscan itself)
    import hyperscan

try:  # built by setup.py with the package
    from harness.detect import _detect
except ImportError:  # pragma: no cover - a checkout that was never built
    _detect = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Match:
    pattern: Pattern
    start: int
    end: int


class Matcher:
    def __init__(self, patterns: Sequence[Pattern], compiled: bool = True) -> None:
        """``compiled=False`` scans with python-hyperscan (the reference)."""
        self.patterns = list(patterns)
        self.scan: Callable[[bytes], list[Match]]
        """The matches in ``data``, in the order Hyperscan reports them. In C, the Scanner's
        own method: expand.c recognises it and scans without calling it."""
        if compiled and _detect is not None:
            scanner = _detect.Scanner([p.value for p in self.patterns], self.patterns, Match)
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
