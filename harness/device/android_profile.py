"""App profiles: how each abstract scenario step is done in one browser build.

A profile (``scenarios/profiles/*.yaml``) maps step names (``open_url``, ``search``,
``incognito: on``...) to actions: intents and deep links where the app has them, and
uiautomator2 selectors (resource id, text, description) otherwise, with waits for the expected
screen. Schema (every error names file:line:column)::

    profile: chrome                      # name used on the command line
    app: Chrome                          # human name
    package: com.android.chrome
    versions: "120.x"                    # builds it was written for (free text)
    verified: false                      # true only once it has run on a phone
    launch_activity: com.google.android.apps.chrome.Main   # optional
    steps:
      open_url:                          # a list of actions...
        - intent: {action: android.intent.action.VIEW, data: "{url}"}
        - wait: {resource_id: "com.android.chrome:id/url_bar", timeout: 20}
      incognito:                         # ...or on/off variants for a toggle
        on: [...]
        off: [...]

Actions (one key each): ``intent: {action, data, component, extras, categories}``,
``deeplink: URL``, ``tap: SELECTOR``, ``type: SELECTOR + text``, ``key: enter|back|home``,
``swipe: up|down|left|right``, ``wait: SELECTOR + timeout [+ gone: true]``, ``sleep: SECONDS``,
``launch: {}``. A selector has one or more of ``resource_id``, ``text``, ``text_contains``,
``description``, ``class_name``. Strings may use ``{name}`` placeholders filled from the step's
arguments (``{url}``, ``{query}``, ``{account}``...); ``{{`` and ``}}`` are literal braces, and
any other brace is refused when the profile loads. Timeouts are seconds, above 0 and at most
3600.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import cast

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from harness.errors import InputError
from harness.yamldoc import load_yaml

PROFILE_KEYS = {"profile", "app", "package", "versions", "verified", "launch_activity", "steps",
                "notes"}
SELECTOR_KEYS = {"resource_id": "resourceId", "text": "text", "text_contains": "textContains",
                 "description": "description", "class_name": "className"}
DEFAULT_TIMEOUT = 10.0


class ActionKind(StrEnum):
    INTENT = "intent"
    DEEPLINK = "deeplink"
    TAP = "tap"
    TYPE = "type"
    KEY = "key"
    SWIPE = "swipe"
    WAIT = "wait"
    SLEEP = "sleep"
    LAUNCH = "launch"


@dataclass(frozen=True, slots=True)
class Selector:
    resource_id: str | None = None
    text: str | None = None
    text_contains: str | None = None
    description: str | None = None
    class_name: str | None = None

    def fields(self) -> dict[str, str]:
        return {k: v for k, v in ((k, getattr(self, k)) for k in SELECTOR_KEYS) if v is not None}

    def to_u2(self) -> dict[str, str]:
        """The keyword arguments ``uiautomator2.Device(...)`` takes for this selector."""
        return {SELECTOR_KEYS[k]: v for k, v in self.fields().items()}

    def fill(self, args: dict[str, str]) -> Selector:
        return Selector(**{k: fill(v, args) for k, v in self.fields().items()})

    def __str__(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.fields().items())


@dataclass(frozen=True, slots=True)
class Intent:
    action: str | None = None
    data: str | None = None
    component: str | None = None
    extras: tuple[tuple[str, str], ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    line: int
    selector: Selector | None = None
    value: str | None = None
    """The URL of a deeplink, the text to type, the key, the swipe direction."""
    intent: Intent | None = None
    timeout: float = DEFAULT_TIMEOUT
    seconds: float = 0.0
    gone: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    variants: dict[str, tuple[Action, ...]]
    """``""`` for a plain step; ``"on"`` / ``"off"`` for a toggle."""

    def actions(self, variant: str = "") -> tuple[Action, ...]:
        if variant not in self.variants:
            have = ", ".join(repr(v) for v in self.variants) or "none"
            raise KeyError(f"step {self.name!r} has no variant {variant!r} (has {have})")
        return self.variants[variant]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    app: str
    package: str
    versions: str
    verified: bool
    steps: dict[str, Step]
    path: str
    launch_activity: str | None = None

    def selectors(self) -> list[tuple[str, Selector]]:
        """Every selector with the step (``search``, ``incognito:on``) it belongs to."""
        out = []
        for step in self.steps.values():
            for variant, actions in step.variants.items():
                label = step.name + (f":{variant}" if variant else "")
                out += [(label, a.selector) for a in actions if a.selector is not None]
        return out


_TEMPLATE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A ``{name}`` placeholder, or a doubled brace (one literal brace)."""
MAX_TIMEOUT = 3600.0


def fill(template: str, args: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders (``{{`` and ``}}`` are literal braces); a missing
    argument raises KeyError(name). Nothing else of ``str.format`` applies: a filled-in value
    is never read as a template itself."""
    def one(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        return args[m.group(1)]

    return _TEMPLATE.sub(one, template)


def placeholders(template: str) -> set[str]:
    return {m.group(1) for m in _TEMPLATE.finditer(template) if m.group(1) is not None}


def template_problem(template: str) -> str | None:
    """Why ``template`` is not one :func:`fill` takes (a brace that is no ``{name}``,
    ``{{`` or ``}}``), or None."""
    rest = _TEMPLATE.sub("", template)
    if "{" in rest or "}" in rest:
        return (f"{template[:80]!r}: braces are only for {{name}} placeholders "
                "(write {{ and }} for a literal brace)")
    return None


class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def error(self, message: str, node: object, key: object = None,
              field: str | None = None) -> InputError:
        line = column = None
        lc = getattr(node, "lc", None)
        if lc is not None:
            try:
                pos: tuple[int, int] | None
                if key is None:
                    pos = (lc.line, lc.col)
                elif isinstance(node, CommentedSeq):
                    pos = lc.item(key)
                else:
                    pos = lc.key(key)
                if pos is None:  # a position ruamel did not record (a tagged flow sequence)
                    pos = (lc.line, lc.col)
                line, column = pos[0] + 1, pos[1] + 1
            except (KeyError, IndexError, TypeError):
                pass
        return InputError(message, path=self.path, line=line, column=column, field=field)

    def mapping(self, node: object, parent: object, key: object, what: str) -> CommentedMap:
        if not isinstance(node, CommentedMap):
            raise self.error(f"{what} must be a mapping", parent, key)
        return node

    def text(self, node: CommentedMap, key: str, *, required: bool = True,
             template: bool = False) -> str | None:
        if key not in node:
            if required:
                raise self.error(f"missing {key!r}", node, field=key)
            return None
        value = node[key]
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.error(f"{key!r} must be a string", node, key, field=key)
        if template:
            self.template(str(value), node, key, key)
        return str(value)

    def template(self, value: str, node: object, key: object, field: str) -> str:
        """``value``, once it is known to be a template :func:`fill` takes."""
        problem = template_problem(value)
        if problem is not None:
            raise self.error(problem, node, key, field=field)
        return value

    def line_of(self, seq: CommentedSeq, i: int) -> int:
        """The line (1-based) of item ``i``; the sequence's own where ruamel kept none."""
        pos: tuple[int, int] | None
        try:
            pos = seq.lc.item(i)
        except (KeyError, IndexError, TypeError):
            pos = None
        return int(pos[0] if pos is not None else seq.lc.line) + 1

    def load(self) -> Profile:
        try:
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError as exc:
            raise InputError("no such profile file", path=self.path) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read profile: {exc}", path=self.path) from exc
        doc = load_yaml(text, self.path)
        top = self.mapping(doc, doc, None, "a profile")
        for key in top:
            if key not in PROFILE_KEYS:
                raise self.error(f"unknown key {key!r} (known: {', '.join(sorted(PROFILE_KEYS))})",
                                 top, key, field=str(key))
        verified = top.get("verified", False)
        if not isinstance(verified, bool):
            raise self.error("'verified' must be true or false", top, "verified", "verified")
        steps_node = self.mapping(top.get("steps"), top, "steps" if "steps" in top else None,
                                  "'steps'")
        steps = {}
        for name, body in steps_node.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
                raise self.error(f"step name {name!r} must be snake_case", steps_node, name)
            steps[str(name)] = self.step(str(name), body, steps_node)
        return Profile(
            name=cast(str, self.text(top, "profile")), app=cast(str, self.text(top, "app")),
            package=cast(str, self.text(top, "package")),
            versions=self.text(top, "versions", required=False) or "",
            verified=verified, steps=steps, path=self.path,
            launch_activity=self.text(top, "launch_activity", required=False))

    def step(self, name: str, body: object, parent: CommentedMap) -> Step:
        if isinstance(body, CommentedSeq):
            return Step(name, {"": self.actions(body)})
        if isinstance(body, CommentedMap):
            variants = {}
            for key, seq in body.items():
                # YAML 1.2 keeps `on`/`off` as strings; a YAML 1.1 reader would make booleans.
                variant = {True: "on", False: "off"}.get(key, str(key))
                if variant not in ("on", "off"):
                    raise self.error(f"toggle step {name!r} takes 'on' and 'off', not {key!r}",
                                     body, key)
                if not isinstance(seq, CommentedSeq):
                    raise self.error(f"{name}: {variant} must be a list of actions", body, key)
                variants[variant] = self.actions(seq)
            return Step(name, variants)
        raise self.error(f"step {name!r} must be a list of actions or on/off lists", parent, name)

    def actions(self, seq: CommentedSeq) -> tuple[Action, ...]:
        out = []
        for i, item in enumerate(seq):
            if not isinstance(item, CommentedMap) or len(item) != 1:
                raise self.error("an action is a mapping with one key "
                                 f"({', '.join(k.value for k in ActionKind)})", seq, i)
            (key, arg), = item.items()
            if key not in ActionKind.__members__.values():
                raise self.error(f"unknown action {key!r}", item, key)
            out.append(self.action(ActionKind(key), arg, item, self.line_of(seq, i)))
        return tuple(out)

    def action(self, kind: ActionKind, arg: object, node: CommentedMap, line: int) -> Action:
        if kind in (ActionKind.DEEPLINK, ActionKind.KEY, ActionKind.SWIPE):
            if not isinstance(arg, str):
                raise self.error(f"{kind} takes a string", node, kind.value)
            if kind is ActionKind.SWIPE and arg not in ("up", "down", "left", "right"):
                raise self.error("swipe takes up, down, left or right", node, kind.value)
            if kind is ActionKind.DEEPLINK:
                self.template(arg, node, kind.value, kind.value)
            return Action(kind, line, value=arg)
        if kind is ActionKind.SLEEP:
            if not isinstance(arg, int | float) or isinstance(arg, bool) or not 0 <= arg <= 60:
                raise self.error("sleep takes seconds (0-60)", node, kind.value)
            return Action(kind, line, seconds=float(arg))
        body = self.mapping(arg if arg is not None else CommentedMap(), node, kind.value,
                            f"{kind}'s argument")
        if kind is ActionKind.LAUNCH:
            return Action(kind, line)
        if kind is ActionKind.INTENT:
            return Action(kind, line, intent=self.intent(body))
        known = set(SELECTOR_KEYS) | {"timeout", "text_to_type", "gone"}
        for key in body:
            if key not in known:
                raise self.error(f"unknown selector key {key!r} (known: "
                                 f"{', '.join(sorted(known))})", body, key, field=str(key))
        selector = Selector(**{k: self.template(str(body[k]), body, k, k)
                               for k in SELECTOR_KEYS if k in body})
        if not selector.fields():
            raise self.error(f"{kind} needs a selector ({', '.join(SELECTOR_KEYS)})", node,
                             kind.value)
        timeout = body.get("timeout", DEFAULT_TIMEOUT)
        if (not isinstance(timeout, int | float) or isinstance(timeout, bool)
                or not math.isfinite(timeout) or not 0 < timeout <= MAX_TIMEOUT):
            raise self.error(f"timeout must be a positive number of seconds, at most "
                             f"{MAX_TIMEOUT:g}", body, "timeout", field="timeout")
        typed = self.text(body, "text_to_type", required=kind is ActionKind.TYPE, template=True)
        return Action(kind, line, selector=selector, value=typed, timeout=float(timeout),
                      gone=bool(body.get("gone", False)))

    def intent(self, body: CommentedMap) -> Intent:
        for key in body:
            if key not in ("action", "data", "component", "extras", "categories"):
                raise self.error(f"unknown intent key {key!r}", body, key, field=str(key))
        extras = body.get("extras") or {}
        if not isinstance(extras, dict):
            raise self.error("extras must be a mapping", body, "extras")
        cats = body.get("categories") or []
        if not isinstance(cats, list):
            raise self.error("categories must be a list", body, "categories")
        return Intent(self.text(body, "action", required=False, template=True),
                      self.text(body, "data", required=False, template=True),
                      self.text(body, "component", required=False, template=True),
                      tuple((str(k), self.template(str(v), extras, k, f"extras.{k}"))
                            for k, v in extras.items()),
                      tuple(str(c) for c in cats))


def load_profile(path: Path) -> Profile:
    return _Loader(path).load()


PROFILE_DIRS = (Path("scenarios/profiles"),
                Path(__file__).resolve().parents[2] / "scenarios" / "profiles")


def find_profile(name: str) -> Path:
    """A profile file by path, or by name in ./scenarios/profiles or the source tree's."""
    given = Path(name)
    try:
        if given.suffix in (".yaml", ".yml") or given.exists():
            return given
        for base in PROFILE_DIRS:
            candidate = base / f"{name}.yaml"
            if candidate.is_file():
                return candidate
    except (OSError, ValueError):  # a name too long for a file name, or with a NUL
        pass
    known = sorted({p.stem for base in PROFILE_DIRS if base.is_dir() for p in base.glob("*.yaml")})
    raise InputError(f"no profile named {name!r} (known: {', '.join(known) or 'none'})")
