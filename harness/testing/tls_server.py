"""A TLS server on 127.0.0.1 that keeps the exact bytes of every connection.

It answers HTTP/1.1 requests (keep-alive, Content-Length bodies) with a small response and
records, per connection, everything received and everything sent, so tests can check a
capture byte for byte. A context manager: leaving it closes every socket and joins threads.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass

from harness.lab.listener import Listener
from harness.testing.certs import PKIFiles
from harness.testing.plain_server import PlainConnection, answer


@dataclass
class ConnectionLog(PlainConnection):
    sni: str | None = None
    version: str | None = None


class TLSServer(Listener):
    """HTTP/1.1 over TLS on an ephemeral loopback port."""

    def __init__(self, pki: PKIFiles, *, body: bytes = b"ok",
                 max_version: ssl.TLSVersion | None = None, timeout: float = 10.0) -> None:
        super().__init__("tls-server", timeout)
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(str(pki.cert), str(pki.key))
        if max_version is not None:
            self.ctx.maximum_version = max_version
        self.body = body
        self.connections: list[ConnectionLog] = []

    def _handle(self, raw: socket.socket, addr: tuple[str, int]) -> None:
        log = ConnectionLog(peer=addr)
        with self._lock:
            self.connections.append(log)
        self._serve_tls(raw, log)

    def _serve_tls(self, raw: socket.socket, log: ConnectionLog) -> None:
        raw.settimeout(self.timeout)
        try:
            with self.ctx.wrap_socket(raw, server_side=True) as conn:
                log.version = conn.version()
                log.sni = getattr(conn, "server_hostname", None)
                if answer(conn, log, self.body, lambda: self.stopping):
                    # close_notify, then at most 0.5 s for the peer's
                    conn.settimeout(0.5)
                    with contextlib.suppress(OSError, ssl.SSLError):
                        conn.unwrap()
        except (OSError, ssl.SSLError):
            return

    def received_total(self) -> bytes:
        with self._lock:
            return b"".join(bytes(c.received) for c in self.connections)
