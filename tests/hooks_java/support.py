"""Helpers of the Java hook tests: a hooked driver JVM and record filters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.protocol import JSON, Record, RecordKind
from harness.testing.javafixtures import Fixtures, JavaDriver, JavaHookRun


@dataclass
class Hooked:
    """A driver JVM with the agent loaded; records are read after ``finish()``."""

    driver: JavaDriver
    run: JavaHookRun

    def finish(self) -> list[Record]:
        self.run.flush()
        return self.run.records()


@contextmanager
def hooked(fixtures: Fixtures, agent_source: str, truststore: Path | None, *,
           with_fixtures: bool = True, config: dict[str, JSON] | None = None,
           extra_classpath: Sequence[Path] = ()) -> Iterator[Hooked]:
    classpath = ":".join([fixtures.classpath(with_fixtures=with_fixtures),
                          *(str(p) for p in extra_classpath)])
    with JavaDriver(classpath, truststore) as driver:
        run = JavaHookRun(driver.pid, agent_source, {"native": False, **(config or {})})
        native = bool((config or {}).get("native", False))
        try:
            yield Hooked(driver, run)
        finally:
            if native:
                # The driver's main thread sits in a hooked read(0), and unload waits for every
                # thread inside a replaced function: forever here. dispose() reverts the hooks;
                # one more command lets the blocked read return, so the next read is unhooked.
                run.dispose()
                with contextlib.suppress(HarnessError, OSError):
                    driver.command("ping")
            # Unload before the JVM ends: a JVM with the Java bridge loaded cannot exit.
            run.close()
            driver.close()


def of_kind(records: list[Record], kind: RecordKind) -> list[Record]:
    return [r for r in records if r.kind == kind]


def no_agent_errors(h: Hooked) -> None:
    errors = [dict(r.fields) for r in h.run.records() if r.kind == RecordKind.AGENT_ERROR]
    assert errors == [], errors
    assert h.run.errors == []
