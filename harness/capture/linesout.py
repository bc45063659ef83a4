"""A JSON list file written as its items' text comes (findings.json, by ``harness analyze``),
moved into place once it is whole on disk.

The text comes in pieces (:meth:`LinesOut.write`: items joined by ``",\\n"`` and encoded, as
:meth:`RunDir.write_json_lines` takes them whole), written to the file as they come: the
numbering writes findings.json a megabyte at a time (numbering.c), where the whole text was
one buffer (40 MB on the 200 MB bench, all of it fresh memory: ~10,000 page faults and their
zeroing, ~20 ms, for bytes written once). Once the text is done (:meth:`LinesOut.done`) the
file's sync runs in a thread while the rest of the block does (the destinations): the disk's
time, not the process's. The file is moved into place after the block, whether the rest of it
fails or not, as when it was written before it; a block that fails before the text is done
leaves nothing (the file beside it removed), and a write or a sync that fails moves nothing
and raises the RunDirError :meth:`RunDir.write_json_lines` raises.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from harness.errors import RunDirError


class LinesOut:
    """The file beside ``path`` being written (:func:`writing_lines`)."""

    def __init__(self, path: Path, tmp: Path, refused: Callable[[OSError], RunDirError]) -> None:
        self.path = path
        """Where the file is moved once whole."""
        self._tmp, self._refused = tmp, refused
        self._fd = -1
        self._wrote = 0
        """Bytes of the text written (not the list's brackets)."""
        self._sync: threading.Thread | None = None
        self._failed: list[OSError] = []

    def _open(self) -> None:
        try:
            self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                               0o666)
        except OSError as exc:
            raise self._refused(exc) from exc
        self._put(b"[\n")

    def _put(self, data: bytes | memoryview) -> None:
        try:
            view = memoryview(data)
            while view:  # each write takes at least a byte, or raises
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as exc:
            raise self._refused(exc) from exc

    def write(self, text: bytes | memoryview) -> None:
        """More of the text, after what came before (the items' own ``",\\n"`` in it);
        nothing of ``text`` is kept once it returns."""
        if self._sync is not None:
            raise RuntimeError("the text is done")
        self._put(text)
        self._wrote += len(text)

    def restart(self) -> None:
        """The text written so far dropped: it starts again (a writer that gave up midway,
        whose reference then writes the whole)."""
        if self._sync is not None:
            raise RuntimeError("the text is done")
        try:
            os.ftruncate(self._fd, 0)
            os.lseek(self._fd, 0, os.SEEK_SET)
        except OSError as exc:
            raise self._refused(exc) from exc
        self._wrote = 0
        self._put(b"[\n")

    def done(self) -> None:
        """The text is whole: the list closed as :meth:`RunDir.write_json_lines` closes it,
        and the file's sync started in a thread (one call, which gives the GIL up once)."""
        if self._sync is not None:
            return
        self._put(b"\n]\n" if self._wrote else b"]\n")
        fd = self._fd

        def sync() -> None:
            try:
                os.fsync(fd)
            except OSError as exc:
                self._failed.append(exc)

        thread = threading.Thread(target=sync, name=f"sync {self.path.name}")
        thread.start()  # where it cannot, the text is not done: the file is dropped
        self._sync = thread

    def _close(self) -> None:
        """The file closed, its sync waited for (an error of either kept in ``_failed``)."""
        if self._sync is not None:
            self._sync.join()
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError as exc:
                self._failed.append(exc)


@contextlib.contextmanager
def writing_lines(path: Path, tmp: Path, refused: Callable[[OSError], RunDirError]
                  ) -> Iterator[LinesOut]:
    """A :class:`LinesOut` for the block (the module's docstring), written at ``tmp`` and
    moved to ``path``; ``refused`` makes an OSError the RunDirError to raise."""
    out = LinesOut(path, tmp, refused)
    try:
        out._open()
    except BaseException:
        _drop(out)
        raise
    try:
        yield out
    except BaseException:
        if out._sync is None:
            _drop(out)
            raise
        _finish(out)  # the text was done: moved all the same, or its own error first
        raise
    if out._sync is None:
        _drop(out)
        raise RuntimeError("the block ended before the text was done")
    _finish(out)


def _drop(out: LinesOut) -> None:
    """The file closed (if it was opened) and removed."""
    out._close()
    out._tmp.unlink(missing_ok=True)


def _finish(out: LinesOut) -> None:
    """The file closed once synced and moved into place; or removed, and the error that
    kept it from disk raised."""
    out._close()
    failed = out._failed
    try:
        if not failed:
            os.replace(out._tmp, out.path)
    except OSError as exc:
        failed.append(exc)
    if failed:
        out._tmp.unlink(missing_ok=True)
        raise out._refused(failed[0]) from failed[0]
