"""The Python twin of ``keepalive.c client``: http.client over ssl, one keep-alive connection.

    python keepalive_client.py PORT CA SECONDS BODY_BYTES RESULT_FILE

POSTs in a loop for SECONDS (timed from after the handshake) and writes the same JSON as the
C client. Used by ``bench/hook_overhead.py --client python`` to show the overhead as a Python
app sees it: its own per-request cost is several times the C client's, so the hooks' share
of it is smaller.
"""

from __future__ import annotations

import http.client
import json
import resource
import ssl
import sys
import time


def cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def main() -> int:
    port, ca, seconds, body_bytes, result = (int(sys.argv[1]), sys.argv[2],
                                             float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
    conn.connect()
    filler = b"x" * max(0, body_bytes - 20)
    requests = sent = read = 0
    p0, t0 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_THREAD)
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        body = b"%020d" % requests + filler if body_bytes >= 20 else filler
        conn.request("POST", "/bench", body=body)
        got = conn.getresponse().read()
        sent += len(body)  # the body only: http.client builds the headers itself
        read += len(got)
        requests += 1
    elapsed = time.monotonic() - start
    p1, t1 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_THREAD)
    conn.close()
    with open(result, "w", encoding="utf-8") as fh:
        json.dump({"requests": requests, "seconds": elapsed, "sent": sent, "read": read,
                   "cpu": p1 - p0, "thread_cpu": t1 - t0}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
