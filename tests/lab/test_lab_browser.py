"""The lab browser speaks the real Sensors Analytics wire format and follows its profile."""

from __future__ import annotations

import base64
import gzip
import json
import urllib.parse
from pathlib import Path

import pytest

from harness.lab.browser import LabBrowserProcess, LabConfig
from harness.lab.build import build_lab_browser
from harness.lab.servers import LAB_HOSTS, LabServers
from harness.testing.certs import make_pki


def java_string_hash(s: str) -> int:
    h = 0
    for ch in s.encode("utf-16-be").decode("utf-16-be"):
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _events(servers: LabServers) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for req in servers.received("sa.api.lab.test"):
        form = urllib.parse.parse_qs(req.body.decode(), strict_parsing=True)
        data = form["data_list"][0]
        assert form["gzip"] == ["1"]
        assert int(form["crc"][0]) == java_string_hash(data)
        out += json.loads(gzip.decompress(base64.b64decode(data)))
    return out


def _browse(tmp_path: Path, profile: str, usage_stats: bool) -> tuple[list[dict[str, object]],
                                                                          LabServers]:
    pki = make_pki(tmp_path / "pki", names=(*LAB_HOSTS,))
    hosts = tmp_path / "hosts"
    hosts.write_text("".join(f"127.0.0.1 {h}\n" for h in LAB_HOSTS))
    with LabServers(pki) as servers:
        cfg = LabConfig(profile, build_lab_browser(), tmp_path / "state",
                        f"{servers.base('sa.api.lab.test')}/sa",
                        f"{servers.base('sync.lab.test')}/h",
                        pki.ca_cert, hosts, "a1b2c3d4e5f60718", "861234567890123")
        app = LabBrowserProcess(cfg)
        try:
            app.wait_ready()
            app.step("launch")
            app.step("usage_stats", usage_stats)
            app.step("incognito", True)
            app.step("open_url", f"{servers.base('canary.lab.test')}/c/CANARYTOKEN1")
            app.step("search", "zzsearchword",
                     search_base=f"{servers.base('canary.lab.test')}/s?q=")
        finally:
            app.quit()
        return _events(servers), servers


def test_mint_340_leaks_incognito_urls_and_ids(tmp_path: Path) -> None:
    events, servers = _browse(tmp_path, "mint-3.4.0", usage_stats=False)
    text = json.dumps(events)
    assert "CANARYTOKEN1" in text
    assert "zzsearchword" in text
    assert all(e["properties"]["$device_id"] == "a1b2c3d4e5f60718" for e in events)  # type: ignore[index]
    assert {r.tls_version for r in servers.received("sa.api.lab.test")} == {"TLSv1.2"}
    assert len(servers.received("canary.lab.test")) == 2  # page + search results


def test_mint_343_sends_nothing_in_incognito_with_stats_off(tmp_path: Path) -> None:
    events, servers = _browse(tmp_path, "mint-3.4.3", usage_stats=False)
    assert [e["event"] for e in events] == ["app_start"]
    assert "CANARYTOKEN1" not in json.dumps(events)
    assert {r.tls_version for r in servers.received("sa.api.lab.test")} == {"TLSv1.3"}


@pytest.mark.parametrize("profile", ["mint-3.4.0", "mint-3.4.3"])
def test_crash_step_ends_the_process(tmp_path: Path, profile: str) -> None:
    from harness.lab.browser import StepFailed

    pki = make_pki(tmp_path / "pki", names=(*LAB_HOSTS,))
    with LabServers(pki) as servers:
        cfg = LabConfig(profile, build_lab_browser(), tmp_path / "s", servers.base("x"),
                        servers.base("y"), pki.ca_cert, tmp_path / "none", "a", "b")
        app = LabBrowserProcess(cfg)
        app.wait_ready()
        with pytest.raises(StepFailed, match="exited"):
            app.step("crash")
        app.quit()
        assert not app.alive()
