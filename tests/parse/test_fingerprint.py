"""The store's fingerprint: what the builder reads through its own reader is what a reader of
its own reads (so a store just built is current, and one whose capture changed is not)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.capture.rundir import RunDir
from harness.parse.builder import build_messages, fingerprint, is_current
from harness.parse.store import ANALYSIS_DB
from harness.parse.storeread import MessageStore
from harness.testing.runbuilder import RunBuilder


def _run(tmp_path: Path) -> RunDir:
    b = RunBuilder(tmp_path, "fp")
    for name in ("first", "second"):
        b.phase(name)
        b.request("a.lab.test", "/x", body=b"one")
        b.request("b.lab.test", "/y", conn=f"1:tls:{name}")
    return b.build(analyze=False)


def test_a_store_just_built_is_current(tmp_path: Path) -> None:
    run = _run(tmp_path)
    build_messages(run)
    with MessageStore(run.file(ANALYSIS_DB)) as store:
        assert store.meta()["fingerprint"] == fingerprint(run)
    assert is_current(run)


def test_a_store_is_not_current_once_the_capture_has_another_connection(tmp_path: Path
                                                                       ) -> None:
    run = _run(tmp_path)
    build_messages(run)
    db = sqlite3.connect(run.capture_db)
    db.execute("INSERT INTO connections(conn) VALUES('later')")
    db.commit()
    db.close()
    assert not is_current(run)
    with run.reader() as r:
        assert fingerprint(run, r) == fingerprint(run)
