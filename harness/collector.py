"""The cyclic garbage collector, quiet where the work makes many objects and no cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
    ``unfreeze()`` would thaw."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was:
            gc.enable()
