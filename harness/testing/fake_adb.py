"""A fake adb server that speaks the real adb host ("smart socket") protocol, for tests.

It is what ``adb start-server`` runs on port 5037, as adbutils 2.12 talks to it: a request is
four hex digits of length then the text; the answer starts with ``OKAY`` or ``FAIL`` + a
length-prefixed message. Served: ``host:version``, ``host:devices[-l]``, ``host:kill``,
``host:list-forward``, ``host:tport:serial:S`` (OKAY + 8-byte transport id) and
``host:transport:S``, then on the transport ``shell:`` (raw output, close), ``shell,v2:`` (packets
``id, u32le length, payload``; id 1 stdout, 2 stderr, 3 exit code), ``sync:`` (STAT, LIST, SEND
with DATA/DONE, RECV, QUIT), ``root:``, ``reverse:forward|killforward|list-forward``,
``tcp:PORT`` (a stream to a device service); ``host-serial:S:features|get-state|
get-serialno|forward|killforward|list-forward``. A ``forward`` really listens on the host port
and tunnels to the device's service, so a client (Frida, uiautomator2) reaches the device through
it as through real adb. The device side is :class:`harness.testing.fake_phone.FakePhone`.

Use it as a context manager; ``port`` is an ephemeral port on 127.0.0.1. A second instance is
a "remote adb server" (``--adb 127.0.0.1:PORT``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType

from harness.testing.fake_adb_sync import Closed, recv_exact, serve_sync
from harness.testing.fake_phone import FakePhone

log = logging.getLogger(__name__)

ADB_SERVER_VERSION = 41
"""What adb 1.0.41 (platform-tools 29+) reports; adbutils then uses ``host:tport:serial:``."""

IO_TIMEOUT = 10.0


def _block(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return f"{len(data):04x}".encode() + data


@dataclass
class Forward:
    serial: str
    local: str
    remote: str
    listener: socket.socket
    connections: int = 0


@dataclass
class Reverse:
    serial: str
    remote: str
    local: str


@dataclass
class Wire:
    """What went over the wire, for assertions."""

    requests: list[str] = field(default_factory=list)
    pushes: list[tuple[str, str, int]] = field(default_factory=list)
    """(serial, path, size) of every completed sync SEND."""


class FakeAdbServer:
    """An adb server on 127.0.0.1:<ephemeral> serving the given phones."""

    def __init__(self, *phones: FakePhone) -> None:
        self.phones: dict[str, FakePhone] = {p.serial: p for p in phones}
        self.forwards: list[Forward] = []
        self.reverses: list[Reverse] = []
        self.wire = Wire()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            block_on_close = False

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-adb",
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FakeAdbServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for fwd in self.forwards:
                with contextlib.suppress(OSError):
                    fwd.listener.close()
            self.forwards.clear()
        for t in self._threads:
            t.join(timeout=2)
        self._thread.join(timeout=2)

    # -- one client connection ------------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT)
        try:
            request = self._read_request(conn)
            with self._lock:
                self.wire.requests.append(request)
            self._host(conn, request)
        except (Closed, OSError, ValueError) as exc:
            log.debug("fake adb: connection ended: %s", exc)

    def _read_request(self, conn: socket.socket) -> str:
        size = int(recv_exact(conn, 4).decode("ascii"), 16)
        return recv_exact(conn, size).decode("utf-8")

    def _host(self, conn: socket.socket, req: str) -> None:
        if req == "host:version":
            conn.sendall(b"OKAY" + _block(f"{ADB_SERVER_VERSION:04x}"))
        elif req in ("host:devices", "host:devices-l"):
            conn.sendall(b"OKAY" + _block(self._devices(long=req.endswith("-l"))))
        elif req == "host:kill":
            conn.sendall(b"OKAY")
        elif req == "host:list-forward":
            conn.sendall(b"OKAY" + _block(self._forward_list(None)))
        elif req.startswith("host:tport:serial:"):
            phone = self._transport(conn, req.removeprefix("host:tport:serial:"))
            if phone is not None:
                conn.sendall(b"OKAY" + struct.pack("<Q", self._transport_id(phone)))
                self._device_service(conn, phone)
        elif req.startswith("host:transport:"):
            phone = self._transport(conn, req.removeprefix("host:transport:"))
            if phone is not None:
                conn.sendall(b"OKAY")
                self._device_service(conn, phone)
        elif req.startswith("host-serial:"):
            serial, _, cmd = req.removeprefix("host-serial:").partition(":")
            self._host_serial(conn, serial, cmd)
        else:
            self._fail(conn, f"unknown host service '{req}'")

    def _devices(self, *, long: bool) -> str:
        lines = []
        for phone in self.phones.values():
            line = f"{phone.serial:<22} {phone.state}" if long else f"{phone.serial}\t{phone.state}"
            if long and phone.state == "device":
                p = phone.props
                line += (f" usb:1-1 product:{p.get('ro.product.name', '')} "
                         f"model:{p.get('ro.product.model', '').replace(' ', '_')} "
                         f"device:{p.get('ro.product.device', '')} "
                         f"transport_id:{self._transport_id(phone)}")
            elif long:
                line += " usb:1-1 transport_id:" + str(self._transport_id(phone))
            lines.append(line + "\n")
        return "".join(lines)

    def _transport_id(self, phone: FakePhone) -> int:
        return list(self.phones).index(phone.serial) + 1

    def _transport(self, conn: socket.socket, serial: str) -> FakePhone | None:
        phone = self.phones.get(serial)
        if phone is None:
            self._fail(conn, f"device '{serial}' not found")
            return None
        if phone.state == "offline":
            self._fail(conn, "device offline")
            return None
        if phone.state == "unauthorized":
            self._fail(conn, "device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is not "
                             "set\nTry 'adb kill-server' if that seems wrong.\nOtherwise check "
                             "for a confirmation dialog on your device.")
            return None
        return phone

    def _host_serial(self, conn: socket.socket, serial: str, cmd: str) -> None:
        if cmd == "get-state":
            phone = self.phones.get(serial)
            if phone is None:
                self._fail(conn, f"device '{serial}' not found")
            else:
                conn.sendall(b"OKAY" + _block(phone.state))
            return
        phone = self._transport(conn, serial)
        if phone is None:
            return
        if cmd == "features":
            conn.sendall(b"OKAY" + _block(phone.features))
        elif cmd == "get-serialno":
            conn.sendall(b"OKAY" + _block(phone.props.get("ro.serialno", serial)))
        elif cmd == "list-forward":
            conn.sendall(b"OKAY" + _block(self._forward_list(serial)))
        elif cmd.startswith("forward:"):
            self._forward(conn, phone, cmd.removeprefix("forward:"))
        elif cmd.startswith("killforward:"):
            local = cmd.removeprefix("killforward:")
            with self._lock:
                match = [f for f in self.forwards if f.serial == serial and f.local == local]
                for f in match:
                    self.forwards.remove(f)
                    f.listener.close()
            if match:
                conn.sendall(b"OKAY" + b"OKAY")
            else:
                self._fail(conn, f"listener '{local}' not found")
        else:
            self._fail(conn, f"unknown host service 'host-serial:{serial}:{cmd}'")

    def _forward_list(self, serial: str | None) -> str:
        with self._lock:
            return "".join(f"{f.serial} {f.local} {f.remote}\n" for f in self.forwards
                           if serial is None or f.serial == serial)

    def _forward(self, conn: socket.socket, phone: FakePhone, spec: str) -> None:
        norebind = spec.startswith("norebind:")
        local, _, remote = spec.removeprefix("norebind:").partition(";")
        if not local.startswith("tcp:") or not remote.startswith("tcp:"):
            self._fail(conn, f"cannot bind listener: unsupported '{local}'")
            return
        with self._lock:
            old = [f for f in self.forwards if f.local == local]
            if old and norebind:
                self._fail(conn, "cannot rebind existing socket")
                return
            for f in old:
                self.forwards.remove(f)
                f.listener.close()
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", int(local[4:])))
        except OSError as exc:
            listener.close()
            self._fail(conn, f"cannot bind listener: {exc}")
            return
        listener.listen(8)
        listener.settimeout(0.1)
        fwd = Forward(phone.serial, local, remote, listener)
        with self._lock:
            self.forwards.append(fwd)
        t = threading.Thread(target=self._accept_forward, args=(fwd, phone), daemon=True,
                             name=f"fake-adb-forward-{local}")
        self._threads.append(t)
        t.start()
        conn.sendall(b"OKAY" + b"OKAY")

    def _accept_forward(self, fwd: Forward, phone: FakePhone) -> None:
        while not self._stop.is_set():
            try:
                client, _ = fwd.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                fwd.connections += 1
            service = phone.tcp_services.get(int(fwd.remote[4:]))
            if service is None:
                client.close()  # nothing listens on the device port: adb closes the stream
                continue
            client.settimeout(IO_TIMEOUT)
            threading.Thread(target=service, args=(client,), daemon=True).start()

    # -- services on a device transport ----------------------------------------------------

    def _device_service(self, conn: socket.socket, phone: FakePhone) -> None:
        req = self._read_request(conn)
        with self._lock:
            self.wire.requests.append(f"{phone.serial}|{req}")
        if req.startswith("shell,v2:"):
            self._shell_v2(conn, phone, req.removeprefix("shell,v2:"))
        elif req.startswith("shell:"):
            self._shell_v1(conn, phone, req.removeprefix("shell:"))
        elif req == "sync:":
            conn.sendall(b"OKAY")
            serve_sync(conn, phone, self._pushed)
        elif req == "root:":
            conn.sendall(b"OKAY" + phone.adb_root())
        elif req.startswith("reverse:"):
            self._reverse(conn, phone, req.removeprefix("reverse:"))
        elif req.startswith("tcp:"):
            service = phone.tcp_services.get(int(req[4:]))
            if service is None:
                self._fail(conn, "closed")
                return
            conn.sendall(b"OKAY")
            service(conn)
        else:
            self._fail(conn, f"unknown service '{req}'")

    def _shell_v1(self, conn: socket.socket, phone: FakePhone, command: str) -> None:
        out = phone.shell(command)
        conn.sendall(b"OKAY" + out.v1)
        if out.stream:
            self._hold(conn)
            if out.on_close is not None:
                out.on_close()

    def _shell_v2(self, conn: socket.socket, phone: FakePhone, command: str) -> None:
        out = phone.shell(command)
        conn.sendall(b"OKAY")
        packets = b""
        if out.stdout:
            packets += b"\x01" + struct.pack("<I", len(out.stdout)) + out.stdout
        if out.stderr:
            packets += b"\x02" + struct.pack("<I", len(out.stderr)) + out.stderr
        conn.sendall(packets)
        if out.stream:
            self._hold(conn)
            if out.on_close is not None:
                out.on_close()
        conn.sendall(b"\x03" + struct.pack("<I", 1) + bytes([out.exit_code & 0xFF]))

    def _hold(self, conn: socket.socket) -> None:
        """A long-running command: keep the stream until the client closes or we stop."""
        conn.settimeout(0.1)
        while not self._stop.is_set():
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _reverse(self, conn: socket.socket, phone: FakePhone, cmd: str) -> None:
        conn.sendall(b"OKAY")
        if cmd.startswith("forward:"):
            spec = cmd.removeprefix("forward:").removeprefix("norebind:")
            remote, _, local = spec.partition(";")
            with self._lock:
                self.reverses = [r for r in self.reverses
                                 if not (r.serial == phone.serial and r.remote == remote)]
                self.reverses.append(Reverse(phone.serial, remote, local))
            if remote.startswith("tcp:") and local.startswith("tcp:"):
                with phone.lock:
                    phone.reverse_ports[int(remote[4:])] = int(local[4:])
            conn.sendall(b"OKAY")
        elif cmd.startswith("killforward:"):
            remote = cmd.removeprefix("killforward:")
            with self._lock:
                before = len(self.reverses)
                self.reverses = [r for r in self.reverses
                                 if not (r.serial == phone.serial and r.remote == remote)]
                found = len(self.reverses) != before
            if remote.startswith("tcp:"):
                with phone.lock:
                    phone.reverse_ports.pop(int(remote[4:]), None)
            conn.sendall(b"OKAY" if found else b"FAIL" + _block(f"listener '{remote}' not found"))
        elif cmd == "list-forward":
            with self._lock:
                rows = "".join(f"host-19 {r.remote} {r.local}\n" for r in self.reverses
                               if r.serial == phone.serial)
            conn.sendall(_block(rows))
        else:
            conn.sendall(b"FAIL" + _block(f"unknown reverse command '{cmd}'"))

    def _pushed(self, serial: str, path: str, size: int) -> None:
        with self._lock:
            self.wire.pushes.append((serial, path, size))

    @staticmethod
    def _fail(conn: socket.socket, message: str) -> None:
        conn.sendall(b"FAIL" + _block(message))

