"""Real analytics SDK traffic, captured by the real agent, decoded by `harness analyze`."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from harness.capture.rundir import RunDir
from harness.cli import main
from harness.testing.certs import PKIFiles, make_pki
from harness.testing.tls_server import TLSServer

SENSORS = textwrap.dedent("""
    import sys, sensorsanalytics
    url = sys.argv[1]
    sa = sensorsanalytics.SensorsAnalytics(sensorsanalytics.DefaultConsumer(url))
    sa.track("user-42", "search", {"search_word": "qzfeedfacecafe",
             "url": "https://canary.lab.test/c/cnry0123456789abcdef"}, is_login_id=False)
    sa.close()
""")


@pytest.fixture
def pki(tmp_path: Path) -> PKIFiles:
    return make_pki(tmp_path / "pki")


def test_sensors_python_sdk_through_capture_and_analyze(tmp_path: Path, pki: PKIFiles,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "sdk.py"
    script.write_text(SENSORS)
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_cert))
    with TLSServer(pki) as server:
        assert main(["capture", "--out", str(tmp_path / "runs"),
                     "--needle", "word=qzfeedfacecafe",
                     "--needle", "url=cnry0123456789abcdef", "--", sys.executable, str(script),
                     f"https://127.0.0.1:{server.port}/sa?project=default"]) == 0
        assert b"gzip=1" in server.received_total()
    (path,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    assert main(["analyze", str(path)]) == 0
    findings = json.loads((path / "findings.json").read_text())
    chains = {(f["needle"], tuple(f["chain"])) for f in findings}
    base = ("http:POST 127.0.0.1/sa", "sensors:data (no crc)", "base64", "gzip")
    assert ("word", (*base, "json:$.properties.search_word")) in chains
    assert ("url", (*base, "json:$.properties.url")) in chains
    assert not any(f["control"] for f in findings)
    assert RunDir.open(path).load_info().health.sequence_gaps == 0
    dests = json.loads((path / "destinations.json").read_text())["destinations"]
    # the SDK that built the payload, from the wire format the detector decoded
    assert ["sensors-analytics (wire format)"] in [d["sdks"] for d in dests]


MIXPANEL = textwrap.dedent("""
    import sys, mixpanel
    base = sys.argv[1]
    mp = mixpanel.Mixpanel("tok3n", consumer=mixpanel.Consumer(
        events_url=base + "/track", people_url=base + "/engage", request_timeout=10))
    mp.track("a1b2c3d4e5f60718", "Page View", {
        "$current_url": "https://canary.lab.test/c/cnry0123456789abcdef",
        "search": "qzfeedfacecafe"})
    mp.people_set("a1b2c3d4e5f60718", {"$email": "alice.lab@example.test"})
""")


def test_mixpanel_python_sdk_through_capture_and_analyze(tmp_path: Path, pki: PKIFiles,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A second real SDK (Mixpanel, over requests/urllib3): URL-encoded JSON in a form field,
    two endpoints; every planted needle found once per location, with its JSON path."""
    script = tmp_path / "sdk.py"
    script.write_text(MIXPANEL)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_cert))
    with TLSServer(pki, body=b'{"status": 1, "error": null}') as server:
        assert main(["capture", "--out", str(tmp_path / "runs"),
                     "--needle", "did=a1b2c3d4e5f60718", "--needle", "email=alice.lab@example.test",
                     "--needle", "url=cnry0123456789abcdef", "--needle", "word=qzfeedfacecafe",
                     "--", sys.executable, str(script),
                     f"https://127.0.0.1:{server.port}"]) == 0
        assert b"POST /engage" in server.received_total()
    (path,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    assert main(["analyze", str(path)]) == 0
    findings = json.loads((path / "findings.json").read_text())
    track = ("http:POST 127.0.0.1/track", "mixpanel:data")
    engage = ("http:POST 127.0.0.1/engage", "mixpanel:data")
    assert sorted((f["needle"], tuple(f["chain"])) for f in findings) == sorted([
        ("word", (*track, "json:$.properties.search")),
        ("url", (*track, "json:$.properties.$current_url")),
        ("did", (*track, "json:$.properties.distinct_id")),
        ("did", (*engage, "json:$.$distinct_id")),
        ("email", (*engage, "json:$.$set.$email")),
    ])
    assert not any(f["control"] for f in findings)
    dests = json.loads((path / "destinations.json").read_text())["destinations"]
    assert ["mixpanel (wire format)"] in [d["sdks"] for d in dests]
