"""The harness's cache directory, ``$XDG_CACHE_HOME/egress-harness`` (``~/.cache/egress-harness``):
where it is. What kinds of file the harness keeps there, and how to take stock of it and clear it
(``harness cache``), are :mod:`harness.cachestock`'s: apart, as the analysis needs only the
directory, and the stock's four dataclasses and their imports were ~1.5 ms of its start.
"""

from __future__ import annotations

import os
from pathlib import Path

STALE_TMP = 3600
"""Seconds after which a temporary file is a killed run's leftover, not a write in progress
(as the Hyperscan cache's own pruning, harness.detect.matcher)."""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/egress-harness``, ``~/.cache/egress-harness`` without it."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "egress-harness"


def frida_server_dir() -> Path:
    """Where ``frida-server-VERSION-android-ARCH`` files are looked for when none is given:
    ``$EGRESS_HARNESS_CACHE/frida-server`` when that is set, else under :func:`cache_dir`."""
    base = os.environ.get("EGRESS_HARNESS_CACHE")
    return (Path(base) if base else cache_dir()) / "frida-server"
