"""Detection throughput: ``harness analyze`` against ``rg -F -f <every derived pattern>``.

Builds a real run dir (``CaptureWriter``) of about ``--mb`` MB of captured traffic: HTTP/1.1
and HTTP/2 connections in turn, analytics-style JSON bodies, a third of them compressed
(gzip content coding), a tenth carrying base64 blobs, one in twenty a Sensors Analytics upload
(``crc``/``gzip``/``data_list`` of base64 of gzip of JSON), with about 50 needles (device ids,
MACs, IMEI, emails, canary URLs, search words) planted raw, percent-encoded, hashed, in base64
blobs, under gzip and in Sensors payloads. Then, in one run and each pinned to one core
(``taskset -c 0``): ``harness analyze RUN`` (parse, decode, detect, classify: everything) and
``rg -a -F --count-matches -f patterns.txt raw.bin`` over the same raw stream bytes. Reports
both times, the ratio, peak RSS of each, and which planted needles only the harness found.
The harness's modules are byte-compiled first, as ``pip install`` leaves them: a machine
with PYTHONDONTWRITEBYTECODE set (this one) otherwise compiles every module from source at
every start (~0.1 s), which no installed harness does.

    PYTHONPATH=. python bench/detect.py --mb 200 --dir /tmp/detect-bench
"""

from __future__ import annotations

import argparse
import base64
import compileall
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import hpack

import harness
from harness.capture.rundir import RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.detect.decoders import java_hash
from harness.detect.derive import derive
from harness.detect.finding import Needle
from harness.device.base import NeedleClass
from harness.parse.storeread import MessageStore

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HOSTS = ["sa.api.intl.miui.com", "data.mistat.intl.xiaomi.com", "tracking.intl.miui.com",
         "api.mixpanel.com", "app-measurement.com", "graph.facebook.com", "cdn.example.test",
         "api.ad.intl.xiaomi.com", "sdkconfig.ad.intl.xiaomi.com", "log.example.test"]


def needles(rng: random.Random) -> list[Needle]:
    out: list[Needle] = []
    for i in range(10):
        out.append(Needle(f"android-id-{i}", NeedleClass.DEVICE_ID, rng.randbytes(8).hex(),
                          "device"))
    for i in range(8):
        out.append(Needle(f"imei-{i}", NeedleClass.DEVICE_ID,
                          "86" + "".join(rng.choice("0123456789") for _ in range(13)), "device"))
    for i in range(8):
        mac = ":".join(f"{b:02x}" for b in rng.randbytes(6))
        out.append(Needle(f"wifi-mac-{i}", NeedleClass.NETWORK_ID, mac, "device"))
    for i in range(8):
        out.append(Needle(f"email-{i}", NeedleClass.ACCOUNT_ID,
                          f"user{rng.randrange(10**6)}.lab@example.test", "device"))
    for i in range(8):
        out.append(Needle(f"canary-{i}", NeedleClass.BROWSING, f"cnry{rng.randbytes(8).hex()}",
                          "canary"))
    for i in range(8):
        out.append(Needle(f"search-{i}", NeedleClass.BROWSING, f"qz{rng.randbytes(6).hex()}",
                          "canary"))
    return out


@dataclass
class Planted:
    """Where needles were put, by how deep only the harness can see."""

    flat: int = 0
    nested: int = 0


def _event_json(rng: random.Random, ndl: list[Needle], planted: Planted,
                nested: bool) -> dict[str, object]:
    props: dict[str, object] = {
        "$lib": "Android", "$lib_version": "4.3.6", "$app_version": "12.4.3-g",
        "$screen_width": 1080, "$screen_height": 2340, "$os_version": "10",
        "$model": "M2007J20CG", "$manufacturer": "Xiaomi", "$network_type": "WIFI",
        "session": rng.randbytes(12).hex(), "ts": 1600000000000 + rng.randrange(10**9),
        "items": [{"id": rng.randrange(10**6), "w": rng.random()} for _ in range(4)],
    }
    if rng.random() < 0.3:
        n = rng.choice(ndl)
        key = {"device-id": "$device_id", "network-id": "mac", "account-id": "account",
               "browsing": "url"}.get(n.cls.value, "v")
        props[key] = (f"https://canary.lab.test/c/{n.value}" if n.cls is NeedleClass.BROWSING
                      else n.value)
        if nested:
            planted.nested += 1
        else:
            planted.flat += 1
    return {"event": rng.choice(["$AppStart", "search", "page_view", "$AppEnd"]),
            "time": 1600000000000 + rng.randrange(10**9), "properties": props}


def body(rng: random.Random, i: int, ndl: list[Needle],
         planted: Planted) -> tuple[bytes, list[tuple[str, str]]]:
    """One request body and its extra headers."""
    if i % 20 == 7:  # Sensors Analytics upload
        events = [_event_json(rng, ndl, planted, nested=True) for _ in range(rng.randint(2, 8))]
        data = base64.b64encode(gzip.compress(json.dumps(events).encode(), 6)).decode()
        return (f"crc={java_hash(data)}&gzip=1&data_list={urllib.parse.quote(data, safe='')}"
                .encode(), [("content-type", "application/x-www-form-urlencoded")])
    if i % 10 == 3:  # a base64 blob inside JSON (the blob itself may carry a needle)
        inner = json.dumps(_event_json(rng, ndl, planted, nested=False)).encode()
        blob = base64.b64encode(inner + rng.randbytes(rng.randint(200, 3000))).decode()
        return json.dumps({"v": 2, "blob": blob}).encode(), [("content-type",
                                                              "application/json")]
    events = [_event_json(rng, ndl, planted, nested=i % 3 == 1)
              for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.05:  # a hashed or percent-encoded identifier in the query-like body
        n = rng.choice(ndl)
        events.append({"h": hashlib.md5(n.value.encode()).hexdigest(),
                       "q": urllib.parse.quote(n.value, safe="")})
        planted.flat += 1
    raw = json.dumps(events).encode()
    if i % 3 == 1:
        return gzip.compress(raw, 6), [("content-type", "application/json"),
                                       ("content-encoding", "gzip")]
    return raw, [("content-type", "application/json")]


def _frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + \
        payload


def make_run(parent: Path, megabytes: int, raw_path: Path) -> tuple[RunDir, list[Needle],
                                                                     Planted, int]:
    rng = random.Random(4)
    ndl = needles(rng)
    run = RunDir.create(parent, "detect-bench")
    run.write_json("needles.json", [n.to_json() for n in ndl])
    planted = Planted()
    total, size, c, messages = megabytes << 20, 0, 0, 0
    with CaptureWriter(run.capture_db) as w, open(raw_path, "wb") as raw:
        while size < total:
            c += 1
            h2 = c % 2 == 0
            host = HOSTS[c % len(HOSTS)]
            conn = f"1:tls:{c}"
            enc, denc = hpack.Encoder(), hpack.Encoder()
            rows: list[EventRow] = []

            def emit(direction: str, data: bytes, rows: list[EventRow] = rows,
                     conn: str = conn) -> None:
                nonlocal size
                size += len(data)
                raw.write(data)
                rows.append(EventRow(t=time.time(), kind="stream",
                                     hook="native.tls.SSL_write_ex", pid=1, conn=conn,
                                     direction=direction, data=data, fields={"layer": "tls"}))

            if h2:
                emit("out", PREFACE + _frame(4, 0, 0, b""))
                emit("in", _frame(4, 0, 0, b""))
            for i in range(40):
                b, headers = body(rng, messages, ndl, planted)
                messages += 1
                path = f"/sa?project=p{i}&ts={rng.randrange(10**9)}"
                if h2:
                    sid = 2 * i + 1
                    emit("out", _frame(1, 4, sid, enc.encode([
                        (":method", "POST"), (":path", path), (":scheme", "https"),
                        (":authority", host), ("user-agent", "okhttp/4.9.0"), *headers])))
                    for k in range(0, len(b), 16384):
                        emit("out", _frame(0, 1 if k + 16384 >= len(b) else 0, sid,
                                           b[k:k + 16384]))
                    emit("in", _frame(1, 4, sid, denc.encode([(":status", "200")]))
                         + _frame(0, 1, sid, b'{"code":0}'))
                else:
                    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
                    emit("out", (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: "
                                 f"okhttp/4.9.0\r\n{head}Content-Length: {len(b)}\r\n\r\n")
                         .encode() + b)
                    emit("in", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"code\":0}")
            w.write_batch(1, c, rows, connections=[{"conn": conn, "peer_ip": "192.0.2.1",
                                                    "peer_port": 443, "sni": host,
                                                    "alpn": "h2" if h2 else "http/1.1"}])
    return run, ndl, planted, messages


def timed(argv: list[str], stdout: int | None = subprocess.DEVNULL) -> tuple[float, int, bytes]:
    """Wall time and peak RSS (MB) of one child, from its own rusage."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE if stdout is None else stdout,
                            stderr=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return dt, usage.ru_maxrss // 1024, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=200, help="MB of raw stream bytes to build")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/detect-bench"))
    ap.add_argument("--keep", action="store_true", help="reuse a run built before")
    args = ap.parse_args()
    raw_path, pat_path = args.dir / "raw.bin", args.dir / "patterns.txt"
    run_path = args.dir / "detect-bench"
    if not (args.keep and run_path.is_dir()):
        shutil.rmtree(args.dir, ignore_errors=True)
        args.dir.mkdir(parents=True)
        t0 = time.perf_counter()
        run, ndl, planted, messages = make_run(args.dir, args.mb, raw_path)
        print(f"built {raw_path.stat().st_size / 1e6:.0f} MB of raw stream bytes, "
              f"{messages} requests, {len(ndl)} needles ({planted.flat} planted where a "
              f"single decoding shows them, {planted.nested} under gzip) in "
              f"{time.perf_counter() - t0:.0f} s")
    else:
        run = RunDir.open(run_path)
        ndl = [Needle(x["name"], NeedleClass(x["class"]), x["value"], x["source"])
               for x in json.loads((run_path / "needles.json").read_text())]
    pats = {p.value for n in ndl for p in derive(n) if b"\n" not in p.value}
    pat_path.write_bytes(b"\n".join(sorted(pats)) + b"\n")
    one = ["taskset", "-c", "0"]
    compileall.compile_dir(Path(harness.__file__).parent, quiet=1)
    rg_t, rg_rss, rg_out = timed([*one, "rg", "-a", "-F", "--count-matches", "-f",
                                  str(pat_path), str(raw_path)], stdout=None)
    h_t, h_rss, _ = timed([*one, sys.executable, "-m", "harness.cli", "analyze",
                           str(run.path)])
    findings = json.loads((run.path / "findings.json").read_text())
    leaks = [f for f in findings if not f["control"]]
    # Out of rg's reach: under a gzip content coding (the parser decoded it, so the chain
    # starts in the plain body) or under gzip/zlib/Sensors inside the body.
    with MessageStore.open(run) as store:
        coded = {m.id for m in store.messages(with_body=False)
                 if (m.header("content-encoding") or "identity") != "identity"}
    nested = [f for f in leaks if f["message"] in coded or any(
        s in ("gzip", "zlib") or s.startswith("sensors:") for s in f["chain"])]
    rg_matches = int(rg_out.strip() or 0)
    print(f"rg -F -f ({len(pats)} derived patterns): {rg_t:.2f} s, peak RSS {rg_rss} MB, "
          f"{rg_matches} matches")
    print(f"harness analyze: {h_t:.2f} s, peak RSS {h_rss} MB, {len(leaks)} findings, "
          f"{len(nested)} of them under gzip or a Sensors payload (rg cannot see those)")
    print(f"ratio harness/rg: {h_t / rg_t:.1f}x (target <= 3x); "
          f"memory {'ok' if h_rss <= 2048 else 'OVER'} (target <= 2048 MB)")


if __name__ == "__main__":
    main()
