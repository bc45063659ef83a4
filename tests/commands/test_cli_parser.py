"""The command line builds only the parser it needs, and parses the same either way."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from harness import cli


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("no subcommands")


@pytest.mark.parametrize(("argv", "expected"), [
    (["analyze", "RUN"], {"analyze"}),
    (["-v", "-v", "scan", "x.har", "--json"], {"scan"}),
    (["report", "--help"], {"report"}),
    ([], set(cli.COMMANDS)),
    (["--help"], set(cli.COMMANDS)),
    (["bogus", "analyze"], set(cli.COMMANDS)),  # the error lists every command
])
def test_only_the_named_command_is_built(argv: list[str], expected: set[str]) -> None:
    assert _commands(cli.build_parser(argv)) == expected


@pytest.mark.parametrize("argv", [
    ["analyze", "RUN", "--needle", "a=b", "--claims", "c.yaml"],
    ["-v", "scan", "a.har", "b.har", "--json"],
    ["export", "RUN", "--format", "har"],
])
def test_same_namespace_as_the_whole_parser(argv: list[str]) -> None:
    lazy = vars(cli.build_parser(argv).parse_args(argv))
    whole = vars(cli.build_parser().parse_args(argv))
    assert lazy == whole


def test_analyze_does_not_import_the_other_commands() -> None:
    code = ("import sys; from harness import cli; cli.build_parser(['analyze', 'R']);"
            "print(sorted(m for m in sys.modules if m.startswith('harness.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['harness.commands.analyze']"


def test_analyze_leaves_yaml_alone(tmp_path: Path) -> None:
    """A run's needles are JSON: ruamel.yaml (10 ms of analyze's start) is not imported to
    parse the command line or to analyze a run."""
    code = ("import sys; from pathlib import Path; from harness import cli;"
            "from harness.testing.runbuilder import RunBuilder;"
            "cli.build_parser(['analyze', 'R']); b = RunBuilder(Path(sys.argv[1]), 'r');"
            "b.needle('android-id', 'device-id', 'a1b2c3d4e5f60718'); b.phase('normal');"
            "b.request('sa.api.lab.test', '/sa?u=a1b2c3d4e5f60718');"
            "print(len(b.build().read_derived('findings.json')),"
            " sorted(m for m in sys.modules if 'yaml' in m))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "1 []"
