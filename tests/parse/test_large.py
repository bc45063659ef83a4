"""A 200 MB body: parsed in a child process whose peak memory is measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.capture.rundir import RunDir
from harness.capture.writer import CaptureWriter, EventRow

CHILD = """
import json, resource, sys
from harness.parse.storeread import MessageStore
with MessageStore.open(sys.argv[1]) as s:
    sizes = [(m.method, m.url, len(m.body)) for m in s.messages(with_body=False)]
    big = s.get("m1")
    tail = big.body[-16:]
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "sizes": sizes, "big_len": len(big.body), "tail": tail.hex()}))
"""


@pytest.mark.slow
def test_200mb_body_bounded_memory(tmp_path: Path) -> None:
    size = 200 * 1024 * 1024
    run = RunDir.create(tmp_path, "big")
    head = (b"POST /upload HTTP/1.1\r\nHost: big.test\r\nContent-Length: %d\r\n\r\n" % size)
    piece = bytes(range(256)) * 256  # 64 KiB
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(1, 0, [EventRow(t=1.0, kind="stream", hook="native.tls.SSL_write",
                                      pid=1, conn="1:tls:1", direction="out", data=head,
                                      fields={"layer": "tls"})])
        for i in range(size // len(piece)):
            w.write_batch(1, i + 1, [EventRow(t=1.0 + i * 1e-6, kind="stream",
                                              hook="native.tls.SSL_write", pid=1,
                                              conn="1:tls:1", direction="out", data=piece,
                                              fields={"layer": "tls"})])
        w.write_batch(1, 10**6, [EventRow(t=9.0, kind="stream", hook="native.tls.SSL_write",
                                          pid=1, conn="1:tls:1", direction="out",
                                          data=b"GET /after HTTP/1.1\r\nHost: big.test\r\n\r\n",
                                          fields={"layer": "tls"})])
    out = subprocess.run([sys.executable, "-c", CHILD, str(run.path)], capture_output=True,
                         check=True, timeout=300)
    res = json.loads(out.stdout)
    assert res["big_len"] == size
    assert bytes.fromhex(res["tail"]) == piece[-16:]
    assert [s[1] for s in res["sizes"]] == ["https://big.test/upload", "https://big.test/after"]
    print(f"peak RSS {res['rss_kb'] // 1024} MB")  # shown with -s
    assert res["rss_kb"] < 2 * 1024 * 1024  # under 2 GB at peak, parse and read included
