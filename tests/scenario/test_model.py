from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ExitCode, InputError
from harness.scenario.model import load_scenario
from harness.scenario.runner import check_profile

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_standard_journeys_load(path: Path) -> None:
    s = load_scenario(path)
    assert s.phases
    check_profile(s, "lab:mint-3.4.0")


def test_state_per_phase() -> None:
    s = load_scenario(ROOT / "scenarios" / "incognito-stats-off.yaml")
    incog = s.phases[-1]
    assert incog.state["incognito"] is True
    assert incog.state["usage_stats"] is False


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    ("name: x\nphases:\n  - name: a\n    steps:\n      - lunch\n", 5, 9, "unknown step 'lunch'"),
    ("name: x\nphases:\n  - name: a\n    steps:\n      - incognito: maybe\n", 5, 20,
     "expected on or off"),
    ("name: x\nphases:\n  - name: a\n    steps:\n      - open_url: \"{canary.uri}\"\n", 5, 19,
     "unknown template {canary.uri}"),
    ("name: x\nphases:\n  - name: a\n    steps:\n      - wait: soon\n", 5, 15, "takes seconds"),
    ("name: x\nphases: []\n", 2, 9, "non-empty list"),
    ("name: x\nphases:\n  - name: a\n    stepz: []\n", 4, 5, "unknown key 'stepz'"),
    ("name: [x\n", 2, 1, "not valid YAML"),
    ("name: x\nphases:\n  - name: a\x00b\n", 3, 12, "not valid YAML"),  # a character YAML refuses
])
def test_errors_name_file_line_column(tmp_path: Path, text: str, line: int, column: int,
                                      words: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as err:
        load_scenario(f)
    assert words in str(err.value)
    assert (err.value.path, err.value.line, err.value.column) == (str(f), line, column)
    assert str(err.value).startswith(f"{f}:{line}:{column}: ")


def test_profile_lacking_a_step_is_refused_naming_both(tmp_path: Path) -> None:
    f = tmp_path / "ui.yaml"
    f.write_text("name: ui\nphases:\n  - name: a\n    steps:\n      - launch\n"
                 "      - tap: {text: Settings}\n")
    with pytest.raises(InputError, match=r"lab:mint-3.4.3.*tap.*'ui'") as err:
        check_profile(load_scenario(f), "lab:mint-3.4.3")
    assert err.value.line == 6


def _harness_run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "run", *argv], capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize(("text", "where", "words"), [
    ("name: x\nphases:\n  - name: a\n    steps:\n      - launch\n      - fly: high\n",
     "6:9", "unknown step 'fly'"),
    ("name: x\nphases:\n  - name: a\n    steps:\n      - idle: [1]\n", "5:15", "takes seconds"),
    ("name: x\nphases:\n  - name: a\n    steps:\n      - search: \"{canary.query\"\n", "5:17",
     "unbalanced braces"),
])
def test_harness_run_refuses_a_broken_scenario_before_anything_runs(
        tmp_path: Path, text: str, where: str, words: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    done = _harness_run(str(f), "--out", str(tmp_path / "runs"))
    assert done.returncode == int(ExitCode.BAD_INPUT), done.stderr
    assert f"{f}:{where}: " in done.stderr
    assert words in done.stderr
    assert not (tmp_path / "runs").exists()  # no run dir, no app, no capture


def test_harness_run_refuses_a_profile_lacking_a_step_naming_both(tmp_path: Path) -> None:
    f = tmp_path / "ui.yaml"
    f.write_text("name: ui\nphases:\n  - name: a\n    steps:\n      - launch\n"
                 "      - swipe: {description: tabs}\n")
    done = _harness_run(str(f), "--app", "lab:mint-3.4.0", "--out", str(tmp_path / "runs"))
    assert done.returncode == int(ExitCode.BAD_INPUT), done.stderr
    assert f"{f}:6:9: " in done.stderr
    assert "app profile 'lab:mint-3.4.0' cannot do step(s) swipe that scenario 'ui' needs" \
        in done.stderr
    assert not (tmp_path / "runs").exists()


def test_harness_run_refuses_a_broken_claims_file_before_anything_runs(tmp_path: Path) -> None:
    claims = tmp_path / "claims.yaml"
    claims.write_text("claims:\n  - id: x\n    quote: 3\n")
    scenario = Path(__file__).parents[2] / "scenarios" / "incognito.yaml"
    done = _harness_run(str(scenario), "--claims", str(claims), "--out", str(tmp_path / "runs"))
    assert done.returncode == int(ExitCode.BAD_INPUT), done.stderr
    assert f"{claims}:2:5: claim is missing 'source'" in done.stderr
    assert not (tmp_path / "runs").exists()  # the journey did not run
