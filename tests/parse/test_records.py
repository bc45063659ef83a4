"""Records that are messages themselves, their links to TLS messages, hosts and phases."""

from __future__ import annotations

import gzip
from pathlib import Path

from harness.capture.rundir import Phase, RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.parse.message import MessageKind
from harness.parse.storeread import MessageStore

BODY = b"data_list=H4sIAAAA&gzip=1"
REQ = (b"POST /sa?project=p HTTP/1.1\r\nHost: sa.api.intl.miui.com\r\n"
       b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
       % (len(BODY), BODY))
RESP = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"


def _run(tmp_path: Path) -> RunDir:
    run = RunDir.create(tmp_path, "rec")
    info = run.load_info()
    info.phases = [Phase("launch", 100.0, 105.0), Phase("browse", 105.0, None)]
    run.save_info(info)
    body = gzip.compress(b'{"status":1}')
    rows = [
        EventRow(t=100.5, kind="dns", hook="native.dns.getaddrinfo", pid=7,
                 fields={"name": "tracking.intl.miui.com", "addresses": ["203.0.113.9"]}),
        EventRow(t=106.0, kind="http", hook="java.okhttp3.RealCall", pid=7, tid=2,
                 direction="out", data=BODY,
                 fields={"stack": "okhttp3", "phase": "request", "call": "c1",
                         "url": "https://sa.api.intl.miui.com/sa?project=p", "method": "POST",
                         "headers": [["Content-Type", "application/x-www-form-urlencoded"]],
                         "protocol": "http/1.1"}),
        EventRow(t=106.1, kind="stream", hook="native.tls.SSL_write", pid=7, conn="7:tls:1",
                 direction="out", data=REQ, fields={"layer": "tls"}),
        EventRow(t=106.2, kind="stream", hook="native.tls.SSL_read", pid=7, conn="7:tls:1",
                 direction="in", data=RESP % (len(body), body), fields={"layer": "tls"}),
        EventRow(t=106.3, kind="http", hook="java.okhttp3.RealCall", pid=7, tid=2,
                 direction="in", data=b'{"status":1}',
                 fields={"stack": "okhttp3", "phase": "response", "call": "c1", "status": 200,
                         "url": "https://sa.api.intl.miui.com/sa?project=p",
                         "headers": {"Content-Type": ["application/json"]}}),
        EventRow(t=101.0, kind="sdk", hook="java.sensorsdata.track", pid=7,
                 fields={"sdk": "sensorsdata", "method": "track", "event": "search",
                         "properties": {"search_word": "canary words"},
                         "frames": ["com.app.Search.run"]}),
        EventRow(t=107.0, kind="page", hook="java.webview.loadUrl", pid=7,
                 fields={"api": "WebView", "method": "loadUrl",
                         "url": "https://canary.test/page?c=1"}),
        EventRow(t=108.0, kind="stream", hook="native.udp.sendto", pid=7, conn="7:udp:2",
                 direction="out", data=b"\x01quic-ish", fields={"layer": "udp"}),
        EventRow(t=109.0, kind="stream", hook="native.tcp.send", pid=7, conn="7:tcp:3",
                 direction="out", data=b"\x00\x05hello telemetry", fields={"layer": "tcp"}),
    ]
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(7, 0, rows, connections=[
            {"conn": "7:tls:1", "pid": 7, "layer": "tls", "peer_ip": "198.51.100.7",
             "peer_port": 443, "sni": "sa.api.intl.miui.com", "tls_version": "TLSv1.2",
             "cipher": "ECDHE-RSA-AES128-GCM-SHA256"},
            {"conn": "7:udp:2", "pid": 7, "layer": "udp", "peer_ip": "203.0.113.9",
             "peer_port": 443},
            {"conn": "7:tcp:3", "pid": 7, "layer": "tcp", "peer_ip": "203.0.113.9",
             "peer_port": 8080}])
        w.marker("phase-start", "incognito", t=108.5)
        w.marker("phase-end", "incognito", t=110.0)
    return run


def test_records_links_hosts_phases(tmp_path: Path) -> None:
    run = _run(tmp_path)
    with MessageStore.open(run) as store:
        msgs = {(m.source, m.kind, m.direction): m for m in store.messages()}
        n = store.count()
    assert n == 9
    dns = msgs[("native.dns", MessageKind.DNS, "out")]
    assert dns.host == "tracking.intl.miui.com"
    assert dns.phase == "launch"
    jreq = msgs[("java.okhttp3", MessageKind.REQUEST, "out")]
    jresp = msgs[("java.okhttp3", MessageKind.RESPONSE, "in")]
    nreq = msgs[("native.tls", MessageKind.REQUEST, "out")]
    nresp = msgs[("native.tls", MessageKind.RESPONSE, "in")]
    assert jreq.links == (nreq.id,)
    assert nreq.links == (jreq.id,)
    assert jresp.request_id == jreq.id
    assert jresp.links == (nresp.id,)
    assert nresp.body == b'{"status":1}'
    assert nreq.host == "sa.api.intl.miui.com"
    assert nreq.tls_version == "TLSv1.2"
    assert nreq.phase == "browse"
    sdk = msgs[("java.sensorsdata", MessageKind.SDK_CALL, "out")]
    assert sdk.sdk == "sensorsdata"
    assert b"canary words" in sdk.body
    assert sdk.frames == ("com.app.Search.run",)
    page = msgs[("java.webview", MessageKind.PAGE, "out")]
    assert page.host == "canary.test"
    udp = msgs[("native.udp", MessageKind.DATAGRAM, "out")]
    assert udp.host == "tracking.intl.miui.com"  # from the DNS answer for its IP
    raw = msgs[("native.tcp", MessageKind.RAW, "out")]
    assert raw.body == b"\x00\x05hello telemetry"
    assert raw.phase == "incognito"  # marker phase, later-starting than "browse"
    ids = [m.id for m in sorted(msgs.values(), key=lambda m: int(m.id[1:]))]
    assert ids == [f"m{i}" for i in range(1, 10)]


def test_ids_are_stable_across_rebuilds(tmp_path: Path) -> None:
    run = _run(tmp_path)
    with MessageStore.open(run) as store:
        first = [(m.id, m.kind, m.t, m.body) for m in store.messages()]
    with MessageStore.open(run, rebuild=True) as store:
        again = [(m.id, m.kind, m.t, m.body) for m in store.messages()]
        light = list(store.messages(kinds=[MessageKind.REQUEST], with_body=False))
    assert first == again
    assert all(m.body == b"" and isinstance(m.meta["body_len"], int) for m in light)


def _dns_query(qid: int, name: str) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + qname + \
        b"\x00\x01\x00\x01"


def _dns_answer(qid: int, name: str, ip: bytes) -> bytes:
    q = _dns_query(qid, name)
    # header: response, 1 question, 1 answer; answer name is a pointer to the question
    return qid.to_bytes(2, "big") + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:] + \
        b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + ip


def test_dns_on_the_wire_names_later_connections(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "dnswire")
    rows = [
        EventRow(t=1.0, kind="stream", hook="native.udp.sendto", pid=3, conn="3:udp:1",
                 direction="out", data=_dns_query(7, "data.mistat.intl.xiaomi.com"),
                 fields={"layer": "udp"}),
        EventRow(t=1.1, kind="stream", hook="native.udp.recvfrom", pid=3, conn="3:udp:1",
                 direction="in", data=_dns_answer(7, "data.mistat.intl.xiaomi.com",
                                                  bytes([203, 0, 113, 50])),
                 fields={"layer": "udp"}),
        EventRow(t=2.0, kind="stream", hook="native.tcp.send", pid=3, conn="3:tcp:2",
                 direction="out", data=b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                 fields={"layer": "tcp"}),
    ]
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(3, 0, rows, connections=[
            {"conn": "3:udp:1", "layer": "udp", "peer_ip": "192.0.2.53", "peer_port": 53},
            {"conn": "3:tcp:2", "layer": "tcp", "peer_ip": "203.0.113.50", "peer_port": 443}])
    with MessageStore.open(run) as store:
        q, a, tls = list(store.messages())
    assert (q.protocol, q.host, q.meta["dns_questions"]) == (
        "dns", "data.mistat.intl.xiaomi.com", ["data.mistat.intl.xiaomi.com"])
    assert a.meta["dns_answers"] == [["data.mistat.intl.xiaomi.com", "203.0.113.50"]]
    assert tls.protocol == "tls-ciphertext"
    assert tls.host == "data.mistat.intl.xiaomi.com"


def streamed_java_run(tmp_path: Path) -> RunDir:
    """Two HttpURLConnection calls whose bodies stream in ``body`` records, each seen on
    its own TLS connection too."""
    run = RunDir.create(tmp_path, "stream")
    req = (b"POST /up HTTP/1.1\r\nHost: u.test\r\nContent-Length: 10\r\n\r\n0123456789")
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    rows: list[EventRow] = []
    for i, t in enumerate((10.0, 20.0)):
        call = f"urlconnection:9:{i}"
        common = {"stack": "urlconnection", "call": call, "url": "https://u.test/up",
                  "sender": "com.sensorsdata.analytics.android.sdk"}
        rows += [
            EventRow(t=t, kind="http", hook="java.urlconnection.HttpClient.writeRequests",
                     pid=9, direction="out",
                     fields={**common, "phase": "request", "method": "POST",
                             "headers": [["Content-Length", "10"]]}),
            EventRow(t=t + 0.1, kind="http", hook="java.urlconnection.StreamingOutputStream",
                     pid=9, direction="out", data=b"01234", fields={**common, "phase": "body"}),
            EventRow(t=t + 0.2, kind="http", hook="java.urlconnection.StreamingOutputStream",
                     pid=9, direction="out", data=b"56789", fields={**common, "phase": "body"}),
            EventRow(t=t + 0.3, kind="stream", hook="native.tls.SSL_write", pid=9,
                     conn=f"9:tls:{i + 1}", direction="out", data=req, fields={"layer": "tls"}),
            EventRow(t=t + 0.4, kind="stream", hook="native.tls.SSL_read", pid=9,
                     conn=f"9:tls:{i + 1}", direction="in", data=resp, fields={"layer": "tls"}),
            EventRow(t=t + 0.5, kind="http", hook="java.urlconnection.HttpClient.parseHTTP",
                     pid=9, direction="in", fields={**common, "phase": "response",
                                                    "status": 200}),
        ]
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(9, 0, rows)
    return run


def test_streamed_java_bodies_and_one_to_one_links(tmp_path: Path) -> None:
    """HttpURLConnection streams its body in ``body`` records between request and
    response; two identical requests pair with the two TLS requests one to one."""
    with MessageStore.open(streamed_java_run(tmp_path)) as store:
        msgs = list(store.messages())
    java = [m for m in msgs if m.source == "java.urlconnection" and
            m.kind is MessageKind.REQUEST]
    native = [m for m in msgs if m.source == "native.tls" and m.kind is MessageKind.REQUEST]
    assert [m.body for m in java] == [b"0123456789"] * 2
    assert all(m.sdk == "com.sensorsdata.analytics.android.sdk" for m in java)
    assert [m.links for m in java] == [(native[0].id,), (native[1].id,)]
    jresp = [m for m in msgs if m.source == "java.urlconnection" and
             m.kind is MessageKind.RESPONSE]
    assert [m.request_id for m in jresp] == [m.id for m in java]
    assert len(msgs) == 8


def test_java_tls_peer_host_names_raw_streams(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "peerhost")
    conn = "5:tls:4294967297"
    rows = [
        EventRow(t=1.0, kind="conn", hook="java.jsse.SSLEngineImpl.wrap", pid=5, conn=conn,
                 fields={"layer": "tls", "peer_host": "canary.lab.test", "peer_port": 443}),
        EventRow(t=1.1, kind="stream", hook="java.jsse.SSLEngineImpl.wrap", pid=5, conn=conn,
                 direction="out", data=b"\x00\x01opaque app protocol", fields={"layer": "tls"}),
    ]
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(5, 0, rows, connections=[{"conn": conn, "layer": "tls", "pid": 5}])
    with MessageStore.open(run) as store:
        (m,) = list(store.messages())
    assert (m.kind, m.host, m.source) == (MessageKind.RAW, "canary.lab.test", "java.jsse")


def test_lone_surrogates_in_java_strings_are_analysed_and_reported(tmp_path: Path) -> None:
    """A Java string can hold a lone UTF-16 surrogate (an SDK property or page title cut
    inside an emoji); the agent's JSON keeps it as an escape. It read as a crash of
    ``analyze`` and ``report`` (UTF-8 cannot carry it); now it reads as U+FFFD, and the
    needle beside it is found."""
    from harness.analysis import analyze_run
    from harness.detect.finding import Needle
    from harness.device.base import NeedleClass
    from harness.report.publish import report_folder

    run = RunDir.create(tmp_path, "lone")
    cut, needle = "x\ud83d", "a1b2c3d4e5f60718"
    rows = [
        EventRow(t=1.0, kind="http", hook="java.okhttp3.CallServerInterceptor.intercept",
                 pid=7, direction="out", data=b'{"t":"\\ud83d"}',
                 fields={"stack": "okhttp3", "phase": "request", "call": "c1",
                         "url": f"https://h.test/p?id={needle}&c={cut}", "method": "POST",
                         "headers": [["X-Cut", cut]], "frames": ["app.A" + cut]}),
        EventRow(t=2.0, kind="sdk", hook="java.sensorsdata.track", pid=7,
                 fields={"sdk": "sensorsdata", "method": "track", "event": "e" + cut,
                         "properties": {"title": cut, "id": needle}}),
        EventRow(t=3.0, kind="page", hook="java.webview.loadUrl", pid=7,
                 fields={"api": "WebView", "method": "loadUrl", "url": "https://c.test/" + cut}),
    ]
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(7, 0, rows, connections=[])
    with MessageStore.open(run) as store:
        by_kind = {m.kind: m for m in store.messages()}
    assert by_kind[MessageKind.REQUEST].url == f"https://h.test/p?id={needle}&c=x\ufffd"
    assert by_kind[MessageKind.REQUEST].headers == (("X-Cut", "x\ufffd"),)
    assert "x\ufffd".encode() in by_kind[MessageKind.SDK_CALL].body
    analysis = analyze_run(run, [Needle("android-id", NeedleClass.DEVICE_ID, needle, "device")])
    assert {f.message for f in analysis.findings} == {
        by_kind[MessageKind.REQUEST].id, by_kind[MessageKind.SDK_CALL].id}
    assert report_folder(run.path).is_file()


def test_a_url_urlsplit_refuses_is_analysed_and_exported(tmp_path: Path) -> None:
    """An app's WebView.loadUrl argument (or a request target) can be any text: a URL that
    urlsplit refuses is searched as written and exported, never a crash."""
    from harness.analysis import analyze_run
    from harness.detect.finding import Needle
    from harness.device.base import NeedleClass
    from harness.parse.har import export_har

    run = RunDir.create(tmp_path, "badurl")
    needle = "a1b2c3d4e5f60718"
    rows = [
        EventRow(t=1.0, kind="page", hook="java.webview.loadUrl", pid=7,
                 fields={"api": "WebView", "method": "loadUrl",
                         "url": f"http://[::1/p?id={needle}"}),
        EventRow(t=2.0, kind="http", hook="java.okhttp3.CallServerInterceptor.intercept",
                 pid=7, direction="out", data=b"",
                 fields={"stack": "okhttp3", "phase": "request", "call": "c1", "method": "GET",
                         "url": f"http://[::1/q?id={needle}", "headers": []}),
    ]
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(7, 0, rows, connections=[])
    analysis = analyze_run(run, [Needle("android-id", NeedleClass.DEVICE_ID, needle, "device")])
    assert len({f.message for f in analysis.findings}) == 2
    assert export_har(run.path, tmp_path / "out.har") >= 1
