"""The floor under ``harness analyze``: the work no design of it can skip, each step done by C
code called in bulk, timed against ripgrep in the same run.

    PYTHONPATH=. python bench/floor.py /tmp/detect-bench      # what bench/detect.py --dir left

Steps (rg is pinned to the first core this process may use; run it under ``taskset -c 0``):
reading every stream row of capture.sqlite; writing every stored body into a fresh SQLite
file with the store's page size and pragmas; one Hyperscan scan of every stored
(content-decoded) body with the literal patterns rg gets (the decoded layers inside them,
base64 and JSON, would only add to it); inflating a third of the bodies (what the bench
compresses). Not counted: base64 and JSON walking,
HTTP parsing, findings.json (40 MB on the 200 MB run), the classifier, Python's start-up.
So the sum is a lower bound of analyze with a message store, and tells how much of issue 4's
3x-of-rg budget is left for everything else.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import hyperscan

from harness.parse.store import ANALYSIS_DB
from harness.parse.storeread import MessageStore


def timed(label: str, fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    print(f"{label:44s} {dt:6.2f} s")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench", type=Path, help="the --dir of bench/detect.py (raw.bin, patterns.txt,"
                    " detect-bench/ analysed once)")
    bench = ap.parse_args().bench
    run = bench / "detect-bench"
    cpu = sorted(os.sched_getaffinity(0))

    def rg() -> None:
        subprocess.run(["taskset", "-c", str(cpu[0]), "rg", "-a", "-F", "--count-matches",
                        "-f", str(bench / "patterns.txt"), str(bench / "raw.bin")],
                       stdout=subprocess.DEVNULL, check=True)

    def read() -> None:
        db = sqlite3.connect(f"file:{run}/capture.sqlite?mode=ro&immutable=1", uri=True)
        for _ in db.execute("SELECT data FROM events WHERE kind='stream'"):
            pass
        db.close()

    # every message's body as the store's reader gives it (one stored as a reference read
    # from the capture): the store holds them in chunks (format 7), not a column of its own
    with MessageStore(run / ANALYSIS_DB) as store:
        bodies = [m.body for m in store.messages() if type(m.body) is bytes]
    out = bench / "floor.sqlite"

    def write() -> None:
        out.unlink(missing_ok=True)
        db = sqlite3.connect(out)
        for pragma in ("page_size=16384", "journal_mode=OFF", "synchronous=OFF"):
            db.execute(f"PRAGMA {pragma}")
        db.execute("CREATE TABLE m(key INTEGER PRIMARY KEY, body BLOB)")
        db.executemany("INSERT INTO m VALUES(?, ?)", enumerate(bodies))
        db.commit()
        db.close()

    pats = [p for p in (bench / "patterns.txt").read_bytes().split(b"\n") if p]
    hs = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    hs.compile(expressions=[b"".join(b"\\x%02x" % c for c in p) for p in pats],
               ids=list(range(len(pats))), flags=[0] * len(pats))
    raw = (bench / "raw.bin").stat().st_size
    hits = [0]

    def hit(*_: object) -> None:
        hits[0] += 1

    def scan_bodies() -> None:
        for b in bodies:
            hs.scan(b, match_event_handler=hit)

    packed = [zlib.compress(b, 6) for b in bodies[::3]]

    def inflate() -> None:
        for p in packed:
            zlib.decompress(p)

    print(f"{raw / 1e6:.0f} MB raw, {len(bodies)} stored bodies,"
          f" {sum(map(len, bodies)) / 1e6:.0f} MB; CPU {cpu}")
    rgs = [timed("rg -F -f patterns.txt raw.bin", rg)]
    floor = (timed("read capture stream rows", read)
             + timed("write the bodies into a store", write)
             + timed("Hyperscan: every stored body", scan_bodies)
             + timed("inflate a third of the bodies", inflate))
    rgs.append(timed("rg -F -f patterns.txt raw.bin", rg))
    out.unlink(missing_ok=True)
    print(f"floor {floor:.2f} s = {floor / min(rgs):.1f}x rg (best of {len(rgs)});"
          f" 3x rg leaves {3 * min(rgs) - floor:.2f} s for everything else")


if __name__ == "__main__":
    main()
