"""DNS over UDP (RFC 1035) as far as the analysis needs it: the names asked and the
addresses answered, so a datagram to port 53 is labelled with its question and a
connection to an answered address gets a host name even without a ``dns`` hook record."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DnsPacket:
    response: bool
    questions: tuple[str, ...]
    answers: tuple[tuple[str, str], ...]
    """(name, address) for each A/AAAA answer."""


def _name(data: bytes, pos: int, depth: int = 0) -> tuple[str, int]:
    labels: list[str] = []
    end = -1
    for _ in range(128):
        if pos >= len(data):
            raise ValueError("name runs past the packet")
        n = data[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:  # compression pointer
            if depth > 8 or pos + 1 >= len(data):
                raise ValueError("bad compression pointer")
            target = ((n & 0x3F) << 8) | data[pos + 1]
            rest, _ = _name(data, target, depth + 1)
            if rest:
                labels.append(rest)
            pos += 2
            end = pos
            return ".".join(labels), end
        labels.append(data[pos + 1 : pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    else:
        raise ValueError("name too long")
    return ".".join(labels), pos


def parse_dns(data: bytes) -> DnsPacket | None:
    """The questions and A/AAAA answers of a DNS packet; None if it is not one."""
    if len(data) < 12:
        return None
    flags = int.from_bytes(data[2:4], "big")
    qd, an = int.from_bytes(data[4:6], "big"), int.from_bytes(data[6:8], "big")
    if qd == 0 or qd > 16 or an > 256 or (flags >> 11) & 0xF not in (0, 1, 2):
        return None
    try:
        pos = 12
        questions: list[str] = []
        for _ in range(qd):
            name, pos = _name(data, pos)
            questions.append(name)
            pos += 4
        answers: list[tuple[str, str]] = []
        for _ in range(an):
            name, pos = _name(data, pos)
            rtype = int.from_bytes(data[pos : pos + 2], "big")
            rdlen = int.from_bytes(data[pos + 8 : pos + 10], "big")
            rdata = data[pos + 10 : pos + 10 + rdlen]
            pos += 10 + rdlen
            if pos > len(data):
                break
            if rtype == 1 and rdlen == 4:
                answers.append((name, str(ipaddress.IPv4Address(rdata))))
            elif rtype == 28 and rdlen == 16:
                answers.append((name, str(ipaddress.IPv6Address(rdata))))
    except ValueError:
        return None
    return DnsPacket(bool(flags & 0x8000), tuple(questions), tuple(answers))
