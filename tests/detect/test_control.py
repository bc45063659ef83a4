"""The canary's own page load, from captured bytes to ``harness analyze``: a positive
control, never a leak; the same value sent anywhere else is a leak."""

from __future__ import annotations

from pathlib import Path

from harness.analysis import analyze_run
from tests.parse.wire import run_from_bytes

CANARY = "cnry0123456789abcdef"


def _run(tmp_path: Path, *reqs: bytes) -> Path:
    run = run_from_bytes(tmp_path, [[("out", r)] for r in reqs])
    run.write_json("needles.json", [{"name": "canary-url", "class": "browsing",
                                     "value": CANARY, "source": "scenario"}])
    return run.path


def test_page_load_alone_is_only_a_control(tmp_path: Path) -> None:
    load = (f"GET /c/{CANARY} HTTP/1.1\r\nHost: canary.lab.test\r\n\r\n").encode()
    sub = (f"GET /c/style.css HTTP/1.1\r\nHost: canary.lab.test\r\n"
           f"Referer: https://canary.lab.test/c/{CANARY}\r\n\r\n").encode()
    result = analyze_run(_run(tmp_path, load, sub))
    assert result.leaks == []
    assert {f.chain[-1] for f in result.controls} >= {"url", "header:referer"}


def test_same_value_elsewhere_is_a_leak(tmp_path: Path) -> None:
    load = (f"GET /c/{CANARY} HTTP/1.1\r\nHost: canary.lab.test\r\n\r\n").encode()
    body = f"u=https%3A%2F%2Fcanary.lab.test%2Fc%2F{CANARY}".encode()
    leak = (b"POST /log HTTP/1.1\r\nHost: t.tracker.test\r\nContent-Length: %d\r\n\r\n"
            % len(body) + body)
    result = analyze_run(_run(tmp_path, load, leak))
    assert [(f.host, f.chain[1:]) for f in result.leaks] == [("t.tracker.test", ("form:u",))]
    assert result.controls
