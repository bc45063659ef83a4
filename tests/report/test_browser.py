"""The report of a hostile run in headless Chromium (Debian's, driven by Playwright): nothing
runs, nothing is fetched, the verdicts and evidence are there and the hostile strings read
as text. A screenshot is kept as an artifact."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Route, sync_playwright

from tests.report.conftest import HOSTILE, IMG, JS_URL, SCRIPT, Reported, verdicts_of

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


def test_hostile_report_runs_nothing_and_fetches_nothing(
        browser: Browser, reported: Reported, tmp_path: Path) -> None:
    url = reported.html.resolve().as_uri()
    context = browser.new_context(java_script_enabled=True)
    requests: list[str] = []
    dialogs: list[str] = []
    console: list[str] = []

    def route(r: Route) -> None:
        requests.append(r.request.url)
        if r.request.url == url:
            r.continue_()
        else:
            r.abort()

    def on_dialog(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    def on_console(m: ConsoleMessage) -> None:
        if m.type in ("error", "warning"):
            console.append(f"{m.type}: {m.text}")

    context.route("**/*", route)
    page: Page = context.new_page()
    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url) if r.url not in requests else None)
    try:
        page.goto(url, wait_until="load")
        table = page.locator("#summary + table")
        table.wait_for(state="visible", timeout=10_000)
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

        # nothing of it became markup: no scripts, images, javascript: links or handlers
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        assert page.evaluate("() => [...document.querySelectorAll('*')].filter(e => "
                             "[...e.attributes].some(a => a.name.startsWith('on'))).length") == 0
        assert any(SCRIPT in t for t in page.locator("svg title").all_text_contents())

        shot = tmp_path / "report-hostile.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        artifact(shot)
    finally:
        context.close()
    assert dialogs == []
    assert console == []
    assert set(requests) == {url}, requests


def test_report_declares_a_strict_policy(reported: Reported) -> None:
    html = reported.html.read_text(encoding="utf-8")
    head = html[:html.index("</head>")]
    assert "Content-Security-Policy" in head
    assert "default-src 'none'" in head
    assert "<script" not in html
    assert "http://" not in head  # no external resources
    assert "https://" not in head
