"""The runner's progress display: where a run is (phase i/n, step j/m, time elapsed) and
what failed, with the evidence kept for it.

Three levels, so a terminal gets a live account and a log or a script stays short:

- ``steps`` (a terminal): every step on its own line, with the run's elapsed time;
- ``phases`` (stderr is not a terminal, e.g. CI): one line per phase start and end;
- ``quiet`` (``--quiet``): only failures and the closing line.

A failure is shown at every level: it is what a reader of a run must not miss.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from enum import StrEnum

Say = Callable[[str], None]


class Verbosity(StrEnum):
    STEPS = "steps"
    PHASES = "phases"
    QUIET = "quiet"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def default_verbosity(quiet: bool = False) -> Verbosity:
    """``quiet`` wins; otherwise steps on a terminal, phases elsewhere."""
    if quiet:
        return Verbosity.QUIET
    return Verbosity.STEPS if sys.stderr.isatty() else Verbosity.PHASES


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


class Progress:
    """Told what the runner does, says it at the chosen level. ``clock`` is for tests."""

    def __init__(self, say: Say | None = None, verbosity: Verbosity = Verbosity.STEPS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.say = say or _stderr
        self.verbosity = verbosity
        self.clock = clock
        self.t0 = clock()
        self.phases = 0
        self.failed_steps = 0
        self.incomplete: list[str] = []
        self._phase = ""
        self._phase_number = 0
        self._phase_t0 = self.t0

    def _line(self, text: str, level: Verbosity) -> None:
        order = (Verbosity.QUIET, Verbosity.PHASES, Verbosity.STEPS)
        if order.index(self.verbosity) >= order.index(level):
            self.say(f"[{_clock(self.clock() - self.t0)}] {text}")

    def start(self, scenario: str, app: str, phases: int) -> None:
        self.t0 = self.clock()
        self.phases = phases
        self._line(f"{scenario} on {app}: {phases} phase(s)", Verbosity.PHASES)

    def phase(self, number: int, name: str, steps: int) -> None:
        self._phase, self._phase_number, self._phase_t0 = name, number, self.clock()
        self._line(f"phase {number}/{self.phases} {name}: {steps} step(s)", Verbosity.PHASES)

    def step(self, index: int, total: int, text: str) -> None:
        shown = text if len(text) <= 100 else text[:99] + "…"
        self._line(f"  phase {self._phase_number}/{self.phases} {self._phase} "
                   f"step {index}/{total}: {shown}", Verbosity.STEPS)

    def failed(self, index: int, action: str, error: str, evidence: str | None) -> None:
        self.failed_steps += 1
        kept = f" (evidence: {evidence})" if evidence else ""
        self._line(f"  ! phase {self._phase_number}/{self.phases} {self._phase} step {index} "
                   f"{action} failed: {error}{kept}", Verbosity.QUIET)

    def phase_end(self, complete: bool, skipped: int) -> None:
        took = self.clock() - self._phase_t0
        if complete:
            self._line(f"phase {self._phase_number}/{self.phases} {self._phase} done in "
                       f"{took:.1f} s", Verbosity.PHASES)
            return
        self.incomplete.append(self._phase)
        rest = f", {skipped} step(s) not run" if skipped else ""
        self._line(f"phase {self._phase_number}/{self.phases} {self._phase} INCOMPLETE after "
                   f"{took:.1f} s{rest}", Verbosity.QUIET)

    def note(self, text: str, warning: bool = False) -> None:
        """Something the run did outside the phases (analysis, completeness)."""
        self._line(("! " if warning else "") + text,
                   Verbosity.QUIET if warning else Verbosity.PHASES)

    def finish(self) -> None:
        done = self.phases - len(self.incomplete)
        tail = (f"; incomplete: {', '.join(self.incomplete)} ({self.failed_steps} failed "
                "step(s))" if self.incomplete else "")
        self._line(f"{done}/{self.phases} phase(s) complete in "
                   f"{self.clock() - self.t0:.1f} s{tail}", Verbosity.QUIET)
