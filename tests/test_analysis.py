"""``analyze_run`` runs with the cyclic collector off (harness/collector.py): that holds only
while what it makes for each message and finding forms no reference cycle. And its findings
are put in the store's order a message's run at a time, as sorting them one by one would."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from operator import itemgetter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import collector
from harness.analysis import _store_order, analyze_run
from harness.capture.rundir import RunDir
from harness.detect.finding import Needle
from harness.detect.findings import Found, numbered
from harness.device.base import NeedleClass
from harness.testing.runbuilder import RunBuilder

NEEDLE = "a1b2c3d4e5f60718"


def _run(parent: Path, n: int) -> RunDir:
    """A run of ``n`` times the same few kinds of message, each with findings."""
    b = RunBuilder(parent, "j", run_id=f"r{n}")
    b.needle("android-id", "device-id", NEEDLE)
    b.phase("normal")
    b.canary()
    for i in range(n):
        b.request(f"h{i}.lab.test", f"/sa?u={NEEDLE}", body=f"id={NEEDLE}&x={i}".encode())
        b.java_request(f"https://j{i}.lab.test/c?u={NEEDLE}", method="GET")
        b.sdk_call("sensorsdata", "track", "search", {"id": NEEDLE, "n": i})
    return b.build(analyze=False)


def _cycles(run: RunDir) -> int:
    """What the collector finds after an analysis run with it off throughout."""
    gc.collect()
    gc.disable()
    try:
        analysis = analyze_run(run)
        assert not gc.isenabled()  # left as the caller had it
        assert len(analysis.findings) > 3
        return gc.collect()
    finally:
        gc.enable()


def test_no_cycle_for_each_message(tmp_path: Path) -> None:
    _cycles(_run(tmp_path, 1))  # what the first analysis in a process imports and caches
    assert _cycles(_run(tmp_path, 3)) == _cycles(_run(tmp_path, 30))


def test_the_collector_is_back_after(tmp_path: Path) -> None:
    assert gc.isenabled()
    analyze_run(_run(tmp_path, 1))
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_what_it_made_is_not_left_young(tmp_path: Path) -> None:
    """Not scanned by the first collection after it (moved to the oldest generation)."""
    run = _run(tmp_path, 30)
    gc.collect()
    before = [s["collections"] for s in gc.get_stats()]
    analyze_run(run)
    made = [[] for _ in range(100)]
    assert [s["collections"] for s in gc.get_stats()] == before, len(made)


def test_what_the_caller_froze_stays_frozen(tmp_path: Path) -> None:
    """Neither thawed (unfreeze) nor joined by what the analysis made (freeze). The count
    alone is not the test: a frozen object the analysis lets go of (a cache entry) leaves
    the permanent generation, and the count then dropped by one, now and then."""
    run = _run(tmp_path, 1)
    sentinel = [object()]  # a tracked container, kept alive by this frame
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        analyze_run(run)
        assert gc.get_freeze_count() <= frozen  # nothing the analysis made was frozen
        assert not any(o is sentinel for o in gc.get_objects())  # still frozen
    finally:
        gc.unfreeze()
    assert any(o is sentinel for o in gc.get_objects())  # the check sees a thawed one


def test_overlapping_quiet_blocks_keep_it_off_until_the_last_ends() -> None:
    """Two threads' blocks, the first ending first: the collector is the process's."""
    entered, first_done, second_may_end = (threading.Event() for _ in range(3))
    seen: list[bool] = []

    def second() -> None:
        with collector.quiet():
            entered.set()
            assert first_done.wait(10)
            seen.append(gc.isenabled())
            second_may_end.set()

    thread = threading.Thread(target=second)
    with collector.quiet():
        thread.start()
        assert entered.wait(10)
    first_done.set()
    assert second_may_end.wait(10)
    thread.join(10)
    assert seen == [False]  # still off after the first block ended
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_commands_import_runs_no_collection() -> None:
    """The CLI imports a command's modules with the collector quiet (54 collections, ~40 ms,
    for ``harness analyze`` before), and leaves it on and nothing frozen."""
    code = ("import gc, json\n"
            "from harness.cli import build_parser\n"
            "runs = []\n"
            "gc.callbacks.append(lambda phase, info: runs.append(phase))\n"
            "build_parser(['analyze', 'x'])\n"
            "print(json.dumps([runs.count('stop'), gc.isenabled(), gc.get_freeze_count()]))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert json.loads(out) == [0, True, 0]


_NEEDLES = [Needle("a", NeedleClass.DEVICE_ID, "x", "cli"),
            Needle("b", NeedleClass.BROWSING, "y", "cli")]


@given(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 1), st.integers(0, 3)),
                max_size=30), st.permutations(range(1, 7)))
def test_store_order_is_the_findings_sorted_one_by_one(
        found_at: list[tuple[int, int, int]], order: list[int]) -> None:
    """Message keys 1-6 numbered in a random order; findings with runs of one message, and
    the same message again later (the stable sort's case), against the sort it replaced:
    each finding by its message's number, stably, then renumbered."""
    numbers = [0, *order]
    found: list[Found] = [
        (_NEEDLES[n], f"k{key}", (f"c{c}",), (b"<", b"x", b">", False, bool(c)), f"h{key}",
         None, bool(n), float(i)) for i, (key, n, c) in enumerate(found_at)]
    by_number = sorted([(numbers[int(f[1][1:])], f) for f in found], key=itemgetter(0))
    want = numbered((f"m{num}", [f]) for num, f in by_number)
    assert numbered(_store_order(found, numbers)) == want


def test_the_command_counts_leaks_and_controls(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """``harness analyze``'s summary line: the findings that are leaks, and the positive
    controls (the rest)."""
    from harness.cli import main
    from tests.parse.wire import run_from_bytes

    canary = "cnry0123456789abcdef"
    load = f"GET /c/{canary} HTTP/1.1\r\nHost: canary.lab.test\r\n\r\n".encode()
    leak = f"GET /t?u={canary} HTTP/1.1\r\nHost: t.tracker.test\r\n\r\n".encode()
    run = run_from_bytes(tmp_path, [[("out", r)] for r in (load, load, leak)])
    run.write_json("needles.json", [{"name": "canary-url", "class": "browsing",
                                     "value": canary, "source": "scenario"}])
    assert main(["analyze", str(run.path)]) == 0
    result = analyze_run(run)
    leaks, controls = len(result.leaks), len(result.controls)
    assert (leaks, controls) == (1, 2)
    assert f" {leaks} findings, {controls} positive controls\n" in capsys.readouterr().out


def test_transforms_of_a_run_with_and_without_them(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's encoder and cipher calls, output to (step, input); a run with none is
    answered without reading its connections (events() reads them all first)."""
    from harness.analysis import transforms
    from harness.capture.capturedb import CaptureReader

    b = RunBuilder(tmp_path, "t", run_id="with")
    b.phase("normal")
    b.request("h.lab.test", "/a", body=b"x")
    b.transform("base64", "", b"in-1", b"out-1")
    b.transform("cipher.doFinal", "AES/GCM/NoPadding", b"in-2", b"out-2")
    b.transform("cipher.init", "", b"in-3", b"")  # no output: nothing to map
    with_them = b.build(analyze=False)
    assert transforms(with_them) == {b"out-1": ("app:base64", b"in-1"),
                                     b"out-2": ("cipher:AES/GCM/NoPadding", b"in-2")}
    b = RunBuilder(tmp_path, "t", run_id="one")
    b.phase("normal")
    b.transform("base64", "", b"in-1", b"out-1")
    assert transforms(b.build(analyze=False)) == {b"out-1": ("app:base64", b"in-1")}
    b = RunBuilder(tmp_path, "t", run_id="without")
    b.phase("normal")
    b.request("h.lab.test", "/a", body=b"x")
    without = b.build(analyze=False)

    def no_connections(self: CaptureReader) -> object:
        raise AssertionError("read the connections")

    monkeypatch.setattr(CaptureReader, "connections", no_connections)
    assert transforms(without) == {}
