"""The fake phones with Frida, for tests: one process that runs the fake adb servers, the
fake Redmi and a Frida portal its "Chrome" (a real local process) joined.

:func:`fake_phones` starts ``python -m harness.testing.fake_phones --frida`` with a TMPDIR of
its own, yields the ports it printed, and stops it and the Frida helpers it left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from harness.testing.fake_phones import read_ports

ROOT = Path(__file__).resolve().parents[2]


def stop_helpers_under(tmp: Path) -> None:
    """Frida leaves `idund --background` behind; stop the ones started under our TMPDIR."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = os.readlink(entry / "exe")
        except OSError:
            continue
        if exe.startswith(str(tmp)):
            os.kill(int(entry.name), signal.SIGKILL)


@contextmanager
def fake_phones(tmp: Path, *args: str,
                env: Mapping[str, str] | None = None) -> Iterator[dict[str, str]]:
    """Run the fake phones (``--frida`` plus ``args``); yields ``local``, ``remote`` and
    ``victim`` (the adb server ports and the victim's pid)."""
    frida_tmp = tmp / "frida-tmp"
    frida_tmp.mkdir(exist_ok=True)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {}), "TMPDIR": str(frida_tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.testing.fake_phones", "--frida", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=full_env)
    try:
        assert proc.stdout is not None
        yield read_ports(proc.stdout, ("local", "remote", "victim"))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        stop_helpers_under(frida_tmp)
