"""Step values a scenario file may hold, checked when it loads (fuzz round 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InputError
from harness.scenario.model import load_scenario


def scenario(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nphases:\n  - name: p\n    steps:\n      - {step}\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("value", ["diagonal", "UP", "''"])
def test_a_swipe_direction_is_checked_at_load(tmp_path: Path, value: str) -> None:
    path = scenario(tmp_path, f"swipe: {{input: {value}}}")
    with pytest.raises(InputError, match="up, down, left or right") as err:
        load_scenario(path)
    assert err.value.path == str(path)
    assert err.value.line == 5
    assert err.value.field == "swipe"


@pytest.mark.parametrize("value", ["up", "down", "left", "right"])
def test_the_four_directions_load(tmp_path: Path, value: str) -> None:
    step = load_scenario(scenario(tmp_path, f"swipe: {{input: {value}}}")).phases[0].steps[0]
    assert step.value == {"input": value}
