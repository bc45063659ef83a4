"""Builds the lab browser from its Java source on first use (javac, JDK only), cached
outside the repository keyed by the sources' hash."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from harness.cachedir import cache_dir
from harness.errors import EnvironmentError_

SOURCES = Path(__file__).resolve().parent / "java"


def build_lab_browser() -> Path:
    """The classpath directory holding the compiled lab browser."""
    files = sorted(SOURCES.glob("*.java"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    out = cache_dir() / f"lab-browser-{h.hexdigest()[:16]}"
    if (out / "LabBrowser.class").is_file():
        return out
    javac = shutil.which("javac")
    if javac is None:
        raise EnvironmentError_("javac is missing: the lab browser is built from source",
                                fix="apt-get install default-jdk-headless")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    proc = subprocess.run([javac, "-d", str(tmp), *map(str, files)], capture_output=True,
                          text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise EnvironmentError_(f"javac failed on the lab browser: {proc.stderr.strip()[:2000]}")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
