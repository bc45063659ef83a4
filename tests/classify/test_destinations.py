"""Destination classification with the bundled data only (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.capture.rundir import RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.classify import domain, geo
from harness.classify.destination import Party
from harness.classify.destinations import (
    classify,
    sdks_from_findings,
    sdks_of,
    write_destinations,
)
from harness.classify.trackers import TrackerDB
from harness.classify.vendors import XIAOMI, Vendor
from harness.detect.finding import Finding
from harness.device.base import NeedleClass
from harness.errors import InputError
from harness.parse.message import Message, MessageKind


def _msg(i: int, host: str | None, ip: str, **kw: object) -> Message:
    base: dict[str, object] = {"id": f"m{i}", "kind": MessageKind.REQUEST, "t": float(i),
                               "direction": "out", "source": "native.tls", "host": host,
                               "ip": ip, "port": 443, "body": b"x" * 10, "body_len_wire": 10,
                               "tls_version": "TLSv1.2", "cipher": "ECDHE-RSA-AES128-GCM-SHA256",
                               "phase": "browse"}
    base.update(kw)
    return Message(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("host", "reg"), [
    ("sa.api.intl.miui.com", "miui.com"), ("data.mistat.intl.xiaomi.com", "xiaomi.com"),
    ("www.bbc.co.uk", "bbc.co.uk"), ("8.8.8.8", None), ("localhost", None),
    ("x.y.z.amazonaws.com", "amazonaws.com"),
    # the ICANN section only: a private suffix is a registrable domain
    ("x.blogspot.com", "blogspot.com"), ("a.b.appspot.com", "appspot.com"),
    # a wildcard rule (*.ck) and its exception (!www.ck)
    ("a.b.ck", "a.b.ck"), ("www.ck", "www.ck"), ("x.www.ck", "www.ck"), ("b.ck", None),
    # bare suffixes, unknown TLDs, IPs
    ("co.uk", None), ("com", None), ("canary.lab.test", None), ("[::1]", None), ("", None),
    # case, trailing dots, the full stops IDNA reads as dots, IDN in both spellings
    ("WWW.BBC.CO.UK.", "bbc.co.uk"), ("a.miui\u3002com", "miui.com"),
    ("a.miui\uff0ecom\uff61", "miui.com"), ("a.b\u00fccher.de", "b\u00fccher.de"),
    ("a.xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("a.\u4f8b\u5b50.\u4e2d\u56fd", "\u4f8b\u5b50.\u4e2d\u56fd"),
])
def test_registrable_domain(host: str, reg: str | None) -> None:
    assert domain.registrable_domain(host) == reg


def test_geo_keeps_location_and_network() -> None:
    sg = geo.locate("47.74.128.1")  # Alibaba Cloud Singapore
    assert sg.country == "SG"
    assert sg.network is not None
    assert "Alibaba" in sg.network
    assert geo.locate("13.126.0.1").country == "IN"
    assert geo.locate("127.0.0.1").local
    assert geo.locate("::1").local


def test_classify_xiaomi_case() -> None:
    msgs = [
        _msg(1, "sa.api.intl.miui.com", "47.74.128.1", sdk="sensorsdata"),
        _msg(2, "sa.api.intl.miui.com", "47.74.128.1", kind=MessageKind.RESPONSE,
             direction="in", body_len_wire=4),
        _msg(3, "data.mistat.intl.xiaomi.com", "8.219.0.1"),
        _msg(4, "www.google-analytics.com", "8.8.8.8"),
        _msg(5, "canary.test", "127.0.0.1", tls_version=None, cipher=None,
             source="native.tcp", url="http://canary.test/"),
        _msg(6, "static.sensorsdata.cn", "13.126.0.1"),
        _msg(7, None, "13.126.0.1", kind=MessageKind.RAW),
        _msg(8, "sa.api.intl.miui.com", "47.74.128.1", source="java.okhttp3", links=("m1",),
             sdk="com.sensorsdata.analytics.android.sdk", meta={"stack": "okhttp3"}),
        _msg(9, "search.test", "127.0.0.1", kind=MessageKind.SDK_CALL),
    ]
    dests = {d.host: d for d in classify(msgs, XIAOMI, sdk_of={"m3": "mistatistic"})}
    sa = dests["sa.api.intl.miui.com"]
    assert sa.party is Party.FIRST
    assert sa.operator == "Xiaomi"
    assert sa.service is not None
    assert "Sensors Analytics" in sa.service
    assert sa.sdks == ("com.sensorsdata.analytics.android.sdk", "sensorsdata")
    assert sa.countries == ("SG",)
    assert sa.messages == 2  # the linked Java view of m1 is not counted twice
    assert (sa.bytes_out, sa.bytes_in) == (10, 4)
    assert sa.tls_versions == ("TLSv1.2",)
    assert sa.ciphers == ("ECDHE-RSA-AES128-GCM-SHA256",)
    mistat = dests["data.mistat.intl.xiaomi.com"]
    assert mistat.party is Party.FIRST
    assert mistat.sdks == ("mistatistic",)
    ga = dests["www.google-analytics.com"]
    assert (ga.party, ga.operator, ga.category) == (Party.THIRD, "Google", "site_analytics")
    assert ga.operator_country == "US"
    assert ga.tracker == "Google Analytics"
    assert dests["canary.test"].party is Party.LOCAL
    assert dests["canary.test"].tls_versions == ("plaintext",)
    sensors = dests["static.sensorsdata.cn"]
    assert (sensors.operator, sensors.operator_country, sensors.countries) == \
        ("Sensors Data", "CN", ("IN",))  # registrant country apart from hosting location
    assert dests["13.126.0.1"].party is Party.UNKNOWN
    assert "search.test" not in dests


def test_vendor_from_config() -> None:
    v = Vendor.from_mapping({"name": "Acme", "domains": ["acme-corp.com"]})
    (d,) = classify([_msg(1, "t.acme-corp.com", "8.8.8.8")], v)
    assert d.party is Party.FIRST
    with pytest.raises(InputError, match="vendor"):
        Vendor.from_mapping({"name": "Acme", "domains": "acme.example"})


def test_trackerdb_is_bundled_with_its_licence() -> None:
    db = TrackerDB.bundled()
    assert "CC-BY-NC-SA-4.0" in db.source
    assert len(db.entries) > 3000
    hit = db.lookup("stats.g.doubleclick.net")
    assert hit is not None
    assert hit.organisation == "Google"


def test_write_destinations(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "d")
    req = b"POST /sa HTTP/1.1\r\nHost: sa.api.intl.miui.com\r\nContent-Length: 2\r\n\r\nhi"
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(1, 0, [EventRow(t=1.0, kind="stream", hook="native.tls.SSL_write",
                                      pid=1, conn="1:tls:1", direction="out", data=req,
                                      fields={"layer": "tls"})],
                      connections=[{"conn": "1:tls:1", "peer_ip": "47.74.128.1",
                                    "peer_port": 443, "tls_version": "TLSv1.3"}])
    path = write_destinations(run)
    data = json.loads(path.read_text())
    (d,) = data["destinations"]
    assert d["host"] == "sa.api.intl.miui.com"
    assert d["party"] == "first"
    assert d["message_ids"] == ["m1"]
    assert d["tls_versions"] == ["TLSv1.3"]
    assert "CC-BY-NC-SA" in data["notice"]


def test_ciphertext_below_tls_is_not_plaintext_nor_counted_twice() -> None:
    msgs = [_msg(1, "a.example.com", "8.8.8.8"),
            _msg(2, "a.example.com", "8.8.8.8", kind=MessageKind.RAW, source="native.tcp",
                 protocol="tls-ciphertext", tls_version=None, body_len_wire=99),
            _msg(3, "b.example.com", "8.8.4.4", kind=MessageKind.RAW, source="native.tcp",
                 protocol="tls-ciphertext", tls_version=None, cipher=None)]
    dests = {d.host: d for d in classify(msgs)}
    assert dests["a.example.com"].messages == 1
    assert dests["a.example.com"].bytes_out == 10
    assert dests["b.example.com"].tls_versions == ("tls (version not captured)",)
    assert "plaintext" not in dests["b.example.com"].tls_versions


def test_vendor_for_name_or_package() -> None:
    from harness.classify.vendors import vendor_for

    assert vendor_for("Xiaomi") is XIAOMI
    assert vendor_for("com.mi.globalbrowser.mini") is XIAOMI
    chrome = vendor_for("com.android.chrome")
    assert chrome is not None
    assert chrome.owns("gstatic.com", "www.gstatic.com")
    assert vendor_for("com.android.browser") is None


def test_reserved_names_are_the_lab() -> None:
    (d,) = classify([_msg(1, "canary.lab.test", "")])
    assert d.party is Party.LOCAL


def _sensors_run(tmp_path: Path) -> RunDir:
    """A run dir with one POST to the Sensors host, over TLS, to a public address."""
    run = RunDir.create(tmp_path, "f")
    req = b"POST /sa HTTP/1.1\r\nHost: sa.api.intl.miui.com\r\nContent-Length: 2\r\n\r\nhi"
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(1, 0, [EventRow(t=1.0, kind="stream", hook="native.tls.SSL_write",
                                      pid=1, conn="1:tls:1", direction="out", data=req,
                                      fields={"layer": "tls"})],
                      connections=[{"conn": "1:tls:1", "peer_ip": "47.74.128.1"}])
    return run


def test_sdk_from_verified_findings(tmp_path: Path) -> None:
    run = _sensors_run(tmp_path)
    run.write_json("findings.json", [{
        "id": "f1", "needle": "imei", "class": "device-id", "host": "sa.api.intl.miui.com",
        "phase": None, "message": "m1", "excerpt": "",
        "chain": ["http:POST sa.api.intl.miui.com/sa", "sensors:data_list (crc ok)",
                  "base64", "gzip", "json:$[0].properties.imei"]}])
    (d,) = json.loads(write_destinations(run).read_text())["destinations"]
    assert d["sdks"] == ["sensors-analytics (crc verified)"]


def test_sdks_named_by_the_detector_reach_every_host_they_were_sent_to() -> None:
    """The detector's SDK (``sdk_of``, applied after the messages went past) lands on the
    host of a plain message, of a Java stack record seen on the wire only (a host no other
    message reached), and of TLS records under a TCP hook."""
    msgs = [
        _msg(1, "a.test.example", "127.0.0.1"),
        _msg(2, "b.test.example", "127.0.0.1", source="java.okhttp3", links=("m1",),
             meta={"stack": "okhttp3"}),
        _msg(3, "c.test.example", "127.0.0.1", protocol="tls-ciphertext",
             source="native.tcp"),
    ]
    sdk_of = {"m1": "sensors-analytics", "m2": "mixpanel", "m3": "onetrack"}
    dests = {d.host: d for d in classify(msgs, XIAOMI, sdk_of=sdk_of)}
    assert dests["a.test.example"].sdks == ("sensors-analytics",)
    assert dests["b.test.example"].sdks == ("mixpanel",)
    assert dests["b.test.example"].messages == 0
    assert dests["c.test.example"].sdks == ("onetrack",)
    assert set(dests) == {"a.test.example", "b.test.example", "c.test.example"}


def _sdks_before(run: RunDir) -> dict[str, str]:
    """sdks_from_findings as it was before analyze handed its findings over in memory: the
    reference sdks_of is held to."""
    findings = json.loads(run.file("findings.json").read_text("utf-8"))
    out: dict[str, str] = {}
    for f in findings:
        for step in f.get("chain") or []:
            if isinstance(step, str) and step.startswith("sensors:"):
                verified = "crc ok" in step
                out[f["message"]] = "sensors-analytics" + (" (crc verified)" if verified
                                                           else " (wire format)")
            elif isinstance(step, str) and step.startswith("mixpanel:"):
                out[f["message"]] = "mixpanel (wire format)"
    return out


STEPS = st.sampled_from(["http:POST a/sa", "sensors:data_list (crc ok)", "sensors:data",
                         "sensors:data_list (crc mismatch)", "sensors:data (no crc)",
                         "mixpanel:data", "base64", "json:$.sensors:x", "sensors:\ud800",
                         "crc ok", "sensorsdata (crc ok)", "mixpanel"])
FOUND = st.builds(
    Finding, id=st.just("f"), needle=st.just("n"), cls=st.just(NeedleClass.DEVICE_ID),
    host=st.none(), phase=st.none(), message=st.sampled_from(["m1", "m2", "m3"]),
    chain=st.lists(STEPS, max_size=4).map(tuple), excerpt=st.just(""))


@given(st.lists(FOUND, max_size=8))
def test_sdks_of_findings_in_memory_as_from_the_file(
        tmp_path_factory: pytest.TempPathFactory, fs: list[Finding]) -> None:
    run = RunDir(tmp_path_factory.mktemp("sdks"))
    run.write_json_items("findings.json", map(Finding.json_line, fs))
    assert sdks_of(fs) == _sdks_before(run) == sdks_from_findings(run)


def test_destinations_from_findings_in_memory(tmp_path: Path) -> None:
    """write_destinations given the findings writes what it writes reading findings.json."""
    run = _sensors_run(tmp_path)
    fs = [Finding("f1", "imei", NeedleClass.DEVICE_ID, "sa.api.intl.miui.com", None, "m1",
                  ("http:POST sa.api.intl.miui.com/sa", "mixpanel:data"), "")]
    run.write_json_items("findings.json", map(Finding.json_line, fs))
    from_file = write_destinations(run).read_bytes()
    (run.file("findings.json")).unlink()
    assert write_destinations(run, findings=fs).read_bytes() == from_file
    assert b"mixpanel (wire format)" in from_file
