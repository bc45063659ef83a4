"""``harness export --format jsonl``: one JSON object per captured event (a contract).

Fields, in order: seq, t, kind, pid, tid, conn, direction, host, ip, port, tls_version,
cipher, hook, data (base64), truncated; ``fields`` carries the kind-specific members.
"""

from __future__ import annotations

import base64
import json
from typing import TextIO

from harness.capture.rundir import RunDir


def write_jsonl(run: RunDir, out: TextIO) -> int:
    n = 0
    with run.reader() as reader:
        for ev in reader.events():
            c = ev.connection
            obj = {
                "seq": ev.seq, "t": ev.t, "kind": ev.kind, "pid": ev.pid, "tid": ev.tid,
                "conn": ev.conn, "direction": ev.direction,
                "host": c.sni if c else None,
                "ip": c.peer_ip if c else None, "port": c.peer_port if c else None,
                "tls_version": c.tls_version if c else None, "cipher": c.cipher if c else None,
                "hook": ev.hook,
                "data": base64.b64encode(ev.data).decode("ascii") if ev.data is not None else None,
                "truncated": ev.truncated,
                "fields": dict(ev.fields),
            }
            out.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
            out.write("\n")
            n += 1
    return n
