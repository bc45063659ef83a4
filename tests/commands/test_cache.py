"""`harness cache`: the cache directory's kinds as the real writers name their files, listing,
clearing what is rebuilt, keeping what is not, and failing loudly on what cannot be removed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import cachedir, cachestock
from harness.cachedir import cache_dir
from harness.cachestock import kind_of
from harness.cli import main
from harness.errors import ExitCode

HOUR = 3600


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("EGRESS_HARNESS_CACHE", raising=False)
    return tmp_path / "xdg" / "egress-harness"


def _kind(path: Path) -> str | None:
    k = kind_of(path.relative_to(cache_dir()).as_posix())
    return k.name if k is not None else None


def test_the_directory() -> None:
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    out = subprocess.run(
        [sys.executable, "-c", "from harness.cachedir import cache_dir; print(cache_dir())"],
        env={**env, "HOME": "/nonexistent/home"}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "/nonexistent/home/.cache/egress-harness"


def test_the_writers_files_fall_in_their_kinds(cache: Path) -> None:
    """Each writer's own file name, made by the writer, is of the kind `--clear` takes it by."""
    from harness.classify import domain, trackers
    from harness.detect.matcher import cache_path
    from harness.lab.build import build_lab_browser
    from harness.scenario.runner import lab_identifiers

    lab_identifiers()
    assert _kind(cache / "lab-device.json") == "lab-device"
    assert _kind(cache_path([b"needle"], cache / "hyperscan")) == "hyperscan"
    assert _kind(cache / domain.CACHE_NAME) == "parsed"
    assert _kind(cache / trackers.CACHE_NAME) == "parsed"
    assert _kind(cachedir.frida_server_dir() / "frida-server-17.2.0-android-arm64") \
        == "frida-server"
    if shutil.which("javac"):
        assert _kind(build_lab_browser()) == "lab-browser"
    # temporary names: parsedcache.write_whole's, the Hyperscan cache's, the bundle's, javac's
    for tmp in (".publicsuffixlist.marshal.k2j3.tmp", "hyperscan/.ab.hsdb.x1.tmp",
                "tmpq8w7.tmp", "lab-browser-0123456789abcdef.tmp"):
        assert kind_of(tmp) is cachestock.TMP, tmp
    assert kind_of("notes.txt") is None


def test_the_agent_bundle_is_of_its_kind(cache: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.agent.bundle import build_agent

    # the session's cache holds the bundle already (other tests build it): copied, not rebuilt
    monkeypatch.undo()
    source = build_agent()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache.parent))
    target = cache_dir() / source.path.name
    target.parent.mkdir(parents=True)
    shutil.copy(source.path, target)
    assert _kind(target) == "agent"
    assert build_agent().path == target  # the name build_agent looks for


def _fill(cache: Path) -> dict[str, Path]:
    from harness.scenario.runner import lab_identifiers

    lab_identifiers()
    files = {
        "agent": cache / "agent-0123456789abcdef0123456789abcdef.js",
        "hyperscan": cache / "hyperscan" / ("ab" * 32 + ".hsdb"),
        "parsed": cache / "trackerdb.marshal",
        "lab-browser": cache / "lab-browser-0123456789abcdef" / "LabBrowser.class",
        "old-tmp": cache / ".publicsuffixlist.marshal.abcd.tmp",
        "young-tmp": cache / "hyperscan" / ".cd.hsdb.efgh.tmp",
        "frida-server": cache / "frida-server" / "frida-server-17.2.0-android-arm64",
        "other": cache / "notes.txt",
        "lab-device": cache / "lab-device.json",
    }
    for name, p in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists():
            p.write_bytes(name.encode() * 100)
    old = time.time() - 2 * HOUR
    os.utime(files["old-tmp"], (old, old))
    return files


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["cache", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def _files(out: dict[str, object]) -> dict[str, int]:
    kinds = out["kinds"]
    assert isinstance(kinds, list)
    return {k["name"]: k["files"] for k in kinds}


def test_listing(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(cache)
    code, out = _json(capsys)
    assert code == ExitCode.OK
    assert out["path"] == str(cache)
    assert _files(out) == {"tmp": 2, "agent": 1, "lab-browser": 1, "hyperscan": 1, "parsed": 1,
                           "lab-device": 1, "frida-server": 1}
    assert out["other"] == [{"path": str(cache / "notes.txt"), "bytes": 500}]
    assert main(["cache"]) == ExitCode.OK
    text = capsys.readouterr().out
    assert f"cache: {cache}\n" in text
    assert "lab-device        1" in text
    assert "[kept by --clear]" in text
    assert "other             1      500 B" in text
    assert str(cache / "notes.txt") in text


def test_clear_takes_what_is_rebuilt_and_keeps_the_rest(
        cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _fill(cache)
    code, out = _json(capsys, "--clear")
    assert code == ExitCode.OK
    gone = {n for n, p in files.items() if not p.exists()}
    assert gone == {"agent", "hyperscan", "parsed", "lab-browser", "old-tmp"}
    assert not (cache / "lab-browser-0123456789abcdef").exists()  # the directory, whole
    cleared = out["cleared"]
    assert isinstance(cleared, dict)
    assert cleared["kept"] == [str(files["young-tmp"])]
    assert cleared["failed"] == []
    assert len(cleared["removed"]) == 5
    # the listing is what is left
    assert _files(out) == {"tmp": 1, "agent": 0, "lab-browser": 0, "hyperscan": 0, "parsed": 0,
                           "lab-device": 1, "frida-server": 1}
    assert main(["cache", "--clear"]) == ExitCode.OK
    text = capsys.readouterr().out
    assert text.startswith("cleared tmp, agent, lab-browser, hyperscan, parsed: 0 removed")
    assert "kept 1 temporary file(s) younger than an hour" in text


def test_clear_by_name(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.scenario.runner import lab_identifiers

    files = _fill(cache)
    before = {i.name: i.value for i in lab_identifiers()}
    code, _ = _json(capsys, "--clear", "lab-device", "frida-server", "lab-device")
    assert code == ExitCode.OK
    assert {n for n, p in files.items() if not p.exists()} == {"lab-device", "frida-server"}
    after = {i.name: i.value for i in lab_identifiers()}
    assert after.keys() == before.keys()
    assert after["imei"] != before["imei"]


def test_unknown_kind_removes_nothing(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _fill(cache)
    assert main(["cache", "--clear", "agent", "bundles"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "unknown kind 'bundles'" in err
    assert "frida-server" in err
    assert all(p.exists() for p in files.values())


def test_no_directory(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache"]) == ExitCode.OK
    assert f"cache: {cache} (does not exist)" in capsys.readouterr().out
    code, out = _json(capsys, "--clear")
    assert code == ExitCode.OK
    assert not cache.exists()
    assert isinstance(out["cleared"], dict)
    assert out["cleared"]["removed"] == []


def test_frida_servers_elsewhere(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "servers"
    monkeypatch.setenv("EGRESS_HARNESS_CACHE", str(elsewhere))
    assert cachedir.frida_server_dir() == elsewhere / "frida-server"
    (elsewhere / "frida-server").mkdir(parents=True)
    (elsewhere / "frida-server" / "frida-server-17.2.0-android-x86_64").write_bytes(b"x")
    _fill(cache)
    code, out = _json(capsys)
    assert code == ExitCode.OK
    assert _files(out)["frida-server"] == 1
    # the one under the cache directory is not where provision looks: not the harness's
    assert {"path": str(cache / "frida-server" / "frida-server-17.2.0-android-arm64"),
            "bytes": 1200} in out["other"]  # type: ignore[operator]


def test_what_cannot_be_removed_fails_loudly(cache: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    files = _fill(cache)
    stuck = files["agent"]
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is refused here (not root, or a file system without it)")
    try:
        code, out = _json(capsys, "--clear")
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert code == ExitCode.ENVIRONMENT
    cleared = out["cleared"]
    assert isinstance(cleared, dict)
    assert cleared["failed"] == [{"path": str(stuck), "reason": "Operation not permitted"}]
    assert not files["hyperscan"].exists()  # the rest is cleared all the same
