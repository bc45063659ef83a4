"""Real bytes for parser tests: real clients (curl) talk to real servers on 127.0.0.1
through a recording TCP relay, and the recording becomes a run dir exactly as a capture
writes one (``CaptureWriter``). Only the relay stands between them: it forwards every read
unchanged and notes it, the way a socket hook would.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h2.config
import h2.connection
import h2.events

from harness.capture.rundir import RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.protocol import JSON, Batch, NativeKind, conn_id
from harness.protocol_native import decode_conn_info


@dataclass
class Recording:
    """Chunks seen by the relay, per accepted connection: (t, direction, bytes)."""

    conns: list[list[tuple[float, str, bytes]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Relay:
    """A TCP relay on 127.0.0.1 that records what passes in each direction."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.rec = Recording()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Relay:
        self._accept.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._accept.join(5)
        for t in self._threads:
            t.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            chunks: list[tuple[float, str, bytes]] = []
            with self.rec.lock:
                self.rec.conns.append(chunks)
            up = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            lock = threading.Lock()
            for src, dst, d in ((client, up, "out"), (up, client, "in")):
                t = threading.Thread(target=self._pump, args=(src, dst, d, chunks, lock),
                                     daemon=True)
                self._threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str,
              chunks: list[tuple[float, str, bytes]], lock: threading.Lock) -> None:
        src.settimeout(0.2)
        try:
            while not self._stop.is_set():
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                with lock:
                    chunks.append((time.time(), direction, data))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
            if direction == "in":
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.close()


def write_run(parent: Path, rec: Recording, layer: str = "tcp", port: int = 80,
              sni: str | None = None, run_id: str = "run") -> RunDir:
    """A run dir holding the relay's recording as ``stream`` events (one per read)."""
    run = RunDir.create(parent, run_id)
    with CaptureWriter(run.capture_db) as w:
        for i, chunks in enumerate(rec.conns):
            conn = f"4242:{layer}:{i + 1}"
            hook = f"native.{layer}.{'SSL_write_ex' if layer == 'tls' else 'send'}"
            rows = [EventRow(t=t, kind="stream", hook=hook, pid=4242, conn=conn, direction=d,
                             data=b, fields={"layer": layer}) for t, d, b in chunks]
            w.write_batch(4242, i, rows, connections=[{
                "conn": conn, "pid": 4242, "layer": layer, "peer_ip": "127.0.0.1",
                "peer_port": port, "sni": sni}])
    return run


# --- servers ---------------------------------------------------------------------------


class _H1Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self) -> None:
        payload = gzip.compress(b"hello from " + self.path.encode())
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        body = self._body()
        self.send_response(201)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in (b"echo:", body):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")


@contextlib.contextmanager
def h1_server() -> Iterator[int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _H1Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def _h2_conn(sock: socket.socket, stop: threading.Event,
             chunks: list[tuple[float, str, bytes]]) -> None:
    # Record the TLS plaintext on the server side: what it reads is what the client sent.
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()

    def send(data: bytes) -> None:
        chunks.append((time.time(), "in", data))
        sock.sendall(data)

    send(conn.data_to_send())
    bodies: dict[int, bytearray] = {}
    heads: dict[int, list[tuple[bytes, bytes]]] = {}
    sock.settimeout(0.2)
    with sock:
        while not stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            chunks.append((time.time(), "out", data))
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    heads[ev.stream_id] = [(bytes(k), bytes(v)) for k, v in ev.headers]
                    bodies[ev.stream_id] = bytearray()
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    h = dict(heads.pop(ev.stream_id))
                    body = bytes(bodies.pop(ev.stream_id))
                    reply = gzip.compress(b"h2 echo " + h.get(b":path", b"") + b" " + body)
                    conn.send_headers(ev.stream_id, [
                        (":status", "200"), ("content-encoding", "gzip"),
                        ("content-length", str(len(reply))), ("x-served-by", "h2-test")])
                    conn.send_data(ev.stream_id, reply, end_stream=True)
            out = conn.data_to_send()
            if out:
                send(out)


@contextlib.contextmanager
def h2_server(cert: Path, key: Path) -> Iterator[tuple[int, Recording]]:
    """An HTTP/2 server over TLS (ALPN h2) on 127.0.0.1 answering each request with gzip of
    its path and body; yields its port and the plaintext it read and wrote."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["h2"])
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(0.2)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    rec = Recording()

    def serve() -> None:
        while not stop.is_set():
            try:
                s, _ = lsock.accept()
                s.settimeout(5)
                ts = ctx.wrap_socket(s, server_side=True)
            except (TimeoutError, ssl.SSLError):
                continue
            except OSError:
                return
            chunks: list[tuple[float, str, bytes]] = []
            with rec.lock:
                rec.conns.append(chunks)
            t = threading.Thread(target=_h2_conn, args=(ts, stop, chunks), daemon=True)
            threads.append(t)
            t.start()

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield lsock.getsockname()[1], rec
    finally:
        stop.set()
        acceptor.join(5)
        for t in threads:
            t.join(5)
        lsock.close()


def run_from_bytes(parent: Path, conns: list[list[tuple[str, bytes]]], layer: str = "tls",
                   alpn: str | None = None, run_id: str = "run", t0: float = 1000.0,
                   truncate: dict[int, int] | None = None) -> RunDir:
    """A run dir from hand-made flows: each conn is a list of (direction, bytes) reads.
    ``truncate`` maps a read's index (over all conns) to the length the hook said it had,
    as the agent records a body cut to its size cap."""
    run = RunDir.create(parent, run_id)
    i = 0
    with CaptureWriter(run.capture_db) as w:
        for n, chunks in enumerate(conns):
            conn = f"4242:{layer}:{n + 1}"
            rows = []
            for d, b in chunks:
                olen = (truncate or {}).get(i)
                rows.append(EventRow(t=t0 + i * 0.001, kind="stream",
                                     hook=f"native.{layer}.SSL_write_ex", pid=4242, conn=conn,
                                     direction=d, data=b, orig_len=olen,
                                     truncated=olen is not None, fields={"layer": layer}))
                i += 1
            w.write_batch(4242, n, rows, connections=[{
                "conn": conn, "pid": 4242, "layer": layer, "peer_ip": "127.0.0.1",
                "peer_port": 443, "alpn": alpn}])
    return run


def gzip_bomb(size: int, block: int = 1 << 20) -> bytes:
    """A gzip stream that inflates to ``size`` zero bytes, built without ever holding or
    compressing them all: one deflate block of ``block`` zeros, ended with a full flush so it
    stands alone, repeated. (The trailer's CRC is not computed: a decoder under a budget
    never reaches it.)"""
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    unit = c.compress(b"\0" * block) + c.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = (0).to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")
    return header + unit * (size // block) + end + trailer


def agent_run_to_rundir(parent: Path, batches: list[Batch], run_id: str = "agent") -> RunDir:
    """A run dir from batches the real agent sent (``harness.testing.agent_run``): native
    stream records become ``stream`` events and CONN_INFO the connection row, as the
    recorder stores them. (Replaced by ``harness capture`` once the recorder lands.)"""
    kinds = {NativeKind.TLS_OUT: ("tls", "out"), NativeKind.TLS_IN: ("tls", "in"),
             NativeKind.TCP_OUT: ("tcp", "out"), NativeKind.TCP_IN: ("tcp", "in"),
             NativeKind.UDP_OUT: ("udp", "out"), NativeKind.UDP_IN: ("udp", "in")}
    hook_names: dict[int, str] = {}
    for b in batches:
        for r in b.records:
            idx, name = r.fields.get("index"), r.fields.get("name")
            if r.kind == "hook" and isinstance(idx, int) and isinstance(name, str):
                hook_names[idx] = name
    run = RunDir.create(parent, run_id)
    with CaptureWriter(run.capture_db) as w:
        for b in batches:
            rows: list[EventRow] = []
            conns: list[dict[str, JSON]] = []
            for n in b.native:
                if n.kind == NativeKind.CONN_INFO:
                    info = decode_conn_info(n.body)
                    conns.append({**info, "conn": conn_id(b.pid, str(info["layer"]), n.handle),
                                  "pid": b.pid})
                    continue
                if n.kind not in kinds:  # connect, dns, udp-blocked: not what these tests read
                    continue
                layer, direction = kinds[n.kind]
                rows.append(EventRow(
                    t=n.t_ns / 1e9, kind="stream", pid=b.pid, tid=n.tid,
                    hook=hook_names.get(n.hook, f"native.{layer}"),
                    conn=conn_id(b.pid, layer, n.handle), direction=direction, data=n.body,
                    orig_len=n.orig_len, truncated=n.truncated, fields={"layer": layer}))
            w.write_batch(b.pid, b.seq, rows, connections=conns)
    return run
