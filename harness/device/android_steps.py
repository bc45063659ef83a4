"""Scenario steps on an Android app: :meth:`AndroidApp.perform` turns a step into adb and UI calls.

A journey says what to do (``open_url``, ``search``, ``incognito: on``, ``tap``...); the app's
profile says how in this build (:mod:`harness.device.android_profile`). Steps every app shares
(``launch``, ``clear_data``, ``kill``, ``restart``, ``background``, ``foreground``, ``open_url``,
``tap``/``type``/``swipe``/``key``, ``wait``) work without a profile entry; a profile entry of
the same name wins. A failed step keeps a screenshot and the logcat next to the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.device.android_adb import AdbSession
from harness.device.android_app import AppControl
from harness.device.android_profile import (
    SELECTOR_KEYS,
    Action,
    ActionKind,
    Profile,
    Selector,
    fill,
    placeholders,
)
from harness.device.android_ui import U2Driver, UiDriver
from harness.errors import DeviceError, InputError
from harness.protocol import JSON

log = logging.getLogger(__name__)

StepArgs = Mapping[str, str | int | float | bool]
GENERIC_STEPS = ("launch", "clear_data", "kill", "restart", "background", "foreground",
                 "open_url", "download", "tap", "type", "swipe", "key", "back", "wait", "idle",
                 "crash")
SCENARIO_TEXT_ARG = {"open_url": "url", "download": "url", "search": "query",
                     "sign_in": "account"}
"""The argument name a scenario step's text value fills (``open_url: URL`` -> ``{url}``)."""


@dataclass(frozen=True, slots=True)
class StepResult:
    step: str
    variant: str
    done: tuple[str, ...]
    """What was done, one line per action (for the run log)."""
    evidence: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class SelectorCheck:
    step: str
    selector: Selector
    found: bool | None
    """None when the selector has a ``{placeholder}`` and cannot be looked up as is."""


@dataclass
class AndroidApp:
    """An app on a device, driven by its profile."""

    session: AdbSession
    package: str
    profile: Profile | None = None
    evidence_dir: Path | None = None
    ui_factory: Callable[[AdbSession], UiDriver] = U2Driver
    _ui: UiDriver | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.control = AppControl(self.session, self.package)
        if self.profile is not None and self.profile.package != self.package:
            raise InputError(f"profile {self.profile.name} is for {self.profile.package}, "
                             f"not {self.package}", path=self.profile.path, field="package")

    @property
    def ui(self) -> UiDriver:
        if self._ui is None:
            self._ui = self.ui_factory(self.session)
        return self._ui

    def close(self) -> None:
        if self._ui is not None:
            self._ui.close()
            self._ui = None

    def __enter__(self) -> AndroidApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- steps ---------------------------------------------------------------------------

    def actions(self) -> set[str]:
        """Every step this app can do: the generic ones and its profile's."""
        return set(GENERIC_STEPS) | set(self.profile.steps if self.profile else ())

    def perform_step(self, action: str, value: JSON) -> StepResult:
        """A step as ``harness.scenario`` gives it: an action and one value (text, on/off,
        seconds, or a selector mapping with ``input`` as the text to type)."""
        args: dict[str, str | int | float | bool] = {}
        if isinstance(value, bool):
            args["state"] = value
        elif isinstance(value, str) and action in SCENARIO_TEXT_ARG:
            args[SCENARIO_TEXT_ARG[action]] = value
        elif isinstance(value, int | float) and action in ("wait", "idle"):
            args["seconds"] = value
        elif isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(item, str | int | float | bool):
                    raise InputError(f"step {action!r}: {key!r} must be a text", field=key)
                args[{"input": "text_to_type"}.get(key, key)] = item
            if action == "swipe" and "text_to_type" in args:
                args["direction"] = args.pop("text_to_type")
        elif value is not None:
            args["value"] = str(value)
        return self.perform(action, args)

    def perform(self, step: str, args: StepArgs | None = None) -> StepResult:
        """Do one scenario step; on failure keep evidence and raise one DeviceError."""
        values = {k: _text(v) for k, v in (args or {}).items()}
        variant = _variant(values)
        done: list[str] = []
        try:
            if self.profile is not None and step in self.profile.steps:
                actions = self._profile_actions(step, variant)
                for action in actions:
                    done.append(self._do(action, values, step))
            elif step in GENERIC_STEPS:
                done.append(self._generic(step, values))
            else:
                where = f"profile {self.profile.name}" if self.profile else "no profile"
                raise InputError(f"step {step!r} is not defined ({where}; generic steps: "
                                 f"{', '.join(GENERIC_STEPS)})",
                                 path=self.profile.path if self.profile else None, field=step)
        except DeviceError as exc:
            saved = self._evidence(step)
            note = f" (evidence: {', '.join(p.name for p in saved)})" if saved else ""
            raise DeviceError(self.session.serial, f"step {step}"
                              f"{':' + variant if variant else ''} failed: "
                              f"{exc.args[0].removeprefix(f'device {self.session.serial}: ')}"
                              f"{note}", command=exc.command, stdout=exc.stdout,
                              stderr=exc.stderr, fix=exc.fix) from exc
        return StepResult(step, variant, tuple(done))

    def _profile_actions(self, step: str, variant: str) -> tuple[Action, ...]:
        assert self.profile is not None
        try:
            return self.profile.steps[step].actions(variant)
        except KeyError as exc:
            raise InputError(str(exc.args[0]), path=self.profile.path, field=step) from exc

    def _do(self, action: Action, args: dict[str, str], step: str) -> str:
        try:
            return self._do_action(action, args)
        except KeyError as exc:
            raise InputError(f"step {step!r} needs argument {exc.args[0]!r} (profile line "
                             f"{action.line})", path=self.profile.path if self.profile else None,
                             line=action.line) from exc

    def _do_action(self, a: Action, args: dict[str, str]) -> str:
        sel = a.selector.fill(args) if a.selector else None
        if a.kind is ActionKind.INTENT and a.intent is not None:
            it = a.intent
            argv = self.control.start_intent(
                action=fill(it.action, args) if it.action else None,
                data=fill(it.data, args) if it.data else None,
                component=fill(it.component, args) if it.component else None,
                extras={k: fill(v, args) for k, v in it.extras}, categories=it.categories)
            return " ".join(argv)
        if a.kind is ActionKind.DEEPLINK and a.value is not None:
            return " ".join(self.control.open_url(fill(a.value, args)))
        if a.kind is ActionKind.KEY and a.value is not None:
            self.control.key(a.value)
            return f"key {a.value}"
        if a.kind is ActionKind.SWIPE and a.value is not None:
            self.ui.swipe(a.value)
            return f"swipe {a.value}"
        if a.kind is ActionKind.SLEEP:
            time.sleep(a.seconds)
            return f"sleep {a.seconds:g}"
        if a.kind is ActionKind.LAUNCH:
            self.control.launch(self.profile.launch_activity if self.profile else None)
            return "launch"
        if sel is None:
            raise InputError(f"{a.kind} needs a selector")
        if a.kind is ActionKind.TAP:
            self.ui.tap(sel, a.timeout)
            return f"tap [{sel}]"
        if a.kind is ActionKind.TYPE and a.value is not None:
            self.ui.type_text(sel, fill(a.value, args), a.timeout)
            return f"type into [{sel}]"
        if a.kind is ActionKind.WAIT:
            if not self.ui.wait(sel, a.timeout, gone=a.gone):
                raise self.session.error(f"expected screen not reached: [{sel}] "
                                         f"{'still there' if a.gone else 'not seen'} after "
                                         f"{a.timeout:g} s")
            return f"wait [{sel}]"
        raise InputError(f"action {a.kind} is incomplete (line {a.line})")

    def _generic(self, step: str, args: dict[str, str]) -> str:
        c = self.control
        if step in ("launch", "foreground"):
            c.launch(self.profile.launch_activity if self.profile else None)
        elif step == "clear_data":
            c.clear_data()
        elif step == "kill":
            c.force_stop()
        elif step == "restart":
            c.force_stop()
            c.launch(self.profile.launch_activity if self.profile else None)
        elif step == "background":
            c.background()
        elif step in ("wait", "idle") and "seconds" in args:
            time.sleep(min(float(args["seconds"]), 3600.0))
            return f"{step} {args['seconds']} s"
        elif step == "download":
            return " ".join(c.open_url(_need(args, "url", step)))
        elif step == "crash":
            # `am crash` (Android 10+) makes the app crash as a real crash would.
            self.session.shell(["am", "crash", self.package], check=True)
        elif step == "back":
            c.key("back")
        elif step == "open_url":
            return " ".join(c.open_url(_need(args, "url", step)))
        elif step == "key":
            c.key(_need(args, "key", step))
        elif step == "swipe":
            self.ui.swipe(args.get("direction", "up"))
        elif step in ("tap", "type", "wait"):
            sel = Selector(**{k: v for k, v in args.items() if k in SELECTOR_KEYS})
            if not sel.fields():
                raise InputError(f"step {step!r} needs a selector argument "
                                 f"({', '.join(SELECTOR_KEYS)})", field=step)
            timeout = float(args.get("timeout", 10))
            if step == "tap":
                self.ui.tap(sel, timeout)
            elif step == "type":
                self.ui.type_text(sel, _need(args, "text_to_type", step), timeout)
            elif not self.ui.wait(sel, timeout):
                raise self.session.error(f"[{sel}] not seen after {timeout:g} s")
        return step

    def _evidence(self, step: str) -> list[Path]:
        if self.evidence_dir is None:
            return []
        return self.control.keep_evidence(self.evidence_dir, f"{int(time.time())}-{step}")

    # -- profile check --------------------------------------------------------------------

    def check_selectors(self, steps: tuple[str, ...] = ()) -> list[SelectorCheck]:
        """The profile's selectors (of ``steps``, or all) looked up on the current screen.

        Nothing is tapped or typed. A selector with a ``{placeholder}`` is not looked up.
        """
        if self.profile is None:
            return []
        out = []
        for label, sel in self.profile.selectors():
            if steps and label.split(":")[0] not in steps:
                continue
            fixed = not any(placeholders(v) for v in sel.fields().values())
            out.append(SelectorCheck(label, sel, self.ui.exists(sel) if fixed else None))
        return out


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _variant(args: dict[str, str]) -> str:
    for key in ("state", "value", "to"):
        if args.get(key) in ("on", "off"):
            return args[key]
    return ""


def _need(args: dict[str, str], key: str, step: str) -> str:
    if key not in args:
        raise InputError(f"step {step!r} needs argument {key!r}", field=key)
    return args[key]
