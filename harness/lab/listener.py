"""A loopback TCP listener with a thread per connection: the skeleton every server of the
lab and of the tests shares (the lab's HTTPS servers, the byte-recording TLS servers).

Subclasses say what a connection gets (``_handle``); the listener owns the socket, the
accept loop, and the teardown: leaving the context stops accepting, joins every thread
(bounded) and closes the socket.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Self


class Listener:
    """Binds an ephemeral port on loopback (127.0.0.1, or ::1) at construction (``port``),
    serves once entered."""

    def __init__(self, name: str, timeout: float, host: str = "127.0.0.1") -> None:
        self.timeout = timeout
        """Seconds a connection may sit idle; also how long teardown waits per thread."""
        self._lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, 0), family=family)
        self._sock.settimeout(0.2)  # the accept loop looks at the stop flag this often
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name=name, daemon=True)

    def __enter__(self) -> Self:
        self._accept.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._accept.join(timeout=5)
        for th in list(self._threads):
            th.join(timeout=5)
        self._sock.close()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            th = threading.Thread(target=self._handle, args=(raw, addr), daemon=True)
            self._threads.append(th)
            th.start()

    def _handle(self, raw: socket.socket, addr: tuple[str, int]) -> None:
        """Serve one accepted connection; must close ``raw`` and never raise."""
        raise NotImplementedError
