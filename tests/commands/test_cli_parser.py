"""The command line builds only the parser it needs, and parses the same either way."""

from __future__ import annotations

import argparse
import subprocess
import sys

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
