"""The fake phone's apps and processes: `pm`, `am`, `monkey`, `pidof`, `ps`, `kill`, a
frida-server and uiautomator2's agent that "run", and a browser that opens loopback URLs.

A mixin of :class:`harness.testing.fake_phone.FakePhone`, which holds the state these read
and change (declared here for the type checker).
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading

from harness.testing.fake_browser import (
    add_to_qtaguid,
    add_to_uid_stats_map,
    load_counted,
    mapped_hosts,
)
from harness.testing.fake_phone_state import (
    CHROME_COMMAND_LINE,
    QTAGUID,
    FakeApp,
    FakeFile,
    Outcome,
    TcpService,
)
from harness.testing.frida_portal import TcpProxy, tcp_proxy


class AppsAndProcesses:
    """Commands that start, list and stop apps and processes."""

    apps: dict[str, FakeApp]
    apks: dict[str, FakeApp]
    files: dict[str, FakeFile]
    processes: dict[int, str]
    tcp_services: dict[int, TcpService]
    frida_backend: tuple[str, int] | None
    reverse_ports: dict[int, int]
    fetched: list[str]
    browser: tuple[str, int] | None
    resident: dict[str, int]
    debug_app: str | None
    netstats: str
    lock: threading.Lock
    _next_pid: int

    def _cmd_pm(self, argv: list[str], root: bool) -> Outcome:
        if argv[1] == "install":
            pushed = self.files.get(argv[-1])
            if pushed is None:
                return Outcome(stderr=f"Error: Unable to open file: {argv[-1]}\n".encode(),
                               exit_code=1)
            new = self.apks.get(hashlib.sha256(pushed.data).hexdigest())
            if new is None:
                return Outcome(b"Failure [INSTALL_PARSE_FAILED_NOT_APK: Failed to parse "
                               b"/data/app/vmdl.tmp/base.apk]\n", exit_code=1)
            self.apps[new.package] = new
            return Outcome(b"Success\n")
        app = self.apps.get(argv[-1])
        if argv[1] == "path":
            if app is None:
                return Outcome(exit_code=1)
            return Outcome(f"package:/data/app/{app.package}-1/base.apk\n".encode())
        if argv[1] == "clear":
            return Outcome(b"Success\n" if app else b"Failed\n", exit_code=0 if app else 1)
        if argv[1] == "list" and argv[2:3] == ["packages"]:
            return Outcome("".join(f"package:{p}\n" for p in sorted(self.apps)).encode())
        return Outcome(stderr=b"Unknown command\n", exit_code=1)

    def _cmd_am(self, argv: list[str], root: bool) -> Outcome:
        sub = argv[1]
        if sub == "force-stop":
            for pid in [p for p, n in self.processes.items() if n.split(":")[0] == argv[-1]]:
                del self.processes[pid]
            return Outcome()
        if sub == "start":
            text = " ".join(argv[2:])
            target = argv[argv.index("-n") + 1].split("/")[0] if "-n" in argv else (
                argv[argv.index("-p") + 1] if "-p" in argv else None)
            if target is not None and target not in self.apps:
                return Outcome(f"Starting: Intent {{ {text} }}\nError: Activity not started, "
                               "unable to resolve Intent\n".encode())
            if target is not None:
                self._spawn(target)
                if "-d" in argv:
                    self._browse(argv[argv.index("-d") + 1], target)
            return Outcome(f"Starting: Intent {{ {text} }}\nStatus: ok\n".encode())
        if sub == "crash":
            if argv[-1] not in self.apps:
                return Outcome(stderr=f"Unknown package {argv[-1]}\n".encode(), exit_code=255)
            for pid in [p for p, n in self.processes.items() if n.split(":")[0] == argv[-1]]:
                del self.processes[pid]
            return Outcome()
        if sub == "set-debug-app":
            self.debug_app = argv[-1]
            return Outcome()
        if sub == "clear-debug-app":
            self.debug_app = None
            return Outcome()
        return Outcome(stderr=f"Error: unknown command '{sub}'\n".encode(), exit_code=1)

    def _cmd_monkey(self, argv: list[str], root: bool) -> Outcome:
        pkg = argv[argv.index("-p") + 1]
        if pkg not in self.apps:
            return Outcome(b"** No activities found to run, monkey aborted.\n", exit_code=251)
        self._spawn(pkg)
        return Outcome(b"  bash arg: -p\nEvents injected: 1\n")

    def _cmd_pidof(self, argv: list[str], root: bool) -> Outcome:
        pids = [str(p) for p, n in sorted(self.processes.items())
                if n.rsplit("/", 1)[-1] == argv[1]]
        if not pids:
            return Outcome(exit_code=1)
        return Outcome((" ".join(pids) + "\n").encode())

    def _cmd_ps(self, argv: list[str], root: bool) -> Outcome:
        rows = [f"{pid:>5} {name}" for pid, name in sorted(self.processes.items())]
        return Outcome(("  PID NAME\n" + "".join(r + "\n" for r in rows)).encode())

    def _cmd_kill(self, argv: list[str], root: bool) -> Outcome:
        pid = int(argv[-1])
        if pid not in self.processes:
            return Outcome(stderr=f"kill: {pid}: No such process\n".encode(), exit_code=1)
        if not root and self.processes[pid].endswith("frida-server"):
            return Outcome(stderr=f"kill: {pid}: Operation not permitted\n".encode(), exit_code=1)
        if self.processes.pop(pid).rsplit("/", 1)[-1].startswith("frida-server"):
            for port, service in list(self.tcp_services.items()):
                if isinstance(service, TcpProxy):
                    del self.tcp_services[port]
        return Outcome()

    def _frida_server(self, argv: list[str], root: bool) -> Outcome:
        f = self.files.get(argv[0])
        if f is None:
            return Outcome(stderr=f"/system/bin/sh: {argv[0]}: not found\n".encode(), exit_code=127)
        if not f.mode & 0o111:
            return Outcome(stderr=f"/system/bin/sh: {argv[0]}: can't execute: Permission denied\n"
                           .encode(), exit_code=126)
        m = re.search(rb"frida-version=([0-9.]+)", f.data)
        if "--version" in argv:
            return Outcome((m.group(1).decode() + "\n").encode() if m else b"", exit_code=0)
        if not root:
            return Outcome(stderr=b"Unable to load SELinux policy from the kernel: Failed to "
                                  b"open file /sys/fs/selinux/policy: Permission denied\n",
                           exit_code=1)
        if "-D" in argv or "--daemonize" in argv:
            self._next_pid += 1
            self.processes[self._next_pid] = argv[0]
            listen = argv[argv.index("-l") + 1] if "-l" in argv else "127.0.0.1:27042"
            if self.frida_backend is not None:
                self.tcp_services[int(listen.rsplit(":", 1)[1])] = tcp_proxy(self.frida_backend)
        return Outcome()

    def _app_process(self, argv: list[str]) -> Outcome:
        # uiautomator2's device agent: runs until the connection closes.
        self._next_pid += 1
        pid = self._next_pid
        self.processes[pid] = "uiautomator"

        def exited() -> None:
            with self.lock:
                self.processes.pop(pid, None)
        return Outcome(b"[server] INFO: [UiAutomator2Server] Starting Server\n", stream=True,
                       on_close=exited)

    def _browse(self, url: str, package: str) -> None:
        """A browser opening a loopback URL: fetch it from the host through `adb reverse`.

        Only URLs on a reversed port whose host is ``127.0.0.1``/``localhost``, or a name that
        a ``--host-resolver-rules=MAP NAME 127.0.0.1`` in Chromium's command-line file maps
        there (read when ``package`` is the debug app), are fetched (the host's lab site), so a
        test's journey really reaches the host, and nothing else is. With :attr:`browser` set,
        the browser process loads an https URL over TLS and the bytes count for the app's UID.
        """
        m = re.match(r"(https?)://([^/:\s]+):(\d+)(/[^\s]*)?$", url)
        if m is None or int(m.group(3)) not in self.reverse_ports:
            return
        if m.group(2) not in ("127.0.0.1", "localhost", *self._mapped_hosts(package)):
            return
        host_port, path = self.reverse_ports[int(m.group(3))], m.group(4) or "/"
        if self.browser is not None and m.group(1) == "https":
            app = self.apps.get(package)
            threading.Thread(target=self._load_in_browser, daemon=True,
                             args=(self.browser, url, host_port, app.uid if app else None)).start()
            return

        def fetch() -> None:
            try:
                with socket.create_connection(("127.0.0.1", host_port), timeout=5) as s:
                    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {m.group(2)}:{m.group(3)}\r\n"
                              "User-Agent: fake-phone\r\nConnection: close\r\n\r\n".encode())
                    while s.recv(65536):
                        pass
                with self.lock:
                    self.fetched.append(url)
            except OSError:
                pass
        threading.Thread(target=fetch, daemon=True).start()

    def _mapped_hosts(self, package: str) -> list[str]:
        f = self.files.get(CHROME_COMMAND_LINE)
        return [] if f is None or self.debug_app != package else mapped_hosts(f.data)

    def _load_in_browser(self, browser: tuple[str, int], url: str, host_port: int,
                         uid: int | None) -> None:
        loaded = load_counted(browser, url, ("127.0.0.1", host_port))
        if loaded is None:
            return
        tunnel, ok = loaded
        with self.lock:
            if uid is not None:
                self.count_traffic(uid, tunnel.tx, tunnel.rx, tunnel.tx_packets,
                                   tunnel.rx_packets)
            if ok:
                self.fetched.append(url)

    def count_traffic(self, uid: int, tx: int, rx: int, tx_packets: int = 0,
                      rx_packets: int = 0) -> None:
        """Add bytes (and packets) to the UID's kernel counters, in whichever tables this
        phone has."""
        qt = self.files.get(QTAGUID)
        if qt is not None:
            qt.data = add_to_qtaguid(qt.data.decode(), uid, tx, rx, tx_packets,
                                     rx_packets).encode()
        self.netstats = add_to_uid_stats_map(self.netstats, uid, tx, rx, tx_packets, rx_packets)

    def _spawn(self, package: str) -> int:
        if package in self.resident:  # the real process standing in for the app comes back
            self.processes.setdefault(self.resident[package], package)
            return self.resident[package]
        self._next_pid += 1
        self.processes[self._next_pid] = package
        return self._next_pid
