"""The fake phone's small types: its files, apps, and what a shell command answers."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

QTAGUID = "/proc/net/xt_qtaguid/stats"
CHROME_COMMAND_LINE = "/data/local/tmp/chrome-command-line"

# A 1x1 PNG, so `screencap -p` answers with a real image.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d3f0c90000000049454e44ae426082"
)

TcpService = Callable[[socket.socket], None]
"""Serves one connection made through ``tcp:PORT`` on the device (it owns and closes it)."""


@dataclass
class FakeFile:
    data: bytes
    mode: int = 0o100644
    mtime: int = 1_600_000_000
    root_only: bool = False


@dataclass
class FakeApp:
    package: str
    uid: int
    dumpsys: str
    """What `dumpsys package PKG` prints (a transcript)."""
    activity: str = ".Main"


@dataclass
class Outcome:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    stream: bool = False
    """Keep the shell connection open until the client closes it (long-running command)."""
    on_close: Callable[[], None] | None = None
    """Called when a streamed command's connection ends (the process "exits")."""
    merged: bytes | None = None
    """stdout and stderr in the order written, as a v1 `shell:` stream carries them."""

    @property
    def v1(self) -> bytes:
        return self.merged if self.merged is not None else self.stdout + self.stderr
