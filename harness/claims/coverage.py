"""Byte coverage: do the hooks account for what the kernel counted leaving the app?

The kernel counts IP packets: headers, TLS records, handshakes, bare ACKs. The hooks see
plaintext. Compared raw, a phone run would almost never reach the gate's 95% (a page load
of 1 MB makes the app send hundreds of bare ACKs nobody hooks), so the hooked plaintext is
first turned into a *lower bound* of what it cost on the wire: each TLS record's header and
tag, each TLS connection's client handshake, each packet's IP and TCP headers (where the
device counts packets). Every constant is a floor, so an estimate can only come out too
small; that can turn a PASS into INCONCLUSIVE, never the reverse.

The same bytes seen twice (Conscrypt's Java streams and BoringSSL's ``SSL_write`` under
them) must not count twice: the Java and native TLS views are each summed, and only the
larger counts. When some connections are seen only natively and others only in Java this
undercounts, which again errs towards INCONCLUSIVE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.capture.rundir import RunDir

TLS_RECORD_FLOOR = 5 + 16
"""A TLS record's header and AEAD tag (TLS 1.3 adds a content type byte, TLS 1.2 GCM an
8-byte nonce): what every write of plaintext costs at least."""
TLS_HANDSHAKE_FLOOR = 200
"""A client's ClientHello with SNI and its Finished; real ones are 500 bytes to 2 KB."""
PACKET_HEADER_FLOOR = 40
"""IPv4 and TCP headers without options: what every packet costs at least."""


@dataclass(frozen=True, slots=True)
class Coverage:
    kernel_out: int
    kernel_packets_out: int | None
    tls_plaintext: int
    tls_records: int
    tls_connections: int
    plain_bytes: int
    """Bytes on connections that never did TLS (socket hooks)."""
    tls_view: str
    """Which view of TLS was counted: native, java, or none."""

    @property
    def wire_estimate(self) -> int:
        return (self.tls_plaintext + self.plain_bytes + self.tls_records * TLS_RECORD_FLOOR
                + self.tls_connections * TLS_HANDSHAKE_FLOOR
                + (self.kernel_packets_out or 0) * PACKET_HEADER_FLOOR)

    @property
    def ratio(self) -> float:
        return self.wire_estimate / self.kernel_out if self.kernel_out else 0.0

    def describe(self) -> str:
        packets = (f", {self.kernel_packets_out} packets" if self.kernel_packets_out
                   else ", packets not counted by the device")
        return (f"{self.ratio:.0%}: hooks saw {self.tls_plaintext + self.plain_bytes} bytes "
                f"({self.tls_view} TLS view, {self.tls_connections} TLS connection(s), "
                f"{self.tls_records} write(s){packets}), at least {self.wire_estimate} on the "
                f"wire, of {self.kernel_out} the kernel counted leaving")


def coverage(run: RunDir, kernel_out: int, kernel_packets_out: int | None = None) -> Coverage:
    views: dict[str, list[int]] = {"native": [0, 0], "java": [0, 0]}
    conns: dict[str, set[str]] = {"native": set(), "java": set()}
    plain = 0
    with run.reader() as reader:
        for hook, conn, layer, nbytes, records in reader.stream_totals("out"):
            family = "java" if hook.startswith("java.") else "native"
            if family == "native" and layer not in (None, "tls"):
                plain += nbytes  # plaintext TCP: no TLS records, no handshake
                continue
            views[family][0] += nbytes
            views[family][1] += records
            if conn:
                conns[family].add(conn)
    view = max(views, key=lambda k: views[k][0])
    if views[view][0] == 0:
        view = "none"
    nbytes, records = views.get(view, [0, 0])
    return Coverage(kernel_out, kernel_packets_out, nbytes, records,
                    len(conns.get(view, set())), plain, view)


def kernel_packets_out(extra: Mapping[str, object]) -> int | None:
    """Packets the kernel counted leaving, summed over the phases' counter readings in
    ``run.json`` (``egress_counters``), when every reading has them."""
    rows = extra.get("egress_counters")
    counted = [r for r in rows if isinstance(r, dict) and r.get("source")] \
        if isinstance(rows, list) else []
    packets = [r.get("tx_packets") for r in counted]
    if not counted or not all(isinstance(p, int) for p in packets):
        return None
    return sum(p for p in packets if isinstance(p, int))
