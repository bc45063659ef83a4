"""The harness's cache directory, ``$XDG_CACHE_HOME/egress-harness`` (``~/.cache/egress-harness``):
where the agent bundle, the lab browser's classes, the needles' Hyperscan databases, the parsed
public suffix list and tracker table, the lab device's identifiers and frida-server binaries are
kept between runs. One definition, so that every writer uses the same place.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/egress-harness``, ``~/.cache/egress-harness`` without it."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "egress-harness"


def frida_server_dir() -> Path:
    """Where ``frida-server-VERSION-android-ARCH`` files are looked for when none is given:
    ``$EGRESS_HARNESS_CACHE/frida-server`` when that is set, else under :func:`cache_dir`."""
    base = os.environ.get("EGRESS_HARNESS_CACHE")
    return (Path(base) if base else cache_dir()) / "frida-server"
