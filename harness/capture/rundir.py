"""The run directory: ``run.json`` + ``capture.sqlite`` (a contract other scripts rely on).

``capture.sqlite`` is written as events arrive (WAL, one transaction per agent batch), so a
crash of the harness, the agent or the device loses at most the batch in flight. Derived
files (messages, findings, verdicts, report) are written next to it by later steps and can
always be rebuilt from it.

Readers use :class:`CaptureReader`; they never open the database with their own SQL, so
the format can move on behind :data:`FORMAT_VERSION`. Opening or reading a run dir never
changes ``run.json`` or ``capture.sqlite``: a run dir is evidence, and one of an older format
is read as it is (:data:`LATER_COLUMNS`), never upgraded in place.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from harness.capture.capturedb import CaptureReader as CaptureReader
from harness.capture.dbformat import CONNECTION_COLUMNS as CONNECTION_COLUMNS
from harness.capture.dbformat import LATER_COLUMNS as LATER_COLUMNS
from harness.capture.dbformat import SCHEMA as SCHEMA
from harness.capture.dbformat import Connection as Connection
from harness.capture.dbformat import Event as Event
from harness.capture.dbformat import Marker as Marker
from harness.capture.dbformat import _connect as _connect
from harness.capture.linesout import LinesOut, writing_lines
from harness.capture.runinfo import BLINDING_DETACH as BLINDING_DETACH
from harness.capture.runinfo import FORMAT_VERSION as FORMAT_VERSION
from harness.capture.runinfo import RUN_JSON as RUN_JSON
from harness.capture.runinfo import Health as Health
from harness.capture.runinfo import Phase as Phase
from harness.capture.runinfo import RunInfo as RunInfo
from harness.capture.runinfo import blinding_detach as blinding_detach
from harness.capture.runinfo import is_int, kind_of
from harness.errors import InputError, RunDirError
from harness.jsonfile import read_json_file

log = logging.getLogger(__name__)

CAPTURE_DB = "capture.sqlite"

# --- capture.sqlite: harness/capture/dbformat.py and capturedb.py (re-exported here) -------

def new_run_id(now: float | None = None) -> str:
    import secrets  # here: it brings hmac and hashlib, which reading a run dir never needs

    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    return f"{stamp}-{secrets.token_hex(3)}"


class RunDir:
    """A run directory on disk. Create with :meth:`create`, open with :meth:`open`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def capture_db(self) -> Path:
        return self.path / CAPTURE_DB

    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    def file(self, name: str) -> Path:
        return self.path / name

    @classmethod
    def create(cls, parent: Path, run_id: str | None = None) -> RunDir:
        rid = run_id or new_run_id()
        path = parent / rid
        path.mkdir(parents=True, exist_ok=False)
        run = cls(path)
        run.save_info(RunInfo(run_id=rid, created=time.time()))
        # closed here (``with`` on a connection only commits): a connection left to the
        # garbage collector kept the WAL open after the run dir was made
        with contextlib.closing(_connect(run.capture_db)) as db, db:
            db.executescript(SCHEMA)
            db.execute("INSERT OR REPLACE INTO meta VALUES('format_version', ?)",
                       (str(FORMAT_VERSION),))
        return run

    @classmethod
    def open(cls, path: Path | str) -> RunDir:
        """Open an existing run dir of any format this harness reads (1 to
        :data:`FORMAT_VERSION`). Nothing in it is changed: an older format is read as it is."""
        p = Path(path)
        if not (p / RUN_JSON).is_file():
            raise RunDirError("not a run directory (no run.json)", path=str(p))
        run = cls(p)
        version = run._load_raw().get("format_version")
        if not is_int(version) or version < 1:
            raise RunDirError(
                f"run dir format {kind_of(version)} is not a format version (1 to "
                f"{FORMAT_VERSION})", path=str(p / RUN_JSON), field="format_version")
        if version > FORMAT_VERSION:
            raise RunDirError(
                f"run dir format {version!r} is newer than this harness ({FORMAT_VERSION});"
                " upgrade egress-harness", path=str(p / RUN_JSON), field="format_version")
        return run

    def _load_raw(self) -> dict[str, Any]:
        data = read_json(self.run_json, "cannot read run.json: {error}")
        if not isinstance(data, dict):
            raise RunDirError("run.json is not an object", path=str(self.run_json))
        return data

    def load_info(self) -> RunInfo:
        return RunInfo.from_json(self._load_raw(), str(self.run_json))

    def read_derived(self, name: str) -> object:
        """A file ``harness analyze`` writes (findings.json, needles.json, destinations.json),
        parsed; damaged, it is a RunDirError saying to re-run analyze, which rewrites it."""
        return read_json(self.path / name, damaged(self, name))

    def save_info(self, info: RunInfo) -> None:
        _atomic_write_json(self.run_json, info.to_json())

    def write_json(self, name: str, data: object) -> Path:
        """Write a derived JSON file (findings.json, verdicts.json...) atomically. Derived
        files go into the run dir; where it cannot be written (a read-only archive) that is a
        RunDirError naming the file, not a traceback."""
        return self._write(name, lambda path: _atomic_write_json(path, data))

    def write_json_items(self, name: str, items: Iterable[str]) -> Path:
        """:meth:`write_json` of a list whose items come encoded (each one JSON text, as
        ``json.dumps(item, ensure_ascii=False)`` writes it), such as findings' lines
        (:meth:`Finding.json_line`); :meth:`write_json_lines` takes them joined and encoded."""
        return self._write(name, lambda path: _atomic_write_items(path, items))

    def write_json_lines(self, name: str, body: bytes) -> Path:
        """:meth:`write_json_items` of items already joined by ``",\\n"`` and encoded, as the
        file holds them (UTF-8, a lone surrogate as its escape): findings.json from
        :func:`harness.detect.finding.findings_json`, the same bytes."""
        return self._write(name, lambda path: _atomic_write_lines(path, body))

    def write_json_text(self, name: str, body: bytes) -> Path:
        """:meth:`write_json` of a document (not a list) encoded already, as the file holds
        it (the text ``json.dump(data, indent=2, ensure_ascii=False)`` writes, UTF-8, a lone
        surrogate as its escape; the last newline is added): destinations.json from
        ``harness.detect._outjson.json_indented``, the same bytes."""
        return self._write(name, lambda path: _atomic_write_text(path, body))

    @contextlib.contextmanager
    def writing_json_lines(self, name: str) -> Iterator[LinesOut]:
        """:meth:`write_json_lines` of a text written as it comes (:meth:`LinesOut.write`),
        synced in a thread once it is done (:meth:`LinesOut.done`) while the rest of the
        block runs, and moved into place after the block: whole on disk before it is there,
        as ever (:mod:`harness.capture.linesout`). A write or sync that fails raises
        :meth:`write_json_lines`' RunDirError and moves nothing."""
        path = self.path / name
        with writing_lines(path, _tmp_of(path), lambda exc: self._refused(name, path, exc)
                           ) as out:
            yield out

    def _write(self, name: str, write: Callable[[Path], None]) -> Path:
        path = self.path / name
        try:
            write(path)
        except OSError as exc:
            raise self._refused(name, path, exc) from exc
        return path

    @staticmethod
    def _refused(name: str, path: Path, exc: OSError) -> RunDirError:
        return RunDirError(
            f"cannot write {name} into the run dir ({exc.strerror or exc}); its outputs "
            "are written next to the capture: for a read-only run dir, copy it somewhere "
            "writable first", path=str(path))

    def reader(self) -> CaptureReader:
        return CaptureReader(self.capture_db)


def damaged(run: RunDir, name: str, error: str = "{error}") -> str:
    """The error for a file ``harness analyze`` writes that cannot be read or lacks its shape.
    needles.json is also what analyze reads the run's needles from, so re-running it does not
    mend that one."""
    if name == "needles.json":
        return (f"damaged ({error}); it holds the run's needles, which analyze reads too: "
                f"restore it, then re-run `harness analyze {run.path}`")
    return f"damaged ({error}); re-run `harness analyze {run.path}` to rewrite it"


def read_json(path: Path, message: str) -> object:
    """A JSON file, or a RunDirError naming it: ``message`` with ``{error}`` the reason.
    Besides bad JSON, a file can be cut off, not UTF-8, nested deeper than Python's
    recursion limit or hold an integer of more than 4300 digits (ValueError)."""
    try:
        return read_json_file(path)
    except InputError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise RunDirError(message.replace("{error}", exc.detail + where),
                          path=str(path)) from exc


def _atomic_write_json(path: Path, data: object) -> None:
    if isinstance(data, list):
        # One item per line (findings.json holds 100,000s): json's C encoder writes each,
        # where indent= runs its pure-Python encoder (6% of a whole analyze).
        _atomic_write_items(path, (json.dumps(item, ensure_ascii=False) for item in data))
        return
    with _atomic_text(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=False, ensure_ascii=False)


def _atomic_write_items(path: Path, items: Iterable[str]) -> None:
    """A JSON list, ``[``, its encoded items one a line, ``]``."""
    with _atomic_text(path) as fh:
        fh.write("[\n")
        text = ",\n".join(items)  # no item's JSON text is empty: empty text, no items
        fh.write(text)
        fh.write("\n]" if text else "]")


def _atomic_write_lines(path: Path, body: bytes, move: bool = True) -> None:
    """:func:`_atomic_write_items` of the items' text joined and encoded already; with
    ``move=False`` left whole on disk beside ``path`` (:func:`_tmp_of`) for the caller to move."""
    with _atomic_text(path, move) as fh:
        fh.flush()  # nothing is pending: the bytes below go after what the text layer has
        fh.buffer.write(b"[\n")
        fh.buffer.write(body)
        fh.buffer.write(b"\n]" if body else b"]")


def _atomic_write_text(path: Path, body: bytes) -> None:
    """:func:`_atomic_write_json` of a document's text encoded already."""
    with _atomic_text(path) as fh:
        fh.flush()  # nothing is pending: the bytes go after what the text layer has
        fh.buffer.write(body)


def _tmp_of(path: Path) -> Path:
    """Where ``path`` is written before it is moved into place."""
    return path.with_name(path.name + ".tmp")


@contextlib.contextmanager
def _atomic_text(path: Path, move: bool = True) -> Iterator[TextIO]:
    """A text file written next to ``path`` and moved over it once it is on disk whole (not
    moved with ``move=False``)."""
    tmp = _tmp_of(path)
    # A lone surrogate in a string (a label made from captured bytes) is written as its JSON
    # escape, which is what backslashreplace writes: valid UTF-8, read back the same.
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
        yield fh
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    if move:
        os.replace(tmp, path)
