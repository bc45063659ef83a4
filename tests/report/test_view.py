"""The view model at scale: the timeline counts every message while drawing few marks."""

from __future__ import annotations

import re
from pathlib import Path

from harness.claims.evidence import load_facts
from harness.report.view import build
from harness.testing.runbuilder import RunBuilder


def count(title: str) -> int:
    head = title.split(" messages, first: ")[0]
    return int(head) if head.isdigit() else 1


def test_timeline_bins_marks_and_drops_no_message(tmp_path: Path) -> None:
    b = RunBuilder(tmp_path, "burst", run_id="burst")
    for phase in ("normal", "incognito"):
        b.phase(phase, incognito=phase == "incognito")
        b.canary()
        cid = b.connect("sa.api.lab.test")
        for i in range(600):
            b.request("sa.api.lab.test", f"/e?n={i}&token=SECRETX{i}", method="GET", conn=cid,
                      response=None)
    facts = load_facts(b.build())
    out = [m for m in facts.messages if m.direction == "out"]
    timeline = build("t", [], [facts]).timeline
    assert timeline is not None
    assert len(timeline.marks) < 20
    assert sum(count(m.title) for m in timeline.marks) == len(out) == 1202
    assert {m.colour for m in timeline.marks} == {c for _, c in timeline.legend}
    assert not any("SECRETX" in m.title for m in timeline.marks)
    shown = build("t", [], [facts], redact=False).timeline
    assert shown is not None
    assert any("token=SECRETX0" in m.title for m in shown.marks)


def test_evidence_stays_small_whatever_the_app_sent(tmp_path: Path) -> None:
    """A 100 KB analytics GET with a 40 KB cookie and 300 headers (within the parser's 256 KiB
    head): the raw message shown as evidence is cut to a few kilobytes, the excerpt kept."""
    b = RunBuilder(tmp_path, "big", run_id="big")
    b.phase("incognito", incognito=True)
    token = b.canary()
    headers = [("Cookie", "c=" + "k" * 40_000)] + [(f"X-H{i}", "v" * 100) for i in range(300)]
    b.request("sa.api.lab.test", f"/e?u={token}&blob={'b' * 100_000}", method="GET",
              headers=headers)
    facts = load_facts(b.build())
    leak = next(f for f in facts.findings if not f["control"])
    verdict = {"claim": "c", "verdict": "FAIL", "quote": "q", "source": "s", "reason": "r",
               "evidence": [f"big/{leak['id']}"], "checks": []}
    for redact in (True, False):
        (row,) = build("t", [verdict], [facts], redact=redact).verdicts
        (ev,) = row.evidence
        assert token in ev.match
        assert len(ev.raw) < 20_000
        assert "more headers in the run dir" in ev.raw
        assert re.search(r"b… \(9\d{4} more\) HTTP/1.1", ev.raw)  # the URL's cut, counted


def test_journey_labels_alternate_rows_and_are_cut_before_the_next_on_their_row() -> None:
    from harness.report.view import _journey_labels
    labels = _journey_labels([(100.0, "signed-in-sync-on-with-a-long-name"), (160.0, "incognito"),
                              (200.0, "browsing"), (400.0, "x")], right=500.0)
    assert [y for _x, y, _t, _n in labels] == [12, 26, 12, 26]
    by_name = {n: t for _x, _y, t, n in labels}
    cut = by_name["signed-in-sync-on-with-a-long-name"]  # "browsing" is 100 px further on
    assert cut.endswith("…")
    assert len(cut) * 6.5 <= 100
    assert "signed-in-sync-on-with-a-long-name".startswith(cut[:-1])
    assert by_name["incognito"] == "incognito"  # 240 px to "x" on its row
    assert by_name["browsing"] == "browsing"
