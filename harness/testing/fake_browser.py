"""The fake phone's browser, and the kernel's byte count of what it sends.

When the device code opens a URL on a fake phone (``am start -d URL``), the fake phone asks a
real process on this machine to load it: the "browser", which a test joins to a Frida portal
so the real agent can be injected into it (:mod:`harness.testing.frida_portal`). The browser
speaks real TLS (CPython's ssl, so the agent's OpenSSL hooks see the plaintext) to the host's
lab servers, through a :class:`CountingTunnel` that plays the phone's network stack: it counts
every byte that crosses the socket each way, as the kernel's per-UID counters would, and the
fake phone adds them to the app's rows (``xt_qtaguid``, the eBPF map).

``python -m harness.testing.fake_browser PORT`` runs the browser: it listens on
127.0.0.1:PORT for one JSON line per URL, ``{"url": ..., "connect": [HOST, PORT]}``, loads the
URL over TLS through ``connect`` (certificates are not checked: it stands for a browser told to
accept the lab's certificate), and answers one line, ``{"status": CODE}`` or ``{"error": ...}``.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import socket
import ssl
import sys
import threading
from urllib.parse import urlsplit

LOAD_TIMEOUT = 10.0
MSS = 1448
"""Payload bytes per TCP segment (Ethernet MTU, timestamps on)."""
HEADER = 52
"""IPv4 + TCP header with timestamps: what the kernel counts per packet beyond payload."""


class CountingTunnel:
    """A loopback listener that pipes each connection to ``target`` and counts the bytes."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.tx = 0
        """Bytes the client (the app) sent, as the kernel counts them: payload plus
        :data:`HEADER` per packet."""
        self.rx = 0
        self.tx_packets = 0
        """Packets sent: one per chunk read here, a floor of what TCP would send."""
        self.rx_packets = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(LOAD_TIMEOUT)
        self.port: int = self._sock.getsockname()[1]
        self._lock = threading.Lock()

    def serve_one(self) -> None:
        """Accept one connection and pipe it until both sides close (bounded by timeouts)."""
        try:
            client, _ = self._sock.accept()
        except OSError:
            return
        finally:
            self._sock.close()
        with client, socket.create_connection(self.target, timeout=LOAD_TIMEOUT) as upstream:
            client.settimeout(LOAD_TIMEOUT)
            back = threading.Thread(target=self._pipe, args=(upstream, client, False),
                                    daemon=True)
            back.start()
            self._pipe(client, upstream, True)
            back.join(timeout=LOAD_TIMEOUT)

    def _pipe(self, src: socket.socket, dst: socket.socket, out: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                packets = -(-len(data) // MSS)
                with self._lock:
                    if out:
                        self.tx += len(data) + packets * HEADER
                        self.tx_packets += packets
                    else:
                        self.rx += len(data) + packets * HEADER
                        self.rx_packets += packets
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def ask_browser(browser: tuple[str, int], url: str, connect: tuple[str, int]) -> dict[str, object]:
    """Ask the browser process to load ``url`` through ``connect``; its one-line answer."""
    with socket.create_connection(browser, timeout=LOAD_TIMEOUT) as s:
        s.settimeout(LOAD_TIMEOUT * 2)
        s.sendall((json.dumps({"url": url, "connect": list(connect)}) + "\n").encode())
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    loaded: dict[str, object] = json.loads(answer or b'{"error": "no answer"}')
    return loaded


def load_counted(browser: tuple[str, int], url: str,
                 target: tuple[str, int]) -> tuple[CountingTunnel, bool] | None:
    """Have the browser load ``url`` through a counting tunnel to ``target``: the tunnel (its
    counts) and whether the page loaded, or None when the browser did not answer."""
    tunnel = CountingTunnel(target)
    piping = threading.Thread(target=tunnel.serve_one, daemon=True)
    piping.start()
    try:
        answer = ask_browser(browser, url, ("127.0.0.1", tunnel.port))
    except (OSError, ValueError):
        return None
    finally:
        piping.join(timeout=30)
    return tunnel, "status" in answer


def mapped_hosts(command_line: bytes) -> list[str]:
    """Names a Chromium command-line file maps to 127.0.0.1 (``--host-resolver-rules=MAP``)."""
    hosts = []
    for word in shlex.split(command_line.decode(errors="replace"))[1:]:
        rules = word.removeprefix("--host-resolver-rules=")
        if rules != word:
            hosts += [r.split()[1] for r in rules.split(",")
                      if len(r.split()) == 3 and r.split()[0] == "MAP"
                      and r.split()[2] == "127.0.0.1"]
    return hosts


def add_to_qtaguid(table: str, uid: int, tx: int, rx: int, tx_packets: int = 0,
                   rx_packets: int = 0) -> str:
    """``/proc/net/xt_qtaguid/stats`` with bytes added to the UID's first untagged row (TCP)."""
    lines = table.splitlines()
    at = {c: i for i, c in enumerate(lines[0].split())}
    adds = (("rx_bytes", rx), ("tx_bytes", tx), ("rx_tcp_bytes", rx), ("tx_tcp_bytes", tx),
            ("rx_packets", rx_packets), ("tx_packets", tx_packets),
            ("rx_tcp_packets", rx_packets), ("tx_tcp_packets", tx_packets))
    rows = [n for n, line in enumerate(lines) if n and line.split()[at["uid_tag_int"]] == str(uid)
            and line.split()[at["acct_tag_hex"]] == "0x0"]
    if rows:
        i, f = rows[0], lines[rows[0]].split()
    else:
        f = [str(len(lines) + 1), "wlan0", "0x0", str(uid), *["0"] * (len(at) - 4)]
        lines.append("")
        i = len(lines) - 1
    for col, n in adds:
        f[at[col]] = str(int(f[at[col]]) + n)
    lines[i] = " ".join(f)
    return "\n".join(lines) + "\n"


def add_to_uid_stats_map(dump: str, uid: int, tx: int, rx: int, tx_packets: int = 0,
                         rx_packets: int = 0) -> str:
    """``dumpsys netstats detail`` with bytes added to the UID's ``mAppUidStatsMap`` row."""
    m = re.search(rf"^(\s+){uid} (\d+) (\d+) (\d+) (\d+)$", dump, re.M)
    if m is None:
        return dump
    row = (f"{m.group(1)}{uid} {int(m.group(2)) + rx} {int(m.group(3)) + rx_packets} "
           f"{int(m.group(4)) + tx} {int(m.group(5)) + tx_packets}")
    return dump[:m.start()] + row + dump[m.end():]


def load(url: str, connect: tuple[str, int]) -> int:
    """GET ``url`` over TLS through ``connect``; returns the HTTP status."""
    parts = urlsplit(url)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    host = parts.hostname or "localhost"
    with socket.create_connection(connect, timeout=LOAD_TIMEOUT) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as tls:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: fake-browser\r\n"
                    "Accept: text/html\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        # read one response (by Content-Length): servers may keep the connection open
        while chunk := tls.recv(65536):
            reply += chunk
            head, sep, body = reply.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if sep and length and len(body) >= int(length.group(1)):
                break
    status = reply.split(b" ", 2)[1] if reply.startswith(b"HTTP/") else b"0"
    return int(status)


def serve(port: int) -> None:
    """The browser: load each URL asked for, forever (until killed)."""
    with socket.create_server(("127.0.0.1", port)) as server:
        while True:
            conn, _ = server.accept()
            with conn, contextlib.suppress(OSError):
                conn.settimeout(LOAD_TIMEOUT)
                with conn.makefile("rb") as stream:
                    line = stream.readline()
                if not line:
                    continue  # a readiness probe
                try:
                    ask = json.loads(line)
                    host, dport = ask["connect"]
                    answer: dict[str, object] = {"status": load(ask["url"], (host, int(dport)))}
                except (OSError, ValueError, KeyError, ssl.SSLError) as exc:
                    answer = {"error": str(exc)}
                conn.sendall((json.dumps(answer) + "\n").encode())


if __name__ == "__main__":
    serve(int(sys.argv[1]))
