"""WebView and Cronet hooks, exercised through stand-ins with the real Android/Chromium names
and signatures on HotSpot (they have not run on a phone: docs/java-hooks.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.protocol import RecordKind
from harness.testing.javafixtures import Fixtures
from tests.hooks_java.support import Hooked, hooked, no_agent_errors, of_kind


@pytest.fixture(scope="module")
def app(fixtures: Fixtures, agent_source: str, truststore: Path) -> Iterator[Hooked]:
    with hooked(fixtures, agent_source, truststore) as h:
        yield h


def test_webview_page_loads_and_scripts(app: Hooked) -> None:
    assert app.driver.command("webview WVCANARY") == "done"
    pages = [r for r in of_kind(app.finish(), RecordKind.PAGE)]
    seen = [(r.fields["method"], r.fields["url"], r.body) for r in pages]
    base = "https://canary.example"
    for expected in [
        ("loadUrl", f"{base}/before-client/WVCANARY", None),
        ("onPageStarted", f"{base}/before-client/WVCANARY", None),
        ("shouldInterceptRequest", f"{base}/before-client/WVCANARY", None),
        ("onPageFinished", f"{base}/before-client/WVCANARY", None),
        ("loadUrl", f"{base}/page/WVCANARY", None),
        ("postUrl", f"{base}/post", b"q=WVCANARY"),
        ("loadDataWithBaseURL", f"{base}/base", b"<p>WVCANARY</p>"),
        ("evaluateJavascript", None, b"window.canary='WVCANARY'"),
    ]:
        assert expected in seen, expected
    # The app's WebViewClient subclass overrides onPageFinished and shouldInterceptRequest:
    # its overrides are hooked once setWebViewClient hands it over, each event once.
    after = [(m, u) for m, u, _ in seen if u == f"{base}/page/WVCANARY"]
    assert after == [("loadUrl", f"{base}/page/WVCANARY"),
                     ("onPageStarted", f"{base}/page/WVCANARY"),
                     ("shouldInterceptRequest", f"{base}/page/WVCANARY"),
                     ("onPageFinished", f"{base}/page/WVCANARY")]
    reports = app.run.hook_reports()
    assert any(r["target"] == "egress.testapp.AndroidCalls$AppClient.onPageFinished"
               and r["status"] == "installed" for r in reports)
    assert all(str(r.fields["frames"][0]).startswith("egress.testapp.")  # type: ignore[index]
               for r in pages)
    no_agent_errors(app)


def test_cronet_requests_and_quic_forced_off(app: Hooked) -> None:
    # The app asks for QUIC; the agent (blockQuic, the default) makes the builder say no.
    assert app.driver.command("cronet CRCANARY") == "quic=false"
    req = next(r for r in of_kind(app.finish(), RecordKind.HTTP) if r.fields["stack"] == "cronet")
    assert req.fields["url"] == "https://canary.example/cronet/CRCANARY"
    assert req.fields["method"] == "PUT"
    assert req.fields["headers"] == [["X-Canary", "CRCANARY"]]
    no_agent_errors(app)


def test_cronet_quic_left_alone_when_not_blocking(fixtures: Fixtures, agent_source: str) -> None:
    with hooked(fixtures, agent_source, None, config={"blockQuic": False}) as h:
        assert h.driver.command("cronet X") == "quic=true"
