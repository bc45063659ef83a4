"""Native socket hooks (connect, plaintext TCP, UDP, blockQuic) against real clients and
real servers on loopback."""

from __future__ import annotations

import errno
import random
import sys
import textwrap
from pathlib import Path

from harness.agent.bundle import AgentBundle
from harness.protocol import NativeKind, NativeRecord
from harness.protocol_native import decode_conn_info, decode_connect, decode_sock
from harness.testing.agent_run import AgentRun, run_under_agent
from harness.testing.certs import PKIFiles
from harness.testing.plain_server import PlainHTTPServer, UDPListener
from harness.testing.tls_server import TLSServer

HTTP_CLIENT = textwrap.dedent("""
    import http.client, sys
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    conn = http.client.HTTPConnection(host, port, timeout=10)
    for i in range(n):
        body = (b"imei=CANARY-plain-5c1d&i=%d&" % i) + b"y" * (30000 + i)
        conn.request("POST", "/track", body=body, headers={"Content-Type": "text/plain"})
        assert conn.getresponse().read() == b"ok"
    conn.close()
""")

# write()/read() and sendmsg()/recvmsg() on a connected TCP socket, plus a file written with
# write() that must not be taken for a socket.
RAW_IO_CLIENT = textwrap.dedent("""
    import os, socket, sys
    port, scratch = int(sys.argv[1]), sys.argv[2]
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(None)  # blocking, so os.read waits like read() in a C client
    req = b"POST /w HTTP/1.1\\r\\nHost: raw.test\\r\\nContent-Length: 10\\r\\n\\r\\nwrite-body"
    os.write(s.fileno(), req)
    got = b""
    while not got.endswith(b"ok"):
        got += os.read(s.fileno(), 4096)
    req2 = b"POST /m HTTP/1.1\\r\\nHost: raw.test\\r\\nContent-Length: 8\\r\\n\\r\\n"
    s.sendmsg([req2, b"msg-body"])
    got = b""
    while not got.endswith(b"ok"):
        data, _anc, _flags, _addr = s.recvmsg(4096)
        got += data
    s.close()
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"NOT-NETWORK-BYTES")
    os.close(fd)
""")


def _natives(run: AgentRun, kind: NativeKind) -> list[NativeRecord]:
    return [n for n in run.native if n.kind == kind]


def _hooks(run: AgentRun) -> dict[str, str]:
    return {str(r.fields["name"]): str(r.fields["status"]) for r in run.records
            if r.kind == "hook"}


def test_plaintext_http_client_is_captured_byte_exact(tmp_path: Path,
                                                      agent: AgentBundle) -> None:
    script = tmp_path / "client.py"
    script.write_text(HTTP_CLIENT)
    with PlainHTTPServer() as server:
        run = run_under_agent(agent, [sys.executable, str(script), "127.0.0.1",
                                      str(server.port), "4"], {"java": False})
    assert run.errors == []
    (log,) = server.connections
    assert run.stream(NativeKind.TCP_OUT) == bytes(log.received)
    assert run.stream(NativeKind.TCP_IN) == bytes(log.sent)
    assert b"CANARY-plain-5c1d" in run.stream(NativeKind.TCP_OUT)
    # every payload record belongs to the one connection connect() opened
    (connect,) = [n for n in _natives(run, NativeKind.CONNECT)
                  if decode_connect(n.body)["peer_port"] == server.port]
    info = decode_connect(connect.body)
    assert info["peer_ip"] == "127.0.0.1"
    assert info["layer"] == "tcp"
    # http.client's timeout makes the socket non-blocking: connect() says EINPROGRESS
    assert (info["result"], info["errno"]) in ((0, 0), (-1, errno.EINPROGRESS))
    assert info["local_port"] == log.peer[1]
    payload = _natives(run, NativeKind.TCP_OUT) + _natives(run, NativeKind.TCP_IN)
    assert {n.handle for n in payload} == {connect.handle}
    (conn,) = [decode_conn_info(n.body) for n in _natives(run, NativeKind.CONN_INFO)]
    assert (conn["layer"], conn["peer_ip"], conn["peer_port"]) == ("tcp", "127.0.0.1",
                                                                   server.port)
    hooks = _hooks(run)
    for name in ("connect", "send", "recv", "write", "read", "close"):
        assert hooks[f"native.sockets.{name}"] == "installed"


def test_write_read_sendmsg_recvmsg_and_files_are_told_apart(tmp_path: Path,
                                                             agent: AgentBundle) -> None:
    script = tmp_path / "client.py"
    script.write_text(RAW_IO_CLIENT)
    with PlainHTTPServer() as server:
        run = run_under_agent(agent, [sys.executable, str(script), str(server.port),
                                      str(tmp_path / "scratch.bin")], {"java": False})
    (log,) = server.connections
    assert run.stream(NativeKind.TCP_OUT) == bytes(log.received)
    assert run.stream(NativeKind.TCP_IN) == bytes(log.sent)
    assert b"msg-body" in bytes(log.received)
    assert (tmp_path / "scratch.bin").read_bytes() == b"NOT-NETWORK-BYTES"
    assert all(b"NOT-NETWORK-BYTES" not in n.body for n in run.native)


def test_connect_to_ipv6_loopback(tmp_path: Path, agent: AgentBundle) -> None:
    script = tmp_path / "client.py"
    script.write_text(HTTP_CLIENT)
    with PlainHTTPServer("::1") as server:
        run = run_under_agent(agent, [sys.executable, str(script), "::1", str(server.port),
                                      "1"], {"java": False})
    (log,) = server.connections
    (connect,) = [decode_connect(n.body) for n in _natives(run, NativeKind.CONNECT)
                  if decode_connect(n.body)["peer_port"] == server.port]
    assert connect["family"] == "ipv6"
    assert connect["peer_ip"] == "::1"
    assert connect["local_ip"] == "::1"
    assert run.stream(NativeKind.TCP_OUT) == bytes(log.received)
    assert run.stream(NativeKind.TCP_IN) == bytes(log.sent)


TLS_CLIENT = textwrap.dedent("""
    import http.client, ssl, sys
    port, ca = int(sys.argv[1]), sys.argv[2]
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    conn.request("POST", "/x", body=b"secret=CANARY-tls-only")
    assert conn.getresponse().read() == b"ok"
    conn.close()
""")


def test_tls_ciphertext_is_not_recorded_as_plaintext(tmp_path: Path, agent: AgentBundle,
                                                     pki: PKIFiles) -> None:
    script = tmp_path / "client.py"
    script.write_text(TLS_CLIENT)
    with TLSServer(pki) as server:
        run = run_under_agent(agent, [sys.executable, str(script), str(server.port),
                                      str(pki.ca_cert)], {"java": False})
    (log,) = server.connections
    assert run.stream(NativeKind.TLS_OUT) == bytes(log.received)
    # the TCP connection under it is seen connecting, but none of its bytes are plaintext
    assert [decode_connect(n.body)["peer_port"] for n in _natives(run, NativeKind.CONNECT)
            if decode_connect(n.body)["layer"] == "tcp"] == [server.port]
    assert _natives(run, NativeKind.TCP_OUT) == []
    assert _natives(run, NativeKind.TCP_IN) == []
    # one connection row: the TLS one (a TCP connection carrying TLS gets none of its own)
    assert [decode_conn_info(n.body)["layer"]
            for n in _natives(run, NativeKind.CONN_INFO)] == ["tls"]


UDP_CLIENT = textwrap.dedent("""
    import errno, socket, sys
    host, port = sys.argv[1], int(sys.argv[2])
    results = []
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        s.sendto(b"QUIC-INITIAL-sendto", (host, port))
        results.append("sent")
        results.append(s.recvfrom(2048)[0].decode())
    except OSError as e:
        results.append(errno.errorcode[e.errno])
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(5)
    c.connect((host, port))
    try:
        c.send(b"QUIC-INITIAL-connected")
        results.append("sent")
        results.append(c.recv(2048).decode())
    except OSError as e:
        results.append(errno.errorcode[e.errno])
    open(sys.argv[3], "w").write(",".join(results))
""")


def _udp_loopback() -> str:
    """A 127/8 address of our own, so port 443 is ours even on a shared machine."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def test_udp_to_443_is_refused_and_recorded_with_block_quic(tmp_path: Path,
                                                             agent: AgentBundle) -> None:
    script = tmp_path / "client.py"
    script.write_text(UDP_CLIENT)
    out = tmp_path / "out.txt"
    host = _udp_loopback()
    with UDPListener(host, 443) as listener:
        run = run_under_agent(agent, [sys.executable, str(script), host, "443", str(out)],
                              {"java": False, "blockQuic": True})
    assert out.read_text().strip() == "EPERM,EPERM"
    assert listener.datagrams == []
    blocked = [decode_sock(n.body) for n in _natives(run, NativeKind.UDP_BLOCKED)]
    assert [(b["peer_ip"], b["peer_port"], b["transport"]) for b in blocked] == \
        [(host, 443, "udp")] * 2
    assert _natives(run, NativeKind.UDP_OUT) == []


def test_udp_is_delivered_and_recorded_without_block_quic(tmp_path: Path,
                                                          agent: AgentBundle) -> None:
    script = tmp_path / "client.py"
    script.write_text(UDP_CLIENT)
    out = tmp_path / "out.txt"
    host = _udp_loopback()
    with UDPListener(host, 443) as listener:
        run = run_under_agent(agent, [sys.executable, str(script), host, "443", str(out)],
                              {"java": False, "blockQuic": False})
    assert out.read_text().strip() == \
        "sent,QUIC-INITIAL-sendto,sent,QUIC-INITIAL-connected"
    assert [d.data for d in listener.datagrams] == [b"QUIC-INITIAL-sendto",
                                                    b"QUIC-INITIAL-connected"]
    assert _natives(run, NativeKind.UDP_BLOCKED) == []
    outs = _natives(run, NativeKind.UDP_OUT)
    ins = _natives(run, NativeKind.UDP_IN)
    assert [n.body for n in outs] == [d.data for d in listener.datagrams]
    assert [n.body for n in ins] == [d.data for d in listener.datagrams]
    # each datagram's connection names its peer (one per socket and peer)
    peers = {n.handle: decode_conn_info(n.body) for n in _natives(run, NativeKind.CONN_INFO)}
    for n in outs + ins:
        assert (peers[n.handle]["layer"], peers[n.handle]["peer_ip"],
                peers[n.handle]["peer_port"]) == ("udp", host, 443)
    assert len({n.handle for n in outs}) == 2


# writev() for a request in pieces (as Java NIO's gathering writes and many HTTP clients do)
# and readv() for the answer.
VECTOR_IO_CLIENT = textwrap.dedent("""
    import os, socket, sys
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.settimeout(None)
    head = b"POST /v HTTP/1.1\\r\\nHost: vec.test\\r\\nContent-Length: 15\\r\\n\\r\\n"
    assert os.writev(s.fileno(), [head, b"imei=CANARY-", b"vec"]) == len(head) + 15
    got = b""
    while not got.endswith(b"ok"):
        buf = bytearray(7), bytearray(4096)
        n = os.readv(s.fileno(), buf)
        got += (bytes(buf[0]) + bytes(buf[1]))[:n]
    s.close()
""")


def test_writev_and_readv_are_captured_byte_exact(tmp_path: Path, agent: AgentBundle) -> None:
    script = tmp_path / "client.py"
    script.write_text(VECTOR_IO_CLIENT)
    with PlainHTTPServer() as server:
        run = run_under_agent(agent, [sys.executable, str(script), str(server.port)],
                              {"java": False})
    (log,) = server.connections
    assert b"imei=CANARY-vec" in bytes(log.received)
    assert run.stream(NativeKind.TCP_OUT) == bytes(log.received)
    assert run.stream(NativeKind.TCP_IN) == bytes(log.sent)
    hooks = _hooks(run)
    assert hooks["native.sockets.writev"] == hooks["native.sockets.readv"] == "installed"


def test_tls_answer_on_a_connection_whose_writes_were_unseen_is_not_plaintext(
        tmp_path: Path, agent: AgentBundle, pki: PKIFiles) -> None:
    # The app's writes go through a function the socket hooks do not see (here write()
    # is left unhooked, as a send through io_uring or a raw syscall would be): the first bytes
    # seen are the server's TLS handshake, and the connection is TLS, not plaintext TCP.
    script = tmp_path / "client.py"
    script.write_text(TLS_CLIENT)
    with TLSServer(pki) as server:
        run = run_under_agent(agent, [sys.executable, str(script), str(server.port),
                                      str(pki.ca_cert)],
                              {"java": False, "exclude": ["native.sockets.write"]})
    (log,) = server.connections
    assert run.stream(NativeKind.TLS_OUT) == bytes(log.received)
    assert _natives(run, NativeKind.TCP_IN) == []
    assert _natives(run, NativeKind.TCP_OUT) == []


# sendmmsg()/recvmmsg() through libc (ctypes calls the exported functions, as a QUIC stack
# batching its datagrams does): one batch to a plain port, one to 443.
MMSG_CLIENT = textwrap.dedent("""
    import ctypes, ctypes.util, errno, select, socket, sys
    host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    class msghdr(ctypes.Structure):
        _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                    ("iov", ctypes.POINTER(iovec)), ("iovlen", ctypes.c_size_t),
                    ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                    ("flags", ctypes.c_int)]

    class mmsghdr(ctypes.Structure):
        _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]

    def batch(payloads):
        keep = [ctypes.create_string_buffer(p, len(p)) for p in payloads]
        iovs = [iovec(ctypes.cast(b, ctypes.c_void_p), len(p)) for b, p in zip(keep, payloads)]
        vec = (mmsghdr * len(payloads))()
        for i, v in enumerate(iovs):
            vec[i].hdr.iov = ctypes.pointer(v)
            vec[i].hdr.iovlen = 1
        return vec, keep, iovs

    results = []
    for p in (port, 443):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.connect((host, p))
        vec, _keep, _iovs = batch([b"MMSG-one-%d" % p, b"MMSG-two-%d" % p])
        n = libc.sendmmsg(s.fileno(), vec, 2, 0)
        if n < 0:
            results.append(errno.errorcode[ctypes.get_errno()])
            continue
        results.append(str(n))
        got = (mmsghdr * 2)()
        bufs = [ctypes.create_string_buffer(64) for _ in range(2)]
        riovs = [iovec(ctypes.cast(b, ctypes.c_void_p), 64) for b in bufs]
        for i, v in enumerate(riovs):
            got[i].hdr.iov = ctypes.pointer(v)
            got[i].hdr.iovlen = 1
        m = 0
        while m < 2:  # the socket is non-blocking (settimeout): wait for the echo first
            assert select.select([s], [], [], 5)[0], "no echo"
            r = libc.recvmmsg(s.fileno(), ctypes.byref(got[m]), 2 - m, 0, None)
            assert r > 0, ctypes.get_errno()
            m += r
        results.append(",".join(bufs[i].raw[:got[i].len].decode() for i in range(2)))
    open(out, "w").write(";".join(results))
""")


def test_sendmmsg_and_recvmmsg_are_recorded_and_443_is_refused(tmp_path: Path,
                                                               agent: AgentBundle) -> None:
    script = tmp_path / "client.py"
    script.write_text(MMSG_CLIENT)
    out = tmp_path / "out.txt"
    host = _udp_loopback()
    with UDPListener(host) as plain, UDPListener(host, 443) as quic:
        run = run_under_agent(agent, [sys.executable, str(script), host, str(plain.port),
                                      str(out)], {"java": False, "blockQuic": True})
    sent = [b"MMSG-one-%d" % plain.port, b"MMSG-two-%d" % plain.port]
    assert out.read_text().strip() == f"2;{b','.join(sent).decode()};EPERM"
    assert [d.data for d in plain.datagrams] == sent
    assert quic.datagrams == []
    assert [n.body for n in _natives(run, NativeKind.UDP_OUT)] == sent
    assert [n.body for n in _natives(run, NativeKind.UDP_IN)] == sent
    blocked = [decode_sock(n.body) for n in _natives(run, NativeKind.UDP_BLOCKED)]
    assert [(b["peer_ip"], b["peer_port"]) for b in blocked] == [(host, 443)]
    hooks = _hooks(run)
    assert hooks["native.sockets.sendmmsg"] == hooks["native.sockets.recvmmsg"] == "installed"
