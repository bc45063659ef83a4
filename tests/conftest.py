"""Shared fixtures live in harness.testing (shipped); this file only wires them in, and gives
the suite a cache directory of its own and hypothesis examples without a deadline."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import settings

# Speed targets live in bench/ (STYLE), not in timed tests: hypothesis's per-example deadline
# (200 ms) is one, and examples that write and fsync files miss it on a loaded machine.
# Every example still runs and is checked; only the clock is off.
settings.register_profile("egress-harness", deadline=None)
settings.load_profile("egress-harness")

_CACHE = pytest.StashKey[tuple[str, str | None]]()


def pytest_configure(config: pytest.Config) -> None:
    """XDG_CACHE_HOME a tmp dir for the session, before collection (modules build matchers
    when imported) and inherited by the harness processes tests start: every analysis keeps
    its Hyperscan database there (harness.detect.matcher), and a developer's own cache must
    neither fill with the suite's nor decide what a test sees."""
    tmp = tempfile.mkdtemp(prefix="egress-harness-tests-cache-")
    config.stash[_CACHE] = (tmp, os.environ.get("XDG_CACHE_HOME"))
    os.environ["XDG_CACHE_HOME"] = tmp


def pytest_unconfigure(config: pytest.Config) -> None:
    tmp, before = config.stash[_CACHE]
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before
    shutil.rmtree(tmp, ignore_errors=True)
