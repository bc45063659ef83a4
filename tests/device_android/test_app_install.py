"""Installing an app build on the phone (`pm install` of a pushed APK), against the fake."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from harness.cli import main
from harness.device.android_adb import AdbSession
from harness.device.android_app import AppControl
from harness.errors import DeviceError
from harness.testing import fake_phones as fp
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakePhone


def apk(tmp_path: Path, content: bytes, ginkgo: FakePhone | None = None) -> Path:
    path = tmp_path / "chrome-120.apk"
    path.write_bytes(content)
    if ginkgo is not None:
        chrome = fp.pixel6_android14().apps["com.android.chrome"]
        ginkgo.apks[hashlib.sha256(content).hexdigest()] = chrome
    return path


def test_install_pushes_installs_and_cleans_up(ginkgo_session: AdbSession, ginkgo: FakePhone,
                                               tmp_path: Path) -> None:
    control = AppControl(ginkgo_session, "com.android.chrome")
    with pytest.raises(DeviceError, match=r"com\.android\.chrome is not installed"):
        control.info()
    info = control.install(apk(tmp_path, b"PK\x03\x04 chrome", ginkgo))
    assert (info.uid, info.version_name) == (fp.CHROME_UID, "120.0.6099.45")
    (command,) = [c for c in ginkgo.commands if c.startswith("pm install")]
    assert command.startswith("pm install -r -g /data/local/tmp/egress-harness-")
    assert not any(p.endswith(".apk") for p in ginkgo.files)


def test_a_refused_apk_is_one_line_naming_the_serial(ginkgo_session: AdbSession,
                                                     ginkgo: FakePhone, tmp_path: Path) -> None:
    bad = apk(tmp_path, b"not an apk")
    with pytest.raises(DeviceError) as err:
        AppControl(ginkgo_session, "com.android.chrome").install(bad)
    assert str(err.value).startswith(f"device {ginkgo.serial}: installing chrome-120.apk failed:"
                                     " Failure [INSTALL_PARSE_FAILED_NOT_APK")
    assert err.value.exit_code == 4
    assert not any(p.endswith(".apk") for p in ginkgo.files)


def test_harness_run_install_refuses_before_the_journey(adb: FakeAdbServer, ginkgo: FakePhone,
                                                        tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    bad = apk(tmp_path, b"not an apk")
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "browsing.yaml"
    assert main(["run", str(scenario), "--device", ginkgo.serial, "--app", "com.android.chrome",
                 "--adb", adb.address, "--install", str(bad), "--out",
                 str(tmp_path / "runs")]) == 4
    assert "installing chrome-120.apk failed" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
