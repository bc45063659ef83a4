"""A/B of ``harness analyze`` between two checkouts, on copies of one run dir, in turns.

    PYTHONPATH=. python bench/ab_analyze.py RUN_DIR OLD_CHECKOUT [NEW_CHECKOUT] --rounds 3

Each round analyses a fresh copy of RUN_DIR with the old checkout, then with the new one
(default: this one), in a child pinned to one core (``taskset -c 0``) that imports harness
from that checkout only; then it checks that findings.json and destinations.json are the
same bytes. Build the old checkout's C extension first (``python setup.py build_ext
--inplace`` there), or it times its Python fallbacks.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import sys, time
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, sys.argv[1])
import harness
assert harness.__file__.startswith(sys.argv[1]), harness.__file__
from harness.analysis import analyze_run
t = time.perf_counter()
a = analyze_run(sys.argv[2])
print(f"{time.perf_counter() - t:.2f} {len(a.findings)}")
"""
DERIVED = ("findings.json", "destinations.json")


def analyze(checkout: Path, run: Path, into: Path) -> tuple[float, int]:
    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(run, into)
    for name in ("analysis.sqlite", *DERIVED):
        (into / name).unlink(missing_ok=True)
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", CHILD, str(checkout),
                          str(into)], check=True, capture_output=True, text=True, cwd="/")
    seconds, findings = out.stdout.split()
    return float(seconds), int(findings)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path, nargs="?", default=Path(__file__).resolve().parents[1])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {"old": Path(tmp) / "old", "new": Path(tmp) / "new"}
        for i in range(args.rounds):
            for who in ("old", "new"):
                s, n = analyze(getattr(args, who).resolve(), args.run, dirs[who])
                print(f"round {i + 1} {who}: {s:.2f} s, {n} findings", flush=True)
        for name in DERIVED:
            same = filecmp.cmp(dirs["old"] / name, dirs["new"] / name, shallow=False)
            print(f"{name}: {'identical' if same else 'DIFFERENT'}")
            if not same:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
