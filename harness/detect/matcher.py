"""One multi-pattern matcher over every derived pattern (Hyperscan, literal block mode)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import hyperscan

from harness.detect.derive import Pattern


@dataclass(frozen=True, slots=True)
class Match:
    pattern: Pattern
    start: int
    end: int


class Matcher:
    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = list(patterns)
        self._db: hyperscan.Database | None = None
        if self.patterns:
            self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            # Every byte escaped (\xHH) rather than literal mode: the binding's literal mode
            # stops a pattern at its first NUL byte, which UTF-16 forms are full of.
            self._db.compile(
                expressions=[b"".join(b"\\x%02x" % c for c in p.value) for p in self.patterns],
                ids=list(range(len(self.patterns))),
                flags=[hyperscan.HS_FLAG_SOM_LEFTMOST] * len(self.patterns),
            )

    def scan(self, data: bytes) -> list[Match]:
        if self._db is None or not data:
            return []
        found: list[Match] = []

        def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> bool | None:
            found.append(Match(self.patterns[pid], start, end))
            return None

        self._db.scan(data, match_event_handler=on_match)
        return found
