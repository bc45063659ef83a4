"""The fake adb server's ``sync:`` service: STAT, LIST, SEND (DATA/DONE), RECV, QUIT.

Framing as adbd speaks it: every request is a 4-byte id and a little-endian u32 length (for
SEND's DATA chunks the length of the chunk, for DONE the file's mtime); answers are ``STAT`` +
mode/size/mtime, ``DENT`` entries then ``DONE``, ``DATA`` chunks then ``DONE``, ``OKAY`` or
``FAIL`` + length + message. Files live in the :class:`FakePhone`.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

from harness.testing.fake_phone import FakePhone

Pushed = Callable[[str, str, int], None]
"""Told (serial, path, size) of every completed SEND."""


class Closed(Exception):
    """The client went away."""


def recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise Closed(f"peer closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def serve_sync(conn: socket.socket, phone: FakePhone, pushed: Pushed) -> None:
    while True:
        try:
            head = recv_exact(conn, 8)
        except Closed:
            return
        sid, size = head[:4], struct.unpack("<I", head[4:])[0]
        arg = recv_exact(conn, size).decode("utf-8") if sid != b"QUIT" else ""
        if sid == b"QUIT":
            return
        if sid == b"STAT":
            f = phone.stat(arg)
            conn.sendall(b"STAT" + (struct.pack("<III", f.mode, len(f.data), f.mtime)
                                    if f else bytes(12)))
        elif sid == b"LIST":
            _sync_list(conn, phone, arg)
        elif sid == b"SEND":
            _sync_send(conn, phone, arg, pushed)
        elif sid == b"RECV":
            data = phone.read(arg)
            if data is None:
                msg = b"No such file or directory"
                conn.sendall(b"FAIL" + struct.pack("<I", len(msg)) + msg)
            else:
                for off in range(0, len(data), 64 * 1024):
                    chunk = data[off:off + 64 * 1024]
                    conn.sendall(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                conn.sendall(b"DONE" + bytes(4))
        else:
            msg = f"unknown sync request {sid!r}".encode()
            conn.sendall(b"FAIL" + struct.pack("<I", len(msg)) + msg)
            return

def _sync_list(conn: socket.socket, phone: FakePhone, path: str) -> None:
    prefix = path.rstrip("/") + "/"
    with phone.lock:
        entries = [(p[len(prefix):], f) for p, f in phone.files.items()
                   if p.startswith(prefix) and "/" not in p[len(prefix):]]
    for name, f in entries:
        raw = name.encode()
        conn.sendall(b"DENT" + struct.pack("<IIII", f.mode, len(f.data), f.mtime, len(raw))
                     + raw)
    conn.sendall(b"DONE" + bytes(16))

def _sync_send(conn: socket.socket, phone: FakePhone, arg: str, pushed: Pushed) -> None:
    path, _, mode_text = arg.rpartition(",")
    data = bytearray()
    while True:
        sid = recv_exact(conn, 4)
        size = struct.unpack("<I", recv_exact(conn, 4))[0]
        if sid == b"DATA":
            if size > 64 * 1024:
                raise ValueError("sync DATA chunk over 64 KiB")
            data += recv_exact(conn, size)
        elif sid == b"DONE":
            mtime = size  # DONE carries the mtime where DATA carries a length
            break
        else:
            raise ValueError(f"unexpected sync id {sid!r} during SEND")
    error = phone.write(path, bytes(data), int(mode_text), mtime)
    if error:
        msg = error.encode()
        conn.sendall(b"FAIL" + struct.pack("<I", len(msg)) + msg)
        return
    pushed(phone.serial, path, len(data))
    conn.sendall(b"OKAY" + bytes(4))
