"""The end of a ``harness`` process: what the console script leaves to the operating system.

When ``harness analyze`` has written its last output, what is left in memory is hundreds of
thousands of objects (the 200 MB bench's ~133,000 Findings, the message stream's numbering,
the classifier's hosts, every module's tables). Freeing them one by one, as the frames that
hold them return and then as the interpreter tears its modules down, was ~0.2 s of its
~3.4 s (perf: ``tupledealloc``, ``subtype_dealloc``, ``list_dealloc``, ``_PyObject_Free``)
for nothing anyone sees: the operating system takes the whole address space back at once.

So the console script (:func:`harness.cli.entry`) may end such a command with
``os._exit``, after doing, in the interpreter's order, all that its finalization does that
can be seen from outside (:func:`end`): non-daemon threads joined (and the functions
``threading`` runs then), ``atexit`` handlers (logging's flush, ``weakref.finalize``'s, among
them ``tempfile.TemporaryDirectory``'s cleanup), stdout and stderr flushed. What it does not do
is call ``__del__`` and free memory; a command it is used for must therefore have nothing left
to a finalizer when its ``run`` returns: every file it writes closed by ``with`` (or moved into
place), every SQLite connection closed, no child process or device session left to a
destructor (``harness.cli.ENDS_UNTORN`` lists them). The big objects are kept referenced
(:func:`keep`) so that the frames returning on the way out do not free them first.

In-process callers (the tests, a library user, ``harness run`` analysing inside a capture)
never get here: :func:`keep` does nothing unless the console script asked for it.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_kept: list[tuple[object, ...]] | None = None
"""What :func:`keep` was given, while the process is to end by :func:`end`; None otherwise."""


def keep(*objects: object) -> None:
    """``objects`` referenced to the process's end when it ends by :func:`end` (their frame's
    return then frees nothing); otherwise nothing is done, and they are freed as ever."""
    if _kept is not None:
        _kept.append(objects)


@contextmanager
def keeping() -> Iterator[None]:
    """The block's :func:`keep` calls keep what they are given; freed as the block ends, when
    it ends otherwise than by :func:`end` (an exception, ``SystemExit``)."""
    global _kept
    _kept = []
    try:
        yield
    finally:
        _kept = None


def watched() -> bool:
    """Whether a profiler or a tracer runs (``python -m cProfile -m harness``, ``trace``,
    coverage): each reports after the program returns, which ``os._exit`` would not let it."""
    return sys.getprofile() is not None or sys.gettrace() is not None


def end(code: int) -> None:
    """End the process with exit status ``code`` as the interpreter's exit would, less the
    freeing of its objects. Returns (and the caller ends the usual way) when that cannot be
    done alike: a code ``sys.exit`` would not give as it is, a profiler or tracer that reports
    when the program returns (:func:`watched`), or stdout or stderr that cannot be flushed
    (the interpreter then prints why and exits 120; its own try does the same)."""
    if not 0 <= code <= 255 or watched():
        return
    # Py_FinalizeEx's order: threads first (threading._shutdown joins the non-daemon ones and
    # runs what threading._register_atexit registered), then atexit, then the std streams
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()  # runs each once, then forgets them, as the interpreter's exit
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            return
    os._exit(code)
