"""One Android app on one device: installed version, data, process control, ports, evidence.

Everything here is plain adb (``pm``, ``am``, ``input``, ``screencap``, ``logcat``, ``adb
reverse``). Spawning under Frida so the agent is in before the app's first line of code lives in
:class:`SpawnGate`: the app is spawned suspended, and with spawn gating on every later process
of the app (``:remote`` services, Chromium's sandboxed and privileged renderers, which Android
starts from the zygote with the package name as prefix) is handed to the caller's ``attach``
before it resumes.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import frida

from harness.device.android_adb import AdbSession
from harness.device.android_netstats import app_uid
from harness.errors import DeviceError, HarnessError, InputError
from harness.text import is_digits

log = logging.getLogger(__name__)

KEYCODES = {"home": "KEYCODE_HOME", "back": "KEYCODE_BACK", "enter": "KEYCODE_ENTER",
            "menu": "KEYCODE_MENU", "app_switch": "KEYCODE_APP_SWITCH",
            "search": "KEYCODE_SEARCH"}


@dataclass(frozen=True, slots=True)
class AppInfo:
    package: str
    uid: int
    version_name: str | None
    version_code: int | None
    first_install: str | None
    last_update: str | None


def parse_package_dump(text: str, package: str) -> AppInfo | None:
    """The app's section of ``dumpsys package PKG``, or None when it is not installed."""
    parts = text.split(f"Package [{package}]", 1)
    if len(parts) != 2:
        return None
    section = parts[1].split("\n  Package [", 1)[0]

    def field(name: str) -> str | None:
        m = re.search(rf"\b{name}=(\S+(?: \d\d:\d\d:\d\d)?)", section)
        return m.group(1) if m else None

    uid = re.search(r"\b(?:userId|appId)=([0-9]+)\b", section)
    code = field("versionCode")
    if uid is None:
        return None
    return AppInfo(package, int(uid.group(1)), field("versionName"),
                   int(code) if code and is_digits(code) else None,
                   field("firstInstallTime"), field("lastUpdateTime"))


class AppControl:
    """Control of one installed package."""

    def __init__(self, session: AdbSession, package: str) -> None:
        self.session = session
        self.package = package
        self._info: AppInfo | None = None

    def info(self) -> AppInfo:
        if self._info is None:
            text = self.session.shell(["dumpsys", "package", self.package]).stdout
            info = parse_package_dump(text, self.package)
            if info is None:
                app_uid(self.session, self.package)  # raises the one-line "not installed"
                raise self.session.error(f"app {self.package} is not installed")
            self._info = info
        return self._info

    def install(self, apk: Path) -> AppInfo:
        """Install (or update, keeping data) ``apk`` and return what is then installed.

        The APK is pushed to /data/local/tmp and installed with ``pm install -r -g`` (runtime
        permissions granted, so no permission dialog stands in a journey's way), then removed.
        """
        try:
            data = apk.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the APK: {exc.strerror or exc}", path=str(apk)) from exc
        remote = f"/data/local/tmp/egress-harness-{int(time.time())}.apk"
        self.session.push(data, remote, mode=0o644)
        try:
            res = self.session.shell(["pm", "install", "-r", "-g", remote])
        finally:
            self.session.shell(["rm", "-f", remote])
        if not res.ok or "Success" not in res.stdout:
            why = (res.stdout + res.stderr).strip().splitlines()
            raise self.session.error(f"installing {apk.name} failed: "
                                     f"{why[-1] if why else f'exit {res.exit_code}'}",
                                     result=res, fix="check the APK is for this device's ABI "
                                     "and Android release, and signed like the installed one")
        self._info = None
        return self.info()

    def clear_data(self) -> None:
        self.session.shell(["pm", "clear", self.package], check=True)

    def force_stop(self) -> None:
        self.session.shell(["am", "force-stop", self.package], check=True)

    def launch(self, activity: str | None = None) -> None:
        if activity:
            component = activity if "/" in activity else f"{self.package}/{activity}"
            self.start_intent(component=component)
            return
        res = self.session.shell(["monkey", "-p", self.package, "-c",
                                  "android.intent.category.LAUNCHER", "1"])
        if not res.ok or "No activities found" in res.stdout:
            raise self.session.error(f"could not launch {self.package}: "
                                     f"{(res.stdout + res.stderr).strip().splitlines()[-1:]}",
                                     result=res)

    def start_intent(self, *, action: str | None = None, data: str | None = None,
                     component: str | None = None, extras: dict[str, str] | None = None,
                     categories: tuple[str, ...] = ()) -> list[str]:
        """``am start`` with the given parts, aimed at this package; returns the argv sent."""
        argv = ["am", "start", "-W"]
        if action:
            argv += ["-a", action]
        if data:
            argv += ["-d", data]
        for cat in categories:
            argv += ["-c", cat]
        for key, value in (extras or {}).items():
            argv += ["--es", key, value]
        argv += ["-n", component] if component else ["-p", self.package]
        res = self.session.shell(argv, check=True)
        if "Error:" in res.stdout:
            raise self.session.error(f"`am start` refused: {res.stdout.strip()}", result=res)
        return argv

    def open_url(self, url: str) -> list[str]:
        return self.start_intent(action="android.intent.action.VIEW", data=url)

    def key(self, name: str) -> None:
        code = KEYCODES.get(name, name if name.startswith("KEYCODE_") else None)
        if code is None:
            raise self.session.error(f"unknown key {name!r} (known: {', '.join(KEYCODES)})")
        self.session.shell(["input", "keyevent", code], check=True)

    def background(self) -> None:
        self.key("home")

    def foreground(self) -> None:
        self.launch()

    def restart(self) -> None:
        self.force_stop()
        self.launch()

    @contextmanager
    def reversed_port(self, device_port: int, host_port: int) -> Iterator[None]:
        """``adb reverse``: the app reaches the host's canary site at 127.0.0.1:device_port."""
        self.session.reverse(device_port, host_port)
        try:
            yield
        finally:
            try:
                self.session.reverse_remove(device_port)
            except DeviceError as exc:
                log.warning("%s", exc)

    def keep_evidence(self, directory: Path, label: str) -> list[Path]:
        """Screenshot and recent logcat of a failed step, saved under ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)
        saved = []
        try:
            png = self.session.shell_bytes(["screencap", "-p"])
            (directory / f"{safe}.png").write_bytes(png)
            saved.append(directory / f"{safe}.png")
            log_text = self.session.shell(["logcat", "-d", "-t", "2000"]).stdout
            (directory / f"{safe}.logcat.txt").write_text(log_text, encoding="utf-8")
            saved.append(directory / f"{safe}.logcat.txt")
        except DeviceError as exc:
            log.warning("%s: keeping evidence for %s: %s", self.session.serial, label, exc)
        return saved


def belongs_to(identifier: str, package: str) -> bool:
    """Whether a spawned process is one of the app's (``PKG``, ``PKG:remote``, renderers)."""
    return identifier == package or identifier.startswith(package + ":")


def app_processes(session: AdbSession, package: str) -> list[tuple[int, str]]:
    """(pid, process name) of every running process of the app, from toybox ``ps``."""
    res = session.shell(["ps", "-A", "-o", "PID,NAME"], check=True)
    found = []
    for line in res.stdout.splitlines()[1:]:
        fields = line.split(None, 1)
        if len(fields) == 2 and is_digits(fields[0]) and belongs_to(fields[1].strip(), package):
            found.append((int(fields[0]), fields[1].strip()))
    return found


Attach = Callable[[int, str], None]
"""Load the agent into a suspended process (pid, identifier); resuming is the gate's job."""


class SpawnGate:
    """Spawn an app suspended under Frida and follow every process it starts.

    Frida calls ``spawn-added`` on its own thread, where blocking calls are not allowed, so
    spawns are queued and handled by one worker thread.
    """

    def __init__(self, device: frida.Device, package: str, attach: Attach,
                 serial: str = "(device)") -> None:
        self.device = device
        self.serial = serial
        self.package = package
        self.attach = attach
        self.followed: list[tuple[int, str]] = []
        self._pending: queue.Queue[frida._frida.Spawn | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="spawn-gate", daemon=True)

    def start(self) -> int:
        # Frida checks a callback's arity against the signal's: one argument, the Spawn.
        self.device.on("spawn-added", self._on_spawn)
        self._worker.start()
        try:
            self.device.enable_spawn_gating()
            pid = self.device.spawn(self.package)
            self.attach(pid, self.package)
            self.followed.append((pid, self.package))
            self.device.resume(pid)
        except (frida.NotSupportedError, frida.InvalidOperationError, frida.ExecutableNotFoundError,
                frida.TransportError) as exc:
            self.stop()
            raise DeviceError(self.serial, f"Frida cannot spawn {self.package}: {exc}") from exc
        except BaseException:
            self.stop()
            raise
        return pid

    def _on_spawn(self, spawn: frida._frida.Spawn) -> None:
        self._pending.put(spawn)

    def _work(self) -> None:
        while True:
            spawn = self._pending.get()
            if spawn is None:
                return
            try:
                if belongs_to(spawn.identifier, self.package):
                    self.attach(spawn.pid, spawn.identifier)
                    self.followed.append((spawn.pid, spawn.identifier))
            except (frida.ProcessNotFoundError, frida.TransportError, HarnessError) as exc:
                log.warning("following %s (%d): %s", spawn.identifier, spawn.pid, exc)
            finally:
                try:
                    self.device.resume(spawn.pid)
                except (frida.ProcessNotFoundError, frida.InvalidArgumentError) as exc:
                    log.debug("resume %d: %s", spawn.pid, exc)

    def stop(self) -> None:
        try:
            self.device.off("spawn-added", self._on_spawn)
            self.device.disable_spawn_gating()
        except (frida.TransportError, frida.InvalidOperationError) as exc:
            log.warning("disabling spawn gating: %s", exc)
        self._pending.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout=5)
