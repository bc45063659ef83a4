"""Profiles a fuzzer wrote: every odd template, timeout, YAML form or name is an InputError
naming the file (and line, where there is one) when the profile loads, never a traceback at
run time (fuzz round 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.device.android_profile import fill, find_profile, load_profile, placeholders
from harness.errors import InputError

HEAD = "profile: p\napp: P\npackage: com.android.chrome\nsteps:\n  s:\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("body", [
    "    - tap: {text: 'Save 50% {now'}\n",
    "    - intent: {extras: {k: '{0}'}}\n",
    "    - deeplink: '{url.scheme}'\n",
    "    - type: {text: a, text_to_type: '{query!z}'}\n",
    "    - deeplink: '{url:>1500000000}'\n",
    "    - intent: {data: 'x}'}\n",
    "    - wait: {resource_id: '{}'}\n",
])
def test_braces_other_than_placeholders_are_refused_at_load(tmp_path: Path, body: str) -> None:
    with pytest.raises(InputError) as err:
        load_profile(write(tmp_path, body))
    assert err.value.path == str(tmp_path / "p.yaml")
    assert err.value.line == 6
    assert "{name}" in str(err.value)


def test_placeholders_are_filled_without_str_format() -> None:
    assert fill("{url}", {"url": "https://x/{query}"}) == "https://x/{query}"
    assert fill("a {{literal}} {q}", {"q": "b"}) == "a {literal} b"
    assert placeholders("{url} and {query} but {{not}}") == {"url", "query"}
    with pytest.raises(KeyError, match="query"):
        fill("{query}", {})


def test_doubled_braces_stay_literal(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, "    - deeplink: 'x://{{a}}?q={query}'\n"))
    (action,) = profile.steps["s"].actions()
    assert action.value is not None
    assert fill(action.value, {"query": "q"}) == "x://{a}?q=q"


@pytest.mark.parametrize("timeout", [".inf", "-.inf", ".nan", "3601", "1e300"])
def test_timeouts_must_be_finite_and_bounded(tmp_path: Path, timeout: str) -> None:
    with pytest.raises(InputError, match="timeout") as err:
        load_profile(write(tmp_path, f"    - wait: {{text: zz, timeout: {timeout}}}\n"))
    assert err.value.line == 6


def test_a_tagged_flow_sequence_of_actions_loads(tmp_path: Path) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(HEAD.replace("  s:\n", "  s: !seq [ {key: enter} ]\n"), encoding="utf-8")
    (action,) = load_profile(path).steps["s"].actions()
    assert action.value == "enter"
    assert action.line == 5


def test_a_tagged_flow_sequence_with_a_bad_action_names_a_line(tmp_path: Path) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(HEAD.replace("  s:\n", "  s: !seq [ {key: enter}, 3 ]\n"), encoding="utf-8")
    with pytest.raises(InputError, match="an action is a mapping") as err:
        load_profile(path)
    assert err.value.path == str(path)
    assert err.value.line == 5


def test_a_name_too_long_for_the_file_system(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match="no profile named"):
        find_profile("a" * 300)
    assert main(["profile", "validate", "a" * 300]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
