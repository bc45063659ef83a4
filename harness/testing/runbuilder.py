"""Builds real run dirs without a device, for the claims and report tests and the benchmarks.

What it writes is what a capture writes: ``run.json`` (phases with their app state, health,
planted canaries), ``needles.json``, and ``capture.sqlite`` through :class:`CaptureWriter`
(hook registry events, batches with sequence numbers, connections, HTTP/1.1 bytes as a TLS
or plain TCP hook would record them, the app's encoder/cipher calls). The analysis that
follows (:func:`harness.analysis.analyze_run`) is the real one, so findings, messages and
destinations come from parsing and decoding those bytes, not from a hand-written answer.

Health is computed from what was written, the way the recorder does (batches, records, hooked
bytes, sequence gaps per pid), with explicit overrides for what a test needs to break.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.rundir import Health, Phase, RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.protocol import JSON

CANARY_HOST = "canary.lab.test"
PHASE_SECONDS = 100.0
"""Each phase gets its own window of (fake) time; messages are stamped inside it."""
BATCH_ROWS = 400


@dataclass
class _Conn:
    conn: str
    host: str
    ip: str
    port: int
    tls: str | None
    """None: plain TCP (the message is plaintext HTTP)."""


@dataclass
class _PhaseSpec:
    phase: Phase
    rows: list[EventRow] = field(default_factory=list)
    conns: list[dict[str, JSON]] = field(default_factory=list)
    n: int = 0
    """Events stamped so far (each a little later than the last)."""


def http_request(method: str, host: str, path: str, body: bytes = b"",
                 headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """The bytes of one HTTP/1.1 request, as an app writes them into its socket."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def copy_run(run: RunDir, dest: Path) -> RunDir:
    """A copy of a built run dir at ``dest``, for a test that damages or edits it."""
    shutil.copytree(run.path, dest)
    return RunDir(dest)


class RunBuilder:
    """One journey's run dir. Call :meth:`phase`, then traffic; :meth:`build` writes it."""

    def __init__(self, parent: Path, journey: str = "journey", *, run_id: str | None = None,
                 required_hooks: Iterable[str] = ("native.tls",), app: str = "lab:builder",
                 pid: int = 4242) -> None:
        self.parent = parent
        self.journey = journey
        self.run_id = run_id or f"{journey}-{secrets.token_hex(3)}"
        self.required_hooks = list(required_hooks)
        self.app = app
        self.pid = pid
        self.t0 = time.time() - 3600.0
        self.phases: list[_PhaseSpec] = []
        self.needles: list[dict[str, JSON]] = []
        self.planted: list[str] = []
        self.hooks: list[dict[str, JSON]] = [
            {"name": "native.tls.libssl.SSL_write", "status": "installed", "group": "native.tls"},
            {"name": "native.tls.libssl.SSL_read", "status": "installed", "group": "native.tls"},
            {"name": "native.tcp.send", "status": "installed", "group": "native.tcp"},
            {"name": "java.conscrypt.SSLOutputStream.write", "status": "skipped",
             "group": "java.conscrypt", "reason": "class not present"},
        ]
        self.health: dict[str, JSON] = {}
        """Overrides of run.json health (what the capture claimed), applied last."""
        self.status = "complete"
        self.skip_seqs: set[int] = set()
        """Batch sequence numbers never written: a real gap in capture.sqlite."""
        self.kernel_out: int | None = None
        self._cur = -1
        self._conns = 0

    # --- scenario -----------------------------------------------------------------------

    def phase(self, name: str, *, complete: bool = True, notes: Iterable[str] = (),
              **state: bool) -> RunBuilder:
        """Start a phase; traffic written next belongs to it. State defaults as in scenarios."""
        full: dict[str, JSON] = {"incognito": False, "signed_in": False, "sync": False,
                                 "usage_stats": True}
        full.update(state)
        start = self.t0 + len(self.phases) * PHASE_SECONDS
        self.phases.append(_PhaseSpec(Phase(name, start, start + PHASE_SECONDS - 1.0, complete,
                                            full, list(notes))))
        self._cur = len(self.phases) - 1
        return self

    def resume(self, name: str) -> RunBuilder:
        """Write further traffic into an earlier phase."""
        self._cur = next(i for i, s in enumerate(self.phases) if s.phase.name == name)
        return self

    def needle(self, name: str, cls: str, value: str) -> str:
        self.needles.append({"name": name, "class": cls, "value": value, "source": "builder"})
        return value

    def canary(self, load: bool = True) -> str:
        """Plant this phase's canary URL; ``load=False`` leaves out its page load (the
        positive control), as when the capture missed the browser's own traffic."""
        ph = self._current.phase.name
        token = f"cnry{secrets.token_hex(8)}{''.join(c for c in ph if c.isalnum())[:10]}"
        self.needle(f"canary-url:{ph}", "browsing", token)
        self.planted.append(f"canary-url:{ph}")
        if load:
            self.request(CANARY_HOST, f"/c/{token}", method="GET")
        return token

    def hook(self, name: str, status: str = "installed", reason: str | None = None) -> None:
        """Add (or, for an existing name, replace) a hook registry entry."""
        self.hooks = [h for h in self.hooks if h["name"] != name]
        self.hooks.append({"name": name, "status": status, "group": ".".join(name.split(".")[:2]),
                           "reason": reason})

    # --- traffic ------------------------------------------------------------------------

    @property
    def _current(self) -> _PhaseSpec:
        if not self.phases:
            raise ValueError("call phase() before writing traffic")
        return self.phases[self._cur]

    def _t(self) -> float:
        spec = self._current
        spec.n += 1
        return spec.phase.start + 0.5 + spec.n * 1e-4

    def connect(self, host: str, *, ip: str = "127.0.0.1", port: int = 443,
                tls: str | None = "TLSv1.3") -> str:
        """A new connection (TLS unless ``tls=None``) in the current phase; its id."""
        self._conns += 1
        layer = "tls" if tls else "tcp"
        cid = f"{self.pid}:{layer}:{self._conns}"
        self._current.conns.append({
            "conn": cid, "pid": self.pid, "layer": layer, "transport": "tcp",
            "peer_ip": ip, "peer_port": port, "sni": host if tls else None,
            "tls_version": tls, "cipher": "TLS_AES_128_GCM_SHA256" if tls else None,
            "library": "libssl" if tls else None, "first_t": self._t()})
        return cid

    def send(self, conn: str, data: bytes, direction: str = "out",
             keep: int | None = None, hook: str | None = None) -> None:
        """Bytes through a TLS or TCP hook (``hook`` names another, e.g. a Java stream);
        ``keep`` records only that many of them (the agent's record size cap), as a
        truncated event."""
        layer = conn.split(":")[1]
        hook = hook or (("native.tls.libssl.SSL_write" if direction == "out"
                         else "native.tls.libssl.SSL_read") if layer == "tls" else (
            "native.tcp.send" if direction == "out" else "native.tcp.recv"))
        self._current.rows.append(EventRow(t=self._t(), kind="stream", hook=hook, pid=self.pid,
                                           tid=self.pid, conn=conn, direction=direction,
                                           data=data if keep is None else data[:keep],
                                           orig_len=len(data), truncated=keep is not None,
                                           fields={"layer": layer}))

    def request(self, host: str, path: str = "/", *, method: str = "POST", body: bytes = b"",
                headers: Iterable[tuple[str, str]] = (), ip: str = "127.0.0.1", port: int = 443,
                tls: str | None = "TLSv1.3", conn: str | None = None,
                response: bytes | None = b"{}") -> str:
        """One HTTP/1.1 exchange on a new (or the given) connection; the connection id."""
        cid = conn or self.connect(host, ip=ip, port=port, tls=tls)
        self.send(cid, http_request(method, host, path, body, headers))
        if response is not None:
            self.send(cid, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      + f"Content-Length: {len(response)}\r\n\r\n".encode() + response, "in")
        return cid

    def java_request(self, url: str, *, method: str = "POST", body: bytes = b"",
                     headers: Iterable[tuple[str, str]] = (),
                     stack: str = "urlconnection") -> None:
        """A request as a Java HTTP stack hook records it (a record, not stream bytes): what
        the lab browser's HttpURLConnection calls look like to the harness."""
        self._current.rows.append(EventRow(
            t=self._t(), kind="http", hook=f"java.{stack}.HttpClient.writeRequests",
            pid=self.pid, tid=self.pid, direction="out", data=body or None,
            fields={"stack": stack, "phase": "request", "url": url, "method": method,
                    "headers": [[k, v] for k, v in headers], "protocol": "HTTP/1.1",
                    "call": f"{stack}:{self.pid}:{self._current.n}"}))

    def sdk_call(self, sdk: str, method: str, event: str,
                 properties: dict[str, JSON]) -> None:
        """An analytics SDK entry point call, as the SDK hooks record it."""
        self._current.rows.append(EventRow(
            t=self._t(), kind="sdk", hook=f"java.sdk.{sdk}.{method}", pid=self.pid,
            tid=self.pid, direction="out",
            fields={"sdk": sdk, "method": method, "event": event, "properties": properties}))

    def transform(self, op: str, algorithm: str, data_in: bytes, data_out: bytes) -> None:
        """The app's own encoder or cipher call, as the Java encoder hooks record it."""
        hook = "java.encoders.Cipher.doFinal" if op.startswith("cipher") \
            else "java.encoders.java.Base64.encode"
        self._current.rows.append(EventRow(
            t=self._t(), kind="transform", hook=hook, pid=self.pid, tid=self.pid,
            fields={"op": op, "algorithm": algorithm,
                    "input": base64.b64encode(data_in).decode(),
                    "output": base64.b64encode(data_out).decode()}))

    # --- writing ------------------------------------------------------------------------

    def build(self, *, analyze: bool = True) -> RunDir:
        run = RunDir.create(self.parent, self.run_id)
        health = Health()
        seq = 0
        with CaptureWriter(run.capture_db) as w:
            hook_rows = [EventRow(t=self.t0, kind="hook", hook="registry", pid=self.pid,
                                  fields={**h, "target": str(h["name"]), "index": i})
                         for i, h in enumerate(self.hooks)]
            batches: list[tuple[list[EventRow], list[dict[str, JSON]]]] = [(hook_rows, [])]
            for spec in self.phases:
                for i in range(0, max(len(spec.rows), 1), BATCH_ROWS):
                    conns = spec.conns if i == 0 else []
                    batches.append((spec.rows[i:i + BATCH_ROWS], conns))
            for rows, conns in batches:
                while seq in self.skip_seqs:
                    seq += 1
                    health.sequence_gaps += 1
                if not rows and not conns:
                    continue
                w.write_batch(self.pid, seq, rows, conns, received=rows[0].t if rows else None)
                seq += 1
                health.batches += 1
                health.records += len(rows)
                for r in rows:
                    if r.kind == "stream" and r.orig_len:
                        if r.direction == "out":
                            health.bytes_hooked_out += r.orig_len
                        else:
                            health.bytes_hooked_in += r.orig_len
            for spec in self.phases:
                p = spec.phase
                w.marker("phase-start", p.name, {"state": p.state}, t=p.start)
                w.marker("phase-end", p.name, {"complete": p.complete}, t=p.end)
        health.hooks_installed = sum(h["status"] == "installed" for h in self.hooks)
        health.hooks_skipped = sum(h["status"] == "skipped" for h in self.hooks)
        health.hooks_failed = sum(h["status"] == "failed" for h in self.hooks)
        health.bytes_kernel_out = self.kernel_out
        for k, v in self.health.items():
            setattr(health, k, v)
        info = run.load_info()
        info.status = self.status
        info.started, info.ended = self.t0, self.t0 + len(self.phases) * PHASE_SECONDS
        info.device = {"serial": "builder", "kind": "host", "model": "run builder",
                       "fingerprint": "builder/none"}
        info.target = {"app": self.app, "required_hooks": list(self.required_hooks)}
        info.scenario = {"name": self.journey}
        info.phases = [s.phase for s in self.phases]
        info.health = health
        info.tools = {"harness": "test", "agent_bundle": "0" * 64}
        info.command = ["harness", "run", f"scenarios/{self.journey}.yaml"]
        info.extra = {"planted_canaries": list(self.planted)}
        run.save_info(info)
        run.write_json("needles.json", self.needles)
        if analyze:
            from harness.analysis import analyze_run

            analyze_run(run)
        return run

