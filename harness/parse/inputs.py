"""What ``harness scan INPUT...`` accepts, recognised by content: a run directory, a HAR
1.2 file, or a mitmproxy flow file. Each yields the same :class:`Message` values."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from harness.capture.rundir import RUN_JSON
from harness.errors import InputError
from harness.parse.message import Message


class InputKind(StrEnum):
    RUN_DIR = "run-dir"
    HAR = "har"
    MITM = "mitmproxy"


def kind_of(path: Path | str) -> InputKind:
    p = Path(path)
    if p.is_dir():
        if (p / RUN_JSON).is_file():
            return InputKind.RUN_DIR
        raise InputError("a directory that is not a run dir (no run.json)", path=str(p))
    try:
        with open(p, "rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path=str(p)) from exc
    if head.startswith(b"{"):
        return InputKind.HAR
    if head[:1].isdigit() and b":" in head[:11]:
        return InputKind.MITM
    raise InputError("not a run dir, a HAR file or a mitmproxy flow file", path=str(p))


def messages_of(path: Path | str) -> Iterator[Message]:
    """The messages of one input, streamed. Raises InputError for what it cannot read."""
    kind = kind_of(path)
    if kind is InputKind.RUN_DIR:
        from harness.parse.storeread import MessageStore

        with MessageStore.open(path) as store:
            yield from store.messages()
    elif kind is InputKind.HAR:
        from harness.parse.har import read_har

        yield from read_har(path)
    else:
        from harness.parse.mitm import read_flows

        yield from read_flows(path)
