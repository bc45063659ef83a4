"""A capture with the writer's schema and no rows, for tests that then write rows by SQL
(damaged, out of order, by hand) that the writer itself would never write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.capture.rundir import RunDir
from harness.capture.writer import CaptureWriter


def blank_capture(tmp: Path) -> tuple[RunDir, sqlite3.Connection]:
    """A new run dir ``r`` under ``tmp``, and a connection to its empty capture.sqlite."""
    run = RunDir.create(tmp, "r")
    with CaptureWriter(run.capture_db):
        pass
    return run, sqlite3.connect(run.capture_db)
