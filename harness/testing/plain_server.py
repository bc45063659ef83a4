"""Plaintext servers on loopback that keep the exact bytes of every exchange.

:class:`PlainHTTPServer` answers HTTP/1.1 requests (keep-alive, Content-Length bodies) over
plain TCP on 127.0.0.1 or ::1 and records, per connection, everything received and sent.
:class:`UDPListener` binds a loopback UDP port, records each datagram with its sender and
echoes it back. Both are context managers: leaving one closes its sockets and joins threads.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import NamedTuple

from harness.lab.listener import Listener


@dataclass
class PlainConnection:
    peer: tuple[str, int]
    received: bytearray = field(default_factory=bytearray)
    sent: bytearray = field(default_factory=bytearray)


class Reply(NamedTuple):
    data: bytes
    close: bool
    """The request said ``Connection: close``: the server closes after ``data``."""


def take_request(pending: bytearray, body: bytes) -> Reply | None:
    """The response to the first complete request in ``pending`` (removed), or None.

    A request with ``Connection: close`` gets its response and then the server closes, as
    HTTP/1.1 says: a client reading to EOF is not left blocked until the idle timeout."""
    end = pending.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = 0
    close = False
    for line in bytes(pending[:end]).decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and "close" in value.lower():
            close = True
    total = end + 4 + length
    if len(pending) < total:
        return None
    del pending[:total]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
    if close:
        head += b"Connection: close\r\n"
    return Reply(head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
                 close)


def answer(conn: socket.socket, log: PlainConnection, body: bytes,
           stopping: Callable[[], bool]) -> bool:
    """Answer the HTTP/1.1 requests arriving on ``conn`` and log both directions, until EOF,
    an error or a timeout (False), or a request that said ``Connection: close`` (True, once
    its response is sent: a TLS caller then says goodbye)."""
    pending = bytearray()
    while not stopping():
        try:
            data = conn.recv(65536)
        except OSError:  # timeouts and TLS errors too
            return False
        if not data:
            return False
        log.received += data
        pending += data
        while (reply := take_request(pending, body)) is not None:
            conn.sendall(reply.data)
            log.sent += reply.data
            if reply.close:
                return True
    return False


class PlainHTTPServer(Listener):
    """HTTP/1.1 over plain TCP on an ephemeral loopback port (``host`` 127.0.0.1 or ::1)."""

    def __init__(self, host: str = "127.0.0.1", *, body: bytes = b"ok",
                 timeout: float = 10.0) -> None:
        super().__init__("plain-server", timeout, host)
        self.host = host
        self.body = body
        self.connections: list[PlainConnection] = []

    def _handle(self, raw: socket.socket, addr: tuple[str, int]) -> None:
        log = PlainConnection(peer=(addr[0], addr[1]))
        with self._lock:
            self.connections.append(log)
        self._exchange(raw, log)

    def _exchange(self, conn: socket.socket, log: PlainConnection) -> None:
        conn.settimeout(self.timeout)
        with conn:
            answer(conn, log, self.body, lambda: self.stopping)


@dataclass(frozen=True)
class Datagram:
    sender: tuple[str, int]
    data: bytes


class UDPListener:
    """A UDP socket on ``(host, port)`` that records and echoes every datagram."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                   socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.2)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.datagrams: list[Datagram] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="udp-listener", daemon=True)

    def __enter__(self) -> UDPListener:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams.append(Datagram((addr[0], addr[1]), data))
            self._sock.sendto(data, addr)
