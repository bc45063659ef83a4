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

import uiautomator2
from uiautomator2 import exceptions as u2_errors

from harness.device.android_adb import ADB_FAILURES, AdbSession
from harness.device.android_profile import Selector
from harness.errors import InputError

U2_FAILURES = (u2_errors.BaseException, *ADB_FAILURES, http.client.HTTPException,
               ValueError, TypeError, KeyError, AttributeError)
"""What a uiautomator2 call can raise: its own errors, adb's (the wire's, android_adb), and
the HTTP link's; and, on a
reply from its agent that it does not expect (not JSON, an ``error`` that is not a mapping, a
``null`` where it reads a dict), whatever its parsing of that reply trips over."""

DIRECTIONS = ("up", "down", "left", "right")

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
                raise self.session.error(f"uiautomator2 agent did not start: {_why(exc)}",
                                         fix="unlock the screen; on MIUI enable 'USB debugging "
                                             "(Security settings)'") from exc
        return self._device

    def exists(self, selector: Selector) -> bool:
        try:
            found = self._d()(**selector.to_u2()).exists()
        except U2_FAILURES as exc:
            raise self.session.error(f"looking for [{selector}] failed: {_why(exc)}") from exc
        return self._bool(found, f"looking for [{selector}]")

    def wait(self, selector: Selector, timeout: float, *, gone: bool = False) -> bool:
        try:
            found = self._d()(**selector.to_u2()).wait(exists=not gone, timeout=timeout)
        except U2_FAILURES as exc:
            raise self.session.error(f"waiting for [{selector}] failed: {_why(exc)}") from exc
        return self._bool(found, f"waiting for [{selector}]")

    def _bool(self, value: object, what: str) -> bool:
        if not isinstance(value, bool):
            raise self.session.error(f"{what}: the uiautomator2 agent answered "
                                     f"{_short(value)} instead of true or false")
        return value

    def tap(self, selector: Selector, timeout: float) -> None:
        try:
            self._d()(**selector.to_u2()).click(timeout=timeout)
        except u2_errors.UiObjectNotFoundError as exc:
            raise self.session.error(f"no [{selector}] on screen within {timeout:g} s") from exc
        except U2_FAILURES as exc:
            raise self.session.error(f"tap on [{selector}] failed: {_why(exc)}") from exc

    def type_text(self, selector: Selector, text: str, timeout: float) -> None:
        try:
            self._d()(**selector.to_u2()).set_text(text, timeout=timeout)
        except u2_errors.UiObjectNotFoundError as exc:
            raise self.session.error(f"no [{selector}] on screen within {timeout:g} s") from exc
        except U2_FAILURES as exc:
            raise self.session.error(f"typing into [{selector}] failed: {_why(exc)}") from exc

    def swipe(self, direction: str) -> None:
        size = self.session.shell(["wm", "size"], check=True).stdout
        m = re.findall(r"(\d+)x(\d+)", size)
        if not m:
            raise self.session.error(f"cannot read the screen size from `wm size`: {size!r}")
        w, h = (int(v) for v in m[-1])
        cx, cy = w // 2, h // 2
        moves = {"up": (0, -h // 3), "down": (0, h // 3), "left": (-w // 3, 0),
                 "right": (w // 3, 0)}
        if direction not in moves:
            raise InputError(f"swipe takes {', '.join(DIRECTIONS)}, not {_short(direction)}",
                             field="swipe")
        dx, dy = moves[direction]
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



def _why(exc: BaseException) -> str:
    """An error of a uiautomator2 call as one line: its own text, or, for what its parsing
    of an odd agent reply raised, what that was."""
    if isinstance(exc, ValueError | TypeError | KeyError | AttributeError) and not isinstance(
            exc, u2_errors.BaseException):
        return f"the uiautomator2 agent's reply was not understood ({type(exc).__name__}: {exc})"
    return str(exc)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
