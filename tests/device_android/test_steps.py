"""Profile steps turned into adb commands and uiautomator2 calls, at the wire."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.device.android_adb import AdbSession
from harness.device.android_app import AppControl, belongs_to, parse_package_dump
from harness.device.android_profile import find_profile, load_profile
from harness.device.android_steps import AndroidApp
from harness.errors import DeviceError, InputError
from harness.testing import fake_phones as fp
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakePhone
from harness.testing.fake_uiautomator import FakeUiAutomator, UiNode
from harness.testing.transcripts import transcript

URL_BAR = "com.android.chrome:id/url_bar"


@pytest.fixture
def chrome_ui(pixel: FakePhone) -> FakeUiAutomator:
    return FakeUiAutomator(pixel, [
        UiNode(resource_id=URL_BAR, bounds=(100, 80, 900, 160)),
        UiNode(resource_id="com.android.chrome:id/menu_button", bounds=(980, 80, 1060, 160)),
        UiNode(text="New Incognito tab", bounds=(500, 300, 1000, 380)),
        UiNode(text="You’ve gone Incognito", bounds=(0, 600, 1080, 700)),
    ])


@pytest.fixture
def chrome(pixel_session: AdbSession, tmp_path: Path,
           chrome_ui: FakeUiAutomator) -> Iterator[AndroidApp]:
    app = AndroidApp(pixel_session, "com.android.chrome", load_profile(find_profile("chrome")),
                     evidence_dir=tmp_path / "evidence")
    yield app
    app.close()


def test_package_dump_of_android_10_and_14() -> None:
    mint = parse_package_dump(transcript("dumpsys_package_mint.txt"), "com.mi.globalbrowser.mini")
    assert mint is not None
    assert (mint.uid, mint.version_name, mint.version_code) == (fp.MINT_UID, "3.4.0", 340000)
    assert mint.first_install == "2020-04-21 10:12:46"
    chrome = parse_package_dump(transcript("dumpsys_package_chrome.txt"), "com.android.chrome")
    assert chrome is not None
    assert (chrome.uid, chrome.version_name) == (fp.CHROME_UID, "120.0.6099.45")
    assert parse_package_dump(transcript("dumpsys_package_chrome.txt"), "org.x") is None


def test_open_url_is_a_view_intent_at_chrome(chrome: AndroidApp, pixel: FakePhone,
                                             chrome_ui: FakeUiAutomator) -> None:
    result = chrome.perform("open_url", {"url": "https://canary.example/abc"})
    assert ("am start -W -a android.intent.action.VIEW -d https://canary.example/abc "
            "-n com.android.chrome/com.google.android.apps.chrome.Main") in pixel.commands
    assert result.done[1] == f"wait [resource_id='{URL_BAR}']"
    assert ("waitForExists", [{"mask": 2097152, "childOrSibling": [], "childOrSiblingSelector": [],
                               "resourceId": URL_BAR}, 20000]) in chrome_ui.calls


def test_search_taps_types_and_presses_enter(chrome: AndroidApp, pixel: FakePhone,
                                             chrome_ui: FakeUiAutomator) -> None:
    chrome.perform("search", {"query": "canary words 7f3a"})
    assert chrome_ui.clicks == [(500, 120)]
    assert chrome_ui.typed == [(URL_BAR, "canary words 7f3a")]
    assert pixel.commands[-1] == "input keyevent KEYCODE_ENTER"


def test_toggle_incognito_on(chrome: AndroidApp, chrome_ui: FakeUiAutomator) -> None:
    result = chrome.perform("incognito", {"state": True})
    assert result.variant == "on"
    assert chrome_ui.clicks == [(1020, 120), (750, 340)]


def test_failed_step_keeps_screenshot_and_logcat(chrome: AndroidApp, tmp_path: Path,
                                                 chrome_ui: FakeUiAutomator) -> None:
    chrome_ui.nodes = [n for n in chrome_ui.nodes if "gone Incognito" not in n.text]
    with pytest.raises(DeviceError) as err:
        chrome.perform("incognito", {"state": "on"})
    text = str(err.value)
    assert text.startswith("device 1A2B3C4D5E6F7G: step incognito:on failed: expected screen "
                           "not reached")
    saved = sorted(p.suffix for p in (tmp_path / "evidence").iterdir())
    assert saved == [".png", ".txt"]
    png = next((tmp_path / "evidence").glob("*.png")).read_bytes()
    assert png.startswith(b"\x89PNG")


def test_missing_argument_and_unknown_step_are_input_errors(chrome: AndroidApp) -> None:
    with pytest.raises(InputError, match="step 'open_url' needs argument 'url'"):
        chrome.perform("open_url", {})
    with pytest.raises(InputError, match="step 'fly' is not defined"):
        chrome.perform("fly")


def test_generic_steps_without_a_profile(ginkgo_session: AdbSession, ginkgo: FakePhone) -> None:
    app = AndroidApp(ginkgo_session, "com.mi.globalbrowser.mini")
    for step in ("clear_data", "launch", "background", "kill", "restart"):
        app.perform(step)
    cmds = ginkgo.commands
    assert "pm clear com.mi.globalbrowser.mini" in cmds
    assert "monkey -p com.mi.globalbrowser.mini -c android.intent.category.LAUNCHER 1" in cmds
    assert "input keyevent KEYCODE_HOME" in cmds
    assert cmds.count("am force-stop com.mi.globalbrowser.mini") == 2
    app.perform("open_url", {"url": "http://127.0.0.1:8080/c"})
    assert cmds[-1] == ("am start -W -a android.intent.action.VIEW -d http://127.0.0.1:8080/c "
                        "-p com.mi.globalbrowser.mini")


def test_app_not_installed_is_one_line(pixel_session: AdbSession) -> None:
    with pytest.raises(DeviceError) as err:
        AppControl(pixel_session, "com.mi.globalbrowser.mini").info()
    assert str(err.value).startswith(
        "device 1A2B3C4D5E6F7G: app com.mi.globalbrowser.mini is not installed")
    with pytest.raises(DeviceError, match="could not launch"):
        AppControl(pixel_session, "com.mi.globalbrowser.mini").launch()


def test_reverse_for_the_canary_site(ginkgo_session: AdbSession, adb: FakeAdbServer) -> None:
    control = AppControl(ginkgo_session, "com.mi.globalbrowser.mini")
    with control.reversed_port(8080, 43111):
        assert [(r.remote, r.local) for r in adb.reverses] == [("tcp:8080", "tcp:43111")]
    assert adb.reverses == []


def test_processes_of_the_app_are_followed() -> None:
    pkg = "com.android.chrome"
    assert belongs_to(pkg, pkg)
    assert belongs_to(f"{pkg}:sandboxed_process0:org.chromium.content.app."
                      "SandboxedProcessService0:0", pkg)
    assert belongs_to(f"{pkg}:privileged_process0", pkg)
    assert not belongs_to("com.android.chromex", pkg)
    assert not belongs_to("com.google.android.webview:sandboxed_process0", pkg)


def test_profile_check_walks_selectors(adb: FakeAdbServer, pixel: FakePhone,
                                       chrome_ui: FakeUiAutomator,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb.port))
    assert main(["profile", "check", "--device", pixel.serial, "chrome"]) == 0
    out = capsys.readouterr().out
    assert f"found    open_url                 [resource_id='{URL_BAR}']" in out
    assert "MISSING  sign_in" in out
    assert "needs argument  sign_in" in out
    assert out.rstrip().endswith("selectors on the current screen")
    assert not any(m in ("click", "setText") for m, _ in chrome_ui.calls)  # looked, never touched
    assert "CLASSPATH=/data/local/tmp/u2.jar app_process / com.wetest.uia2.Main -p 9008" in \
        pixel.commands


def test_profile_check_app_not_installed_exits_4(adb: FakeAdbServer, ginkgo: FakePhone,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb.port))
    assert main(["profile", "check", "--device", ginkgo.serial, "chrome"]) == 4
    err = capsys.readouterr().err.strip()
    assert err == ("harness profile: device a1b2c3d4: app com.android.chrome is not installed "
                   "(fix: install it (`adb -s a1b2c3d4 install APK`) or check the package name "
                   "with `adb shell pm list packages`)")


def test_profile_check_one_step(adb: FakeAdbServer, pixel: FakePhone,
                                chrome_ui: FakeUiAutomator, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb.port))
    assert main(["profile", "check", "--device", pixel.serial, "--step", "incognito",
                 "--json", "chrome"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(rows) == 5
    assert all('"step": "incognito:' in r for r in rows)
    assert main(["profile", "check", "--device", pixel.serial, "--step", "fly", "chrome"]) == 2


def test_updated_system_app_reports_the_running_version_not_the_factory_one() -> None:
    info = parse_package_dump(transcript("dumpsys_package_chrome_updated_system.txt"),
                              "com.android.chrome")
    assert info is not None
    assert (info.uid, info.version_name, info.version_code) == (10123, "120.0.6099.230",
                                                                609923033)


def test_scenario_steps_as_harness_scenario_gives_them(chrome: AndroidApp, pixel: FakePhone,
                                                       chrome_ui: FakeUiAutomator) -> None:
    """(action, value) pairs in the shapes of harness.scenario.model.Step."""
    from harness.scenario.model import STEPS

    assert set(STEPS) <= chrome.actions()
    chrome.perform_step("open_url", "http://127.0.0.1:8080/c")
    chrome.perform_step("incognito", True)
    chrome.perform_step("type", {"resource_id": URL_BAR, "input": "canary words"})
    chrome.perform_step("tap", {"text": "New Incognito tab"})
    chrome.perform_step("swipe", {"input": "down"})
    chrome.perform_step("download", "http://127.0.0.1:8080/file.bin")
    chrome.perform_step("idle", 0)
    chrome.perform_step("crash", None)
    assert chrome_ui.typed == [(URL_BAR, "canary words")]
    assert chrome_ui.clicks[-1] == (750, 340)
    assert "input swipe 540 390 540 1950 300" in pixel.commands
    assert pixel.commands[-1] == "am crash com.android.chrome"
    assert any(c.endswith("-d http://127.0.0.1:8080/file.bin -p com.android.chrome")
               for c in pixel.commands)
    with pytest.raises(InputError, match="step 'teleport' is not defined"):
        chrome.perform_step("teleport", None)
