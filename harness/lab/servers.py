"""The lab's servers, all HTTPS on one loopback port, told apart by Host:

- ``canary.lab.test``: the canary site; a page for every canary URL, each load logged;
- ``sa.api.lab.test``: receives analytics (Sensors Analytics format) and keeps them;
- ``sync.lab.test``: receives history sync and keeps it.

What they keep is used only to check that a capture is complete, never as the capture.
"""

from __future__ import annotations

import html
import socket
import ssl
import time
from dataclasses import dataclass

from harness.lab.listener import Listener
from harness.testing.certs import PKIFiles

LAB_HOSTS = ("canary.lab.test", "sa.api.lab.test", "sync.lab.test")


@dataclass(frozen=True, slots=True)
class LabRequest:
    t: float
    host: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    tls_version: str | None


class LabServers(Listener):
    """The three lab hosts on one HTTPS port, told apart by Host; a context manager."""

    def __init__(self, pki: PKIFiles, timeout: float = 15.0) -> None:
        super().__init__("lab-servers", timeout)
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(str(pki.cert), str(pki.key))
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.requests: list[LabRequest] = []

    def base(self, host: str) -> str:
        return f"https://{host}:{self.port}"

    def received(self, host: str) -> list[LabRequest]:
        with self._lock:
            return [r for r in self.requests if r.host == host]

    def _handle(self, raw: socket.socket, addr: tuple[str, int]) -> None:
        raw.settimeout(self.timeout)
        try:
            with self.ctx.wrap_socket(raw, server_side=True) as conn:
                buf = bytearray()
                while not self.stopping:
                    req = self._read_request(conn, buf)
                    if req is None:
                        return
                    with self._lock:
                        self.requests.append(req)
                    conn.sendall(self._answer(req))
        except (OSError, ssl.SSLError, ValueError):
            return

    def _read_request(self, conn: ssl.SSLSocket, buf: bytearray) -> LabRequest | None:
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return None
            buf += data
            if len(buf) > 1 << 20:
                raise ValueError("header too large")
        end = buf.index(b"\r\n\r\n")
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = tuple((k.strip(), v.strip()) for k, _, v in (x.partition(":") for x in lines[1:]))
        hmap = {k.lower(): v for k, v in headers}
        length = int(hmap.get("content-length", "0"))
        if length > 64 << 20:
            raise ValueError("body too large")
        del buf[: end + 4]
        while len(buf) < length:
            data = conn.recv(65536)
            if not data:
                return None
            buf += data
        body = bytes(buf[:length])
        del buf[:length]
        host = hmap.get("host", "").rsplit(":", 1)[0]
        return LabRequest(time.time(), host, method, path, headers, body, conn.version())

    def _answer(self, req: LabRequest) -> bytes:
        if req.host == "canary.lab.test":
            title = html.escape(req.path)
            body = (f"<!doctype html><title>{title}</title><h1>lab page</h1>"
                    f"<p>{title}</p>").encode()
            ctype = "text/html; charset=utf-8"
        elif req.host == "sa.api.lab.test":
            body, ctype = b'{"code":0}', "application/json"
        elif req.host == "sync.lab.test":
            body, ctype = b'{"ok":true}', "application/json"
        else:
            body, ctype = b"unknown lab host", "text/plain"
        status = "200 OK" if req.host in LAB_HOSTS else "404 Not Found"
        return (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"\r\n").encode() + body
