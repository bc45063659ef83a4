from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.capture.rundir import FORMAT_VERSION, RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.errors import RunDirError


def test_round_trip(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "r1")
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(
            10, 0,
            [EventRow(t=1.0, kind="stream", hook="native.tls.SSL_write", pid=10, conn="c1",
                      direction="out", data=b"GET / HTTP/1.1\r\n\r\n", fields={"layer": "tls"})],
            connections=[{"conn": "c1", "pid": 10, "sni": "example.test", "peer_port": 443}],
        )
        w.upsert_connections([{"conn": "c1", "tls_version": "TLSv1.3", "sni": None}])
        w.marker("phase-start", "browse")
    opened = RunDir.open(run.path)
    with opened.reader() as r:
        (ev,) = list(r.events())
        assert ev.data == b"GET / HTTP/1.1\r\n\r\n"
        assert ev.connection is not None
        assert ev.connection.sni == "example.test"  # not erased by a later None
        assert ev.connection.tls_version == "TLSv1.3"
        assert [m.name for m in r.markers()] == ["browse"]
    assert opened.load_info().format_version == FORMAT_VERSION


def test_newer_format_refused(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "r2")
    data = json.loads(run.run_json.read_text())
    data["format_version"] = FORMAT_VERSION + 1
    run.run_json.write_text(json.dumps(data))
    with pytest.raises(RunDirError, match="newer"):
        RunDir.open(run.path)


def test_kind_index_leaves_stream_records_out_and_still_serves_other_kinds(
        tmp_path: Path) -> None:
    # Indexing every stream record by kind cost the recorder ~12% of its insert time at full
    # rate; the index is partial, and queries on other kinds say so to be able to use it.
    run = RunDir.create(tmp_path, "r1")
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(10, 0, [
            EventRow(t=1.0, kind="stream", hook="h", pid=10, conn="c1", direction="out",
                     data=b"x"),
            EventRow(t=2.0, kind="dns", hook="native.dns.getaddrinfo", pid=10,
                     fields={"name": "a.test"}),
            EventRow(t=3.0, kind="stream", hook="h", pid=10, conn="c1", direction="in",
                     data=b"y"),
        ])
    db = sqlite3.connect(run.capture_db)
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name='events_kind'").fetchone()
    assert "WHERE kind != 'stream'" in sql
    assert db.execute("SELECT count(*) FROM events INDEXED BY events_kind "
                      "WHERE kind != 'stream'").fetchone() == (1,)
    db.close()
    with RunDir.open(run.path).reader() as r:
        assert [e.kind for e in r.events(kinds=["dns"])] == ["dns"]
        assert [e.data for e in r.events(kinds=["stream"])] == [b"x", b"y"]
        assert [e.kind for e in r.events(kinds=["stream", "dns"])] == ["stream", "dns",
                                                                       "stream"]
        assert (r.count("dns"), r.count("stream"), r.count()) == (1, 2, 3)
        plan = " ".join(row[3] for row in r._db.execute(
            "EXPLAIN QUERY PLAN SELECT seq FROM events WHERE seq > 0 AND kind IN ('dns')"
            " AND kind != 'stream' ORDER BY seq"))
        assert "events_kind" in plan


def _written_before(data: object) -> bytes:
    """What write_json wrote before findings could come encoded (write_json_items): the
    reference its framing is held to."""
    if isinstance(data, list):
        text = "[\n" + ",\n".join(json.dumps(item, ensure_ascii=False) for item in data)
        text += "\n]" if data else "]"
    else:
        text = json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)
    return (text + "\n").encode("utf-8", "backslashreplace")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(st.characters() | st.characters(categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)


@given(st.lists(JSON, max_size=4) | JSON)
@example([])
@example({})
@example(["\ud800"])
def test_write_json_bytes(tmp_path_factory: pytest.TempPathFactory, data: object) -> None:
    run = RunDir(tmp_path_factory.mktemp("json"))
    assert run.write_json("a.json", data).read_bytes() == _written_before(data)
    if isinstance(data, list):
        items = [json.dumps(item, ensure_ascii=False) for item in data]
        assert run.write_json_items("b.json", iter(items)).read_bytes() == _written_before(data)
        body = ",\n".join(items).encode("utf-8", "backslashreplace")
        assert run.write_json_lines("c.json", body).read_bytes() == _written_before(data)
        with run.writing_json_lines("d.json") as out:
            for k in range(0, len(body), 7):  # in pieces, as the numbering gives them
                out.write(memoryview(body)[k:k + 7])
            out.done()
        assert out.path.read_bytes() == _written_before(data)
    assert not list(run.path.glob("*.tmp"))


def _writing(run: RunDir, name: str, body: bytes) -> None:
    with run.writing_json_lines(name) as out:
        out.write(body)
        out.done()


def test_write_json_refused(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "absent")
    for write in (lambda: run.write_json("x.json", []),
                  lambda: run.write_json_items("x.json", iter(["1"])),
                  lambda: run.write_json_lines("x.json", b"1"),
                  lambda: _writing(run, "x.json", b"1")):
        with pytest.raises(RunDirError, match=r"cannot write x\.json into the run dir"):
            write()


def _block(run: RunDir, texts: list[bytes], done: bool, then: BaseException | None = None,
           restart: bool = False, into: list[bytes] | None = None) -> None:
    """writing_json_lines' block: the texts written, done() said or not, then ``then``
    raised (the path's bytes read first into ``into``); with restart, a write after done."""
    with run.writing_json_lines("f.json") as out:
        for text in texts:
            out.write(text)
        if done:
            out.done()
        if restart:
            out.write(b"1")
        if into is not None:
            into.append(out.path.read_bytes())
        if then is not None:
            raise then


def test_writing_json_lines_moves_the_file_after_the_block(tmp_path: Path) -> None:
    """The text is written as it comes and synced once done while the rest of the block
    runs; the file is moved into place after the block, also when the block fails after the
    text was done (as when it was written before the block): the old one stays until a new
    one is whole."""
    run = RunDir(tmp_path)
    path = run.write_json_lines("f.json", b'"old"')
    with run.writing_json_lines("f.json") as out:
        assert out.path == path
        out.write(b'"ne')
        out.write(b'w"')
        out.done()
        assert path.read_bytes() == b'[\n"old"\n]\n'
    assert path.read_bytes() == b'[\n"new"\n]\n'
    before: list[bytes] = []
    with pytest.raises(KeyError):
        _block(run, [b'"newer"'], True, KeyError("the block's own"), into=before)
    assert before == [b'[\n"new"\n]\n']
    assert path.read_bytes() == b'[\n"newer"\n]\n'
    with run.writing_json_lines("f.json") as out:
        out.done()  # no text: an empty list, as write_json_lines writes it
    assert path.read_bytes() == run.write_json_lines("g.json", b"").read_bytes() == b"[\n]\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_writing_json_lines_starts_again(tmp_path: Path) -> None:
    """A writer that gave up midway: what it wrote is dropped, the rest is the file."""
    run = RunDir(tmp_path)
    with run.writing_json_lines("f.json") as out:
        out.write(b'"half of a')
        out.restart()
        out.write(b'"whole"')
        out.done()
    assert out.path.read_bytes() == b'[\n"whole"\n]\n'
    with pytest.raises(RuntimeError, match="done"):
        _block(run, [], True, restart=True)


def test_writing_json_lines_not_done_moves_nothing(tmp_path: Path) -> None:
    """A block that fails before its text is done (the numbering's error) leaves the old
    file and nothing beside it; one that ends without saying so is a mistake."""
    run = RunDir(tmp_path)
    path = run.write_json_lines("f.json", b'"old"')
    with pytest.raises(KeyError):
        _block(run, [b'"new"'], False, KeyError("the numbering's error"))
    with pytest.raises(RuntimeError, match="before the text was done"):
        _block(run, [b'"new"'], False)
    assert path.read_bytes() == b'[\n"old"\n]\n'
    assert not list(tmp_path.glob("*.tmp"))


def test_writing_json_lines_that_fails_moves_nothing(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that could not be put on disk whole is not moved into place: a write that
    failed raises write_json_lines' RunDirError where it is written; a sync that failed,
    after the block (over the block's own error: the write came first)."""
    run = RunDir(tmp_path)
    path = run.write_json_lines("f.json", b'"old"')

    def fail(*args: object) -> int:
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as m:
        m.setattr(os, "write", fail)  # its first write, the list's "[" (then the text's)
        with pytest.raises(RunDirError, match=r"cannot write f\.json into the run dir \(Input"):
            _writing(run, "f.json", b'"new"')
    assert not list(tmp_path.glob("*.tmp"))
    with monkeypatch.context() as m:
        m.setattr(os, "write", lambda fd, data: fail() if bytes(data) == b'"new"' else len(data))
        with pytest.raises(RunDirError, match=r"cannot write f\.json into the run dir \(Input"):
            _writing(run, "f.json", b'"new"')
    with monkeypatch.context() as m:
        m.setattr(threading.Thread, "start", fail)  # no thread: the text not done
        with pytest.raises(OSError, match="Input"):
            _writing(run, "f.json", b'"new"')
    assert path.read_bytes() == b'[\n"old"\n]\n'
    monkeypatch.setattr(os, "fsync", fail)
    ran: list[bytes] = []
    with pytest.raises(RunDirError, match=r"cannot write f\.json into the run dir \(Input"):
        _block(run, [b'"new"'], True, into=ran)
    assert len(ran) == 1  # the block ran whole
    assert path.read_bytes() == b'[\n"old"\n]\n'
    with pytest.raises(RunDirError, match=r"cannot write f\.json"):
        _block(run, [b'"new"'], True, KeyError("the block's own error, after the write's"))
    assert path.read_bytes() == b'[\n"old"\n]\n'
    assert not list(tmp_path.glob("*.tmp"))
