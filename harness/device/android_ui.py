"""Driving an app's UI: a small interface, and its implementation with uiautomator2.

Steps that have no intent or deep link are done with selectors (resource id, text,
description). :class:`UiDriver` is all the steps need; :class:`U2Driver` implements it with
``uiautomator2``, which starts its device agent (``u2.jar`` under ``app_process``) over adb and
talks JSON-RPC to it through adb's ``tcp:9008`` stream. Swipes use ``input swipe`` directly.
"""

from __future__ import annotations

import http.client
import logging
import re
from typing import Protocol

import adbutils
import uiautomator2
from uiautomator2 import exceptions as u2_errors

from harness.device.android_adb import AdbSession
from harness.device.android_profile import Selector

U2_FAILURES = (u2_errors.BaseException, adbutils.AdbError, http.client.HTTPException, OSError)
"""What a uiautomator2 call can raise: its own errors, adb's, and the HTTP link's."""

log = logging.getLogger(__name__)


class UiDriver(Protocol):
    def exists(self, selector: Selector) -> bool: ...

    def wait(self, selector: Selector, timeout: float, *, gone: bool = False) -> bool: ...

    def tap(self, selector: Selector, timeout: float) -> None: ...

    def type_text(self, selector: Selector, text: str, timeout: float) -> None: ...

    def swipe(self, direction: str) -> None: ...

    def close(self) -> None: ...


class U2Driver:
    """UI control through uiautomator2 (its agent is started on first use)."""

    def __init__(self, session: AdbSession) -> None:
        self.session = session
        self._device: uiautomator2.Device | None = None

    def _d(self) -> uiautomator2.Device:
        if self._device is None:
            try:
                self._device = uiautomator2.Device(self.session.device)
            except U2_FAILURES as exc:
                raise self.session.error(f"uiautomator2 agent did not start: {exc}",
                                         fix="unlock the screen; on MIUI enable 'USB debugging "
                                             "(Security settings)'") from exc
        return self._device

    def exists(self, selector: Selector) -> bool:
        try:
            return bool(self._d()(**selector.to_u2()).exists)
        except U2_FAILURES as exc:
            raise self.session.error(f"looking for [{selector}] failed: {exc}") from exc

    def wait(self, selector: Selector, timeout: float, *, gone: bool = False) -> bool:
        try:
            return bool(self._d()(**selector.to_u2()).wait(exists=not gone, timeout=timeout))
        except U2_FAILURES as exc:
            raise self.session.error(f"waiting for [{selector}] failed: {exc}") from exc

    def tap(self, selector: Selector, timeout: float) -> None:
        try:
            self._d()(**selector.to_u2()).click(timeout=timeout)
        except u2_errors.UiObjectNotFoundError as exc:
            raise self.session.error(f"no [{selector}] on screen within {timeout:g} s") from exc
        except U2_FAILURES as exc:
            raise self.session.error(f"tap on [{selector}] failed: {exc}") from exc

    def type_text(self, selector: Selector, text: str, timeout: float) -> None:
        try:
            self._d()(**selector.to_u2()).set_text(text, timeout=timeout)
        except u2_errors.UiObjectNotFoundError as exc:
            raise self.session.error(f"no [{selector}] on screen within {timeout:g} s") from exc
        except U2_FAILURES as exc:
            raise self.session.error(f"typing into [{selector}] failed: {exc}") from exc

    def swipe(self, direction: str) -> None:
        size = self.session.shell(["wm", "size"], check=True).stdout
        m = re.findall(r"(\d+)x(\d+)", size)
        if not m:
            raise self.session.error(f"cannot read the screen size from `wm size`: {size!r}")
        w, h = (int(v) for v in m[-1])
        cx, cy = w // 2, h // 2
        dx, dy = {"up": (0, -h // 3), "down": (0, h // 3), "left": (-w // 3, 0),
                  "right": (w // 3, 0)}[direction]
        # A finger moving up scrolls the content up: start low, end high.
        self.session.shell(["input", "swipe", str(cx - dx), str(cy - dy), str(cx + dx),
                            str(cy + dy), "300"], check=True)

    def close(self) -> None:
        if self._device is not None:
            try:
                self._device.stop_uiautomator(wait=False)
            except U2_FAILURES as exc:
                log.warning("%s: stopping the uiautomator2 agent: %s", self.session.serial, exc)
            self._device = None

