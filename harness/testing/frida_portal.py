"""A real Frida endpoint behind the fake phone's frida-server port, and the tunnel to it.

No frida-server for Android can run here, but Frida's own portal service speaks the same
protocol to clients: a local process that joins the portal (after a real injection with
``frida.get_local_device()``) can be enumerated, attached and scripted by a client that
connected to the portal's control port as a remote device. :class:`FridaPortal` runs one; a fake
phone whose ``frida_backend`` is its control port answers on its frida-server port (once the
device code started frida-server) by tunnelling to it, so ``adb forward`` → fake adb server →
fake phone → portal carries the real Frida protocol end to end. What this does not test is
frida-server itself (spawning apps, spawn gating, Android's Java runtime).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

import frida


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FridaPortal:
    """A ``frida.PortalService`` on two ephemeral loopback ports; processes join it."""

    def __init__(self) -> None:
        self.cluster_port = free_port()
        self.control_port = free_port()
        self._portal = self._service()
        self._sessions: list[frida.Session] = []
        self._memberships: list[frida.PortalMembership] = []

    @property
    def control(self) -> tuple[str, int]:
        return ("127.0.0.1", self.control_port)

    def join(self, pid: int) -> None:
        """Inject into a local process and make it a member of the portal."""
        for attempt in range(3):
            try:
                session = frida.get_local_device().attach(pid)
                break
            except (frida.ProcessNotRespondingError, frida.TimedOutError, frida.TransportError):
                # a process still loading its interpreter may not sync up with the agent yet
                if attempt == 2:
                    raise
                time.sleep(0.5)
        self._sessions.append(session)
        self._memberships.append(session.join_portal(f"127.0.0.1:{self.cluster_port}"))

    def _service(self) -> frida.PortalService:
        # frida's PortalService constructor carries no annotations.
        return frida.PortalService(  # type: ignore[no-untyped-call]
            frida.EndpointParameters("127.0.0.1", self.cluster_port),
            frida.EndpointParameters("127.0.0.1", self.control_port))

    def __enter__(self) -> FridaPortal:
        for attempt in range(3):
            try:
                self._portal.start()
                return self
            except frida.AddressInUseError:
                # a free port was taken by another process between probing and binding
                if attempt == 2:
                    raise
                self.cluster_port, self.control_port = free_port(), free_port()
                self._portal = self._service()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for membership in self._memberships:
            with contextlib.suppress(frida.InvalidOperationError, frida.TransportError):
                membership.terminate()
        for session in self._sessions:
            with contextlib.suppress(frida.InvalidOperationError, frida.TransportError):
                session.detach()
        self._portal.stop()


def tcp_proxy(target: tuple[str, int]) -> TcpProxy:
    return TcpProxy(target)


class TcpProxy:
    """A device port's service that pipes each connection to ``target`` both ways."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.connections = 0

    def __call__(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        self.connections += 1
        upstream.settimeout(None)
        client.settimeout(None)
        done = threading.Event()

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                done.set()
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join(timeout=5)
        upstream.close()
        client.close()
