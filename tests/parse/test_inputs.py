"""``harness scan`` inputs are recognised by content."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import InputError
from harness.parse.inputs import InputKind, kind_of, messages_of
from tests.parse.test_mitm import _flow, dumps
from tests.parse.wire import run_from_bytes


def test_three_kinds(tmp_path: Path) -> None:
    req = b"POST /x HTTP/1.1\r\nHost: i.test\r\nContent-Length: 3\r\n\r\nabc"
    run = run_from_bytes(tmp_path, [[("out", req)]])
    har = tmp_path / "x.har"
    assert main(["export", str(run.path), "-o", str(har)]) == 0
    flows = tmp_path / "x.flows"
    flows.write_bytes(dumps(_flow(b"abc")))
    assert kind_of(run.path) is InputKind.RUN_DIR
    assert kind_of(har) is InputKind.HAR
    assert kind_of(flows) is InputKind.MITM
    for p in (run.path, har, flows):
        assert any(m.body == b"abc" for m in messages_of(p))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01")
    with pytest.raises(InputError, match="not a run dir"):
        kind_of(junk)
    with pytest.raises(InputError, match="cannot read"):
        kind_of(tmp_path / "missing.har")
    (tmp_path / "plain-dir").mkdir()
    with pytest.raises(InputError, match="not a run dir"):
        kind_of(tmp_path / "plain-dir")
