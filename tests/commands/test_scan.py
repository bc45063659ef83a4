"""``harness scan``: a real capture as a run dir and as the HAR exported from it, a mitmproxy
flow file, needles from flags, a file and the run itself, table and JSON, bad needles files."""

from __future__ import annotations

import base64
import gzip
import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.testing.certs import make_pki
from harness.testing.tls_server import TLSServer
from tests.detect.test_capture_sdk import SENSORS
from tests.parse.test_mitm import _flow, dumps

WORD, URL = "qzfeedfacecafe", "cnry0123456789abcdef"
SENSORS_CHAIN = ["sensors:data (no crc)", "base64", "gzip"]


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Sensors Analytics SDK upload over TLS, captured by ``harness capture`` with its
    two needles recorded in the run."""
    tmp = tmp_path_factory.mktemp("scan")
    pki = make_pki(tmp / "pki")
    script = tmp / "sdk.py"
    script.write_text(SENSORS)
    with pytest.MonkeyPatch.context() as mp, TLSServer(pki) as server:
        mp.setenv("SSL_CERT_FILE", str(pki.ca_cert))
        assert main(["capture", "--out", str(tmp / "runs"), "--needle", f"word={WORD}",
                     "--needle", f"url={URL}", "--", sys.executable, str(script),
                     f"https://127.0.0.1:{server.port}/sa?project=default"]) == 0
    (run,) = (tmp / "runs").iterdir()
    return run


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["scan", *argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out, dict)
    return out


def _chains(out: dict[str, object]) -> set[tuple[str, tuple[str, ...]]]:
    findings = out["findings"]
    assert isinstance(findings, list)
    return {(f["needle"], tuple(f["chain"])) for f in findings}


def test_run_dir_with_its_own_needles(captured: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, [str(captured)])
    (inp,) = out["inputs"]  # type: ignore[misc]
    assert inp["kind"] == "run-dir"
    assert inp["needles"] == ["word", "url"]
    assert inp["messages"] >= 2
    got = _chains(out)
    base = ("http:POST 127.0.0.1/sa", *SENSORS_CHAIN)
    assert ("word", (*base, "json:$.properties.search_word")) in got
    assert ("url", (*base, "json:$.properties.url")) in got
    assert not (captured / "findings.json").exists()  # scan writes nothing


def test_har_exported_from_the_capture(captured: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    har = tmp_path / "run.har"
    assert main(["export", str(captured), "--format", "har", "-o", str(har)]) == 0
    # a HAR carries no needles: without flags there is nothing to look for
    capsys.readouterr()
    assert main(["scan", str(har)]) == 2
    assert "no needles" in capsys.readouterr().err
    out = _json(capsys, [str(har), "--needle", f"w={WORD}"])
    assert out["inputs"][0]["kind"] == "har"  # type: ignore[index]
    chains = {c for n, c in _chains(out) if n == "w"}
    assert any(c[1:] == (*SENSORS_CHAIN, "json:$.properties.search_word") for c in chains)
    # the table: needle, class, message id, host, chain and the marked excerpt
    capsys.readouterr()
    assert main(["scan", str(har), "--needle", f"w={WORD}"]) == 0
    table = capsys.readouterr().out
    assert "1 findings" in table
    row = next(line for line in table.splitlines() if line.lstrip().startswith("w "))
    assert "user" in row
    assert "127.0.0.1" in row
    assert "sensors:data (no crc) > base64" in row
    assert f"[[{WORD}]]" in table


def test_mitmproxy_flows_and_needles_file(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    imei = "867530912345678"
    payload = base64.b64encode(gzip.compress(json.dumps({"imei": imei}).encode())).decode()
    flows = tmp_path / "x.flows"
    flows.write_bytes(dumps(_flow(f"ev={payload}&sha={imei}x".encode())))
    needles = tmp_path / "needles.yaml"
    needles.write_text(f"- name: imei\n  value: '{imei}'\n  class: device-id\n")
    out = _json(capsys, [str(flows), "--needles", str(needles)])
    assert out["inputs"][0]["kind"] == "mitmproxy"  # type: ignore[index]
    got = _chains(out)
    root = "http:POST sa.api.intl.miui.com/sa"
    assert ("imei", (root, "form:ev", "base64", "gzip", "json:$.imei")) in got
    assert ("imei", (root, "form:sha")) in got
    assert {f["class"] for f in out["findings"]} == {"device-id"}  # type: ignore[union-attr]
    # nothing planted, nothing found (and still exit 0)
    out = _json(capsys, [str(flows), "--needle", "other=zz99notthere"])
    assert out["findings"] == []


def test_several_inputs_one_report(captured: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    flows = tmp_path / "x.flows"
    flows.write_bytes(dumps(_flow(f"q={WORD}".encode())))
    out = _json(capsys, [str(captured), str(flows), "--needle", f"word={WORD}"])
    inputs = {f["input"] for f in out["findings"]}  # type: ignore[union-attr]
    assert inputs == {str(captured), str(flows)}


@pytest.mark.parametrize(("text", "where", "field"), [
    ("- name: a\n  value: abcdefgh\n  class: device-id\n- name: b\n  value: abcdefgh\n"
     "  class: device_id\n", ":6:10", "class"),
    ("- name: a\n  value: 1234\n", ":2:10", "value"),
    ("- value: abcdefgh\n", ":1:3", "name"),
    ("- name: a\n  value: [unclosed\n", ":3:1", None),
    ("name: a\nvalue: abcdefgh\n", ":1:1", None),
])
def test_bad_needles_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          text: str, where: str, field: str | None) -> None:
    flows = tmp_path / "x.flows"
    flows.write_bytes(dumps(_flow(b"q=1")))
    path = tmp_path / "needles.yaml"
    path.write_text(text)
    capsys.readouterr()
    assert main(["scan", str(flows), "--needles", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}{where}:" in err, err
    if field:
        assert f"(field {field!r})" in err


def test_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "missing.har"), "--needle", "a=abcdefgh"]) == 2
    assert "missing.har" in capsys.readouterr().err
    assert main(["scan", str(tmp_path), "--needle", "a=abc"]) == 2
    assert "--needle wants" in capsys.readouterr().err
    # a command line's bytes that are not UTF-8 reach Python as surrogates
    assert main(["scan", str(tmp_path), "--needle", "a=abc\udcff\udcfedefgh"]) == 2
    assert "wants UTF-8 text" in capsys.readouterr().err
    needles = tmp_path / "n.yaml"
    needles.write_text('- {name: x, value: "ab\\ud83dcdefgh", class: user}\n')
    assert main(["scan", str(tmp_path), "--needles", str(needles)]) == 2
    assert "n.yaml:1:20: not Unicode text: a lone UTF-16 surrogate" in capsys.readouterr().err
    # a name, too (it is shown in every report)
    assert main(["scan", str(tmp_path), "--needle", "a\udcff=abcdefgh"]) == 2
    assert "--needle wants UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize("log", [12345, [], {"entries": 7}, None])
def test_a_har_of_the_wrong_shape_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], log: object) -> None:
    har = tmp_path / "odd.har"
    har.write_text(json.dumps({"log": log}))
    assert main(["scan", str(har), "--needle", "a=abcdefgh"]) == 2
    err = capsys.readouterr().err
    assert "odd.har" in err
    assert "log.entries" in err


def test_hostile_text_in_a_har_is_scanned_and_printed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A lone surrogate (URL, header, form parameter), a bracket host that is no address, a
    WebSocket list that is not a list and a frame time that is not a number: the needle
    beside them is found, and the table and the JSON print."""
    cut = "x\ud83d"
    entry = {
        "startedDateTime": "2026-12-06T08:00:00.000Z",
        "request": {"method": "POST", "url": f"http://h.test/{cut}?id=abcdefgh",
                    "headers": [{"name": "X-Cut", "value": cut}],
                    "postData": {"params": [{"name": cut, "value": "abcdefgh"}]}},
        "_webSocketMessages": 5,
    }
    frame = {"type": "send", "opcode": 1, "data": "id=abcdefgh", "time": "soon"}
    odd = {**entry, "request": {**entry["request"], "url": "http://[::1/p?id=abcdefgh"},
           "_webSocketMessages": [frame]}
    har = tmp_path / "hostile.har"
    har.write_text(json.dumps({"log": {"entries": [entry, odd]}}))
    assert main(["scan", str(har), "--needle", "a=abcdefgh"]) == 0
    out = capsys.readouterr().out
    assert "\\ud83d" in out
    assert "[[abcdefgh]]" in out
    assert main(["scan", str(har), "--needle", "a=abcdefgh", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["findings"]
    assert {f["message"] for f in found} == {"m1", "m2", "m3"}
