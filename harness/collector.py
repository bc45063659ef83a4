"""The cyclic garbage collector, quiet where the work makes many objects and no cycles."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_inside = 0
"""How many quiet() blocks are running (in any thread): the collector is the process's."""
_was = False
"""Whether the collector was on when the first of them began."""


@contextmanager
def quiet() -> Iterator[None]:
    """The cyclic collector off for the block, back as it was after it.

    Used by the analysis (``analyze_run``) and for the CLI's import of a command's modules.
    The analysis makes a few container objects for every message and finding (tuples,
    lists, Findings) and keeps many of them to the end, so the young generation fills and
    is collected again and again (gc_collect_main was 7-16% of a 200 MB analyze, even with
    a threshold of 10,000) while nothing it makes forms a cycle: run with the collector
    off, a ``gc.collect()`` after the 20 MB and after the 200 MB bench run finds the same 33
    objects (json.dump's pure-Python encoder, once for each file written with indent), and
    the peak RSS is the same. tests/test_analysis.py checks that the cycles left do not
    grow with the messages. Importing ``harness analyze``'s modules ran 54 collections
    (~40 ms) for objects that live as long as the process.

    Afterwards, what the block made is moved to the oldest generation, as surviving two
    collections would, without those collections: none having run, all of it is young,
    and the first allocation after ``gc.enable()`` scanned it all and then ran a full
    collection (0.7 s after the 200 MB run). ``freeze()`` then ``unfreeze()`` does the move
    in constant time; not where the caller has frozen objects of its own, which
    ``unfreeze()`` would thaw.

    The collector is one for the process: blocks in several threads (analyses run side by
    side) keep it off until the last of them ends, which puts it back as it was before the
    first (each putting back what it found turned it on in the middle of another's block,
    the one that began first and ended first)."""
    global _inside, _was
    with _lock:
        if _inside == 0:
            _was = gc.isenabled()
            gc.disable()
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                if _was:
                    gc.enable()
