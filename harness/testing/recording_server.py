"""A TLS server on 127.0.0.1 that records the exact plaintext it received, HTTP/1.1 or HTTP/2.

Used by the Java hook tests and bench: OkHttp negotiates ``h2`` when the server offers it
(ALPN), so this server speaks both. Every connection's received bytes are kept in order so a
test can compare a capture byte for byte; requests are answered ``200`` with a small body.
A context manager: leaving it closes every socket and joins every thread.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.lab.listener import Listener


@dataclass(frozen=True)
class ServerCert:
    cert: Path
    key: Path


def make_cert(directory: Path) -> ServerCert:
    """A self-signed certificate for 127.0.0.1 and localhost (its own trust anchor)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = ServerCert(directory / "server.pem", directory / "server.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return paths


@dataclass
class Received:
    """One connection as the server saw it."""

    alpn: str | None
    data: bytearray = field(default_factory=bytearray)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    """(method, path, headers, body) per request, HTTP/1.1 and HTTP/2 alike."""


class RecordingServer(Listener):
    """HTTP/1.1 and (when ``h2``) HTTP/2 over TLS on an ephemeral loopback port."""

    def __init__(self, cert: ServerCert, *, h2: bool = False, timeout: float = 15.0) -> None:
        super().__init__("recording-server", timeout)
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(str(cert.cert), str(cert.key))
        self.ctx.set_alpn_protocols(["h2", "http/1.1"] if h2 else ["http/1.1"])
        self.connections: list[Received] = []
        self.release = threading.Event()
        """Requests to ``/hold...`` paths are answered once this is set (or at ``timeout``)."""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def requests(self) -> list[tuple[str, str, dict[str, str], bytes]]:
        with self._lock:
            return [r for c in self.connections for r in c.requests]

    def _handle(self, raw: socket.socket, addr: tuple[str, int]) -> None:
        with raw:
            raw.settimeout(self.timeout)
            try:
                tls = self.ctx.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                return
            with tls:
                rec = Received(alpn=tls.selected_alpn_protocol())
                with self._lock:
                    self.connections.append(rec)
                try:
                    if rec.alpn == "h2":
                        self._h2(tls, rec)
                    else:
                        self._http1(tls, rec)
                except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
                    return

    def _recv(self, tls: ssl.SSLSocket, rec: Received) -> bytes:
        while not self.stopping:
            try:
                chunk = tls.recv(65536)
            except TimeoutError:
                return b""
            with self._lock:
                rec.data += chunk
            return chunk
        return b""

    def _http1(self, tls: ssl.SSLSocket, rec: Received) -> None:
        pending = bytearray()
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = self._recv(tls, rec)
                if not chunk:
                    return
                pending += chunk
            head, _, rest = bytes(pending).partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (ln.partition(":") for ln in lines[1:])}
            length = int(headers.get("content-length", "0"))
            body = bytearray(rest)
            while len(body) < length:
                chunk = self._recv(tls, rec)
                if not chunk:
                    return
                body += chunk
            pending = bytearray(body[length:])
            with self._lock:
                rec.requests.append((method, path, headers, bytes(body[:length])))
            if path.startswith("/hangup"):
                return  # a request that is never answered: the client reads end of stream
            if path.startswith("/hold"):
                self.release.wait(self.timeout)  # the client stays blocked in its read
            close = headers.get("connection", "").lower() == "close"
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                        + (b"Connection: close\r\n" if close else b"") + b"\r\nok")
            if close:
                return

    def _h2(self, tls: ssl.SSLSocket, rec: Received) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        tls.sendall(conn.data_to_send())
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        while True:
            chunk = self._recv(tls, rec)
            if not chunk:
                return
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.RequestReceived):
                    hdrs = {(k.decode() if isinstance(k, bytes) else k):
                            (v.decode() if isinstance(v, bytes) else v) for k, v in ev.headers}
                    streams[ev.stream_id] = (hdrs, bytearray())
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id][1].extend(ev.data)
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    hdrs, body = streams.pop(ev.stream_id)
                    with self._lock:
                        rec.requests.append((hdrs.get(":method", ""), hdrs.get(":path", ""),
                                             hdrs, bytes(body)))
                    conn.send_headers(ev.stream_id, [(":status", "200"), ("content-length", "2")])
                    conn.send_data(ev.stream_id, b"ok", end_stream=True)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    tls.sendall(conn.data_to_send())
                    return
            tls.sendall(conn.data_to_send())
