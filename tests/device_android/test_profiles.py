"""Profile schema: the shipped profiles load; broken ones fail with file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.device.android_profile import ActionKind, find_profile, load_profile
from harness.errors import InputError

SHIPPED = ("chrome", "firefox", "mint", "mibrowser", "miui-browser")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_load_and_are_marked_unverified(name: str) -> None:
    profile = load_profile(find_profile(name))
    assert profile.verified is False
    assert "open_url" in profile.steps
    assert profile.selectors()


def test_toggle_steps_have_on_and_off() -> None:
    chrome = load_profile(find_profile("chrome"))
    on = chrome.steps["incognito"].actions("on")
    assert [a.kind for a in on] == [ActionKind.TAP, ActionKind.TAP, ActionKind.WAIT]
    assert on[1].selector is not None
    assert on[1].selector.to_u2() == {"text": "New Incognito tab"}
    with pytest.raises(KeyError, match="no variant"):
        chrome.steps["search"].actions("on")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return path


HEAD = "profile: x\napp: X\npackage: org.x\nverified: false\nsteps:\n"


@pytest.mark.parametrize(("body", "where", "message"), [
    ("  open_url:\n    - tapp: {text: a}\n", ":7:7", "unknown action 'tapp'"),
    ("  open_url:\n    - tap: {}\n", ":7:7", "tap needs a selector"),
    ("  open_url:\n    - tap: {text: a, colour: red}\n", ":7:22", "unknown selector key 'colour'"),
    ("  incognito:\n    maybe: []\n", ":7:5", "takes 'on' and 'off'"),
    ("  Open:\n    - key: enter\n", ":6:3", "must be snake_case"),
    ("  open_url:\n    - swipe: sideways\n", ":7:7", "swipe takes up, down"),
    ("  open_url:\n    - wait: {text: a, timeout: -1}\n", ":7:23", "timeout must be a positive"),
])
def test_errors_name_file_line_and_column(tmp_path: Path, body: str, where: str,
                                          message: str) -> None:
    path = write(tmp_path, HEAD + body)
    with pytest.raises(InputError) as err:
        load_profile(path)
    assert str(err.value).startswith(f"{path}{where}: ")
    assert message in str(err.value)


def test_unknown_top_key_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"p\.yaml:1:1: unknown key 'profil'"):
        load_profile(write(tmp_path, "profil: x\n"))
    with pytest.raises(InputError, match=r"p\.yaml:\d+:\d+: not valid YAML"):
        load_profile(write(tmp_path, "a: [\nb: c\n"))
    with pytest.raises(InputError, match="no profile named 'nope'"):
        find_profile("nope")


def test_harness_profile_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["profile", "validate", *SHIPPED]) == 0
    assert capsys.readouterr().out.count("not verified on a phone") == len(SHIPPED)
    bad = write(tmp_path, HEAD + "  open_url: 3\n")
    assert main(["profile", "validate", str(bad)]) == 2
    assert f"{bad}:6:3: step 'open_url' must be" in capsys.readouterr().err


@pytest.mark.parametrize("name", SHIPPED)
def test_every_standard_journey_can_run_on_every_profile(name: str) -> None:
    """`harness run --device` refuses a scenario whose steps the profile lacks (check_steps):
    the shipped journeys must all pass that check on every shipped profile, toggles with both
    variants."""
    from harness.device.android_journey import check_steps
    from harness.device.android_steps import GENERIC_STEPS
    from harness.scenario.model import load_scenario

    profile = load_profile(find_profile(name))
    actions = set(GENERIC_STEPS) | set(profile.steps)
    root = Path(__file__).resolve().parents[2] / "scenarios"
    for path in sorted(root.glob("*.yaml")):
        scenario = load_scenario(path)
        check_steps(scenario, actions, f"profile {name}")
        for step in (s for p in scenario.phases for s in p.steps):
            if isinstance(step.value, bool) and step.action in profile.steps:
                assert profile.steps[step.action].actions("on" if step.value else "off")
