"""Parse throughput: build a run dir of synthetic HTTP/1.1 and HTTP/2 traffic (half the
connections each; 50 requests per connection; a third of the bodies gzip, a third JSON,
a third random), then time ``build_messages`` and report peak memory.

    python bench/parse.py --mb 200 --dir /tmp/parse-bench

Measured 2026-11-22 on the shared 2-core machine (load ~1): 200 MB of bodies → 157,100
messages in 10.2-14.6 s (65-93 µs per message, 14-20 MB/s), peak RSS 35-85 MB. The cost
is per message (framing, HPACK, one SQLite row), not per byte. Reading them all back
(``MessageStore.messages()``) took 4.0 s.
"""

from __future__ import annotations

import argparse
import gzip
import random
import resource
import shutil
import time
from pathlib import Path

import hpack

from harness.capture.rundir import RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.parse.builder import build_messages

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + \
        payload


def _body(rng: random.Random, i: int) -> bytes:
    if i % 3 == 0:
        return b'{"k":"' + b"v" * 2000 + b'"}'
    raw = rng.randbytes(3000)
    return gzip.compress(raw, 1) if i % 3 == 1 else raw


def _conn(rng: random.Random, n: int, h2: bool) -> tuple[list[bytes], list[bytes], int]:
    out: list[bytes] = []
    inn: list[bytes] = []
    size = 0
    enc, denc = hpack.Encoder(), hpack.Encoder()
    if h2:
        out.append(PREFACE + _frame(4, 0, 0, b""))
        inn.append(_frame(4, 0, 0, b""))
    for i in range(n):
        body = _body(rng, i)
        size += len(body)
        if h2:
            sid = 2 * i + 1
            out.append(_frame(1, 4, sid, enc.encode([
                (":method", "POST"), (":path", f"/p{i}"), (":scheme", "https"),
                (":authority", "h2.bench.test"), ("content-type", "application/json")])))
            for k in range(0, len(body), 16384):
                last = k + 16384 >= len(body)
                out.append(_frame(0, 1 if last else 0, sid, body[k : k + 16384]))
            inn.append(_frame(1, 5, sid, denc.encode([(":status", "200")])))
        else:
            out.append(b"POST /p%d HTTP/1.1\r\nHost: h1.bench.test\r\nContent-Length: %d\r\n\r\n"
                       % (i, len(body)) + body)
            inn.append(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return out, inn, size


def make_run(parent: Path, megabytes: int) -> RunDir:
    rng = random.Random(1)
    run = RunDir.create(parent, "parse-bench")
    total, size, c = megabytes * 1024 * 1024, 0, 0
    with CaptureWriter(run.capture_db) as w:
        while size < total:
            c += 1
            conn = f"1:tls:{c}"
            out, inn, n = _conn(rng, 50, c % 2 == 0)
            size += n
            rows = [EventRow(t=time.time(), kind="stream", hook="native.tls.SSL_write_ex",
                             pid=1, conn=conn, direction=d, data=b, fields={"layer": "tls"})
                    for d, chunks in (("out", out), ("in", inn)) for b in chunks]
            w.write_batch(1, c, rows, connections=[{"conn": conn, "peer_ip": "192.0.2.1",
                                                    "peer_port": 443}])
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/parse-bench"))
    args = ap.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    run = make_run(args.dir, args.mb)
    t0 = time.perf_counter()
    n = build_messages(run)
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.mb} MB of bodies → {n} messages in {dt:.1f} s"
          f" ({args.mb / dt:.1f} MB/s, {dt / n * 1e6:.0f} µs/message); peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
