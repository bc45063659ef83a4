"""The report of a hostile run in headless Chromium (Debian's, driven by Playwright): nothing
runs, nothing is fetched, the verdicts and evidence are there and the hostile strings read
as text. A screenshot is kept as an artifact."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Route, sync_playwright

from harness.claims.model import load_claims
from tests.report.conftest import (
    HOSTILE,
    HOSTILE_HOST,
    IMG,
    JS_URL,
    SCRIPT,
    Reported,
    harness_cli,
    verdicts_of,
)

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        # Debian's wrapper script runs the real binary; as root the sandbox cannot start
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              chromium_sandbox=False, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def artifact(path: Path) -> Path:
    folder = Path(os.environ.get("EGRESS_ARTIFACTS") or "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(path, folder / path.name))


@dataclass
class Opened:
    page: Page
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@contextlib.contextmanager
def opened(browser: Browser, html: Path) -> Iterator[Opened]:
    """The report opened from its file; every request is recorded and all but the file's own
    are refused, dialogs are dismissed and recorded, console errors kept. On leaving, the
    page must have run nothing and fetched nothing."""
    url = html.resolve().as_uri()
    context = browser.new_context()
    page = context.new_page()
    seen = Opened(page)

    def route(r: Route) -> None:
        seen.requests.append(r.request.url)
        if r.request.url == url:
            r.continue_()
        else:
            r.abort()

    def on_dialog(d: Dialog) -> None:
        seen.dialogs.append(d.message)
        d.dismiss()

    def on_console(m: ConsoleMessage) -> None:
        if m.type in ("error", "warning"):
            seen.console.append(f"{m.type}: {m.text}")

    context.route("**/*", route)
    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda e: seen.console.append(f"pageerror: {e}"))
    page.on("request", lambda r: seen.requests.append(r.url))
    try:
        page.goto(url, wait_until="load")
        page.locator("#summary + table").wait_for(state="visible", timeout=10_000)
        yield seen
        # nothing captured became markup: no scripts, images, javascript: links or handlers
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        assert page.evaluate("() => [...document.querySelectorAll('*')].filter(e => "
                             "[...e.attributes].some(a => a.name.startsWith('on'))).length") == 0
    finally:
        context.close()
    assert seen.dialogs == []
    assert seen.console == []
    assert set(seen.requests) == {url}, seen.requests


def screenshot(page: Page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    artifact(path)


def test_hostile_report_runs_nothing_and_fetches_nothing(
        browser: Browser, reported: Reported, tmp_path: Path) -> None:
    with opened(browser, reported.html) as seen:
        page = seen.page
        table = page.locator("#summary + table")
        verdicts = verdicts_of(reported.run)
        assert table.locator("tbody tr").count() == len(verdicts)
        words = {str(v["claim"]): str(v["verdict"]) for v in verdicts}
        assert sorted(words.values()) == ["FAIL", "INCONCLUSIVE", "PASS"]
        for claim, verdict in words.items():
            row = table.locator("tbody tr", has_text=claim)
            assert row.locator("td").nth(1).inner_text() == verdict

        # evidence of the failed claim: the excerpt with the needle highlighted, the chain
        failed = next(c for c, w in words.items() if w == "FAIL")
        section = page.locator(f"section[id='claim-{failed}']")
        assert section.locator(".evidence").count() >= 1
        assert "cnry" in section.locator("mark").first.inner_text()
        assert any("query:u" in t for t in section.locator(".chain").all_inner_texts())

        # the raw message is one click away, and shows the hostile header as text
        details = section.locator("details").first
        details.locator("summary").click()
        raw = details.locator("pre").inner_text()
        assert f"X-Title: {IMG}" in raw
        assert f"Referer: {JS_URL}" in raw
        text = page.locator("body").inner_text()
        for hostile in HOSTILE:
            assert hostile in text, hostile
        assert '<script>alert("quote")</script>' in text  # the claim's own quote too
        assert any(SCRIPT in t for t in page.locator("svg title").all_text_contents())
        hosts = page.locator("#destinations + table tbody tr td:first-child").all_inner_texts()
        assert HOSTILE_HOST in hosts
        assert page.locator("svg svg").count() == 0  # the host's markup stayed text
        screenshot(page, tmp_path / "report-hostile.png")


# what the user types: within the detector's excerpt of the canary on either side
TYPED = json.dumps(f"{SCRIPT}{JS_URL} {{canary.query}} {IMG}")
HOSTILE_JOURNEY = f"""\
name: incognito
description: The incognito journey, with markup and a script URL as what the user types.
phases:
  - name: normal
    steps:
      - launch
      - open_url: "{{canary.url}}"
  - name: incognito
    steps:
      - incognito: on
      - open_url: "{{canary.url}}"
      - search: {TYPED}
      - download: "{{canary.download}}#{JS_URL}"
"""


@pytest.mark.frida
@pytest.mark.java
def test_report_of_a_real_lab_capture(browser: Browser, tmp_path: Path) -> None:
    """The lab browser (mint-3.4.0) captured by the agent: what the user typed reaches the
    analytics payload, and the report shows it, decoded, as text."""
    scenario = tmp_path / "incognito.yaml"
    scenario.write_text(HOSTILE_JOURNEY, encoding="utf-8")
    claims = Path(__file__).resolve().parents[2] / "scenarios" / "claims" / "xiaomi-2020.yaml"
    done = harness_cli("run", str(scenario), "--app", "lab:mint-3.4.0", "--claims",
                       str(claims), "--out", str(tmp_path / "runs"))
    assert done.returncode == 1, done.stderr  # the 2020 build fails claims
    (html,) = (tmp_path / "runs").glob("*/report.html")
    with opened(browser, html) as seen:
        page = seen.page
        assert page.locator("#summary + table tbody tr").count() == len(
            load_claims(claims).claims)
        section = page.locator("section[id='claim-incognito-never-known']")
        assert "FAIL" in section.locator("h3").inner_text()
        excerpts = " ".join(page.locator(".evidence pre").all_inner_texts())
        assert SCRIPT in excerpts
        assert IMG in excerpts
        assert JS_URL in excerpts
        screenshot(page, tmp_path / "report-lab.png")


def test_report_declares_a_strict_policy(reported: Reported) -> None:
    html = reported.html.read_text(encoding="utf-8")
    head = html[:html.index("</head>")]
    assert "Content-Security-Policy" in head
    assert "default-src 'none'" in head
    assert "<script" not in html
    assert "http://" not in head  # no external resources
    assert "https://" not in head
