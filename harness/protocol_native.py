"""Bodies of the packed native records (:class:`harness.protocol.NativeKind`), decoded.

The layouts are defined in :mod:`harness.protocol` (they are part of the schema, and
``hooks/src/protocol.ts`` is generated from them); this module reads them. Every function
raises :class:`~harness.protocol.ProtocolViolation` on a body that does not fit.
"""

from __future__ import annotations

import ipaddress
import json
from typing import NamedTuple

from harness.protocol import (
    CONN_INFO_FORMAT,
    CONN_LAYERS,
    CONNECT_RESULT,
    DNS_ADDRESS,
    DNS_FORMAT,
    HTTP_CALL_FORMAT,
    JSON,
    Layer,
    ProtocolViolation,
)


def _ip(family: int, raw: bytes) -> str | None:
    if family == 2:
        return str(ipaddress.IPv4Address(raw[:4]))
    if family == 10:
        return str(ipaddress.IPv6Address(raw[:16]))
    return None


def decode_sock(body: bytes) -> dict[str, JSON]:
    """The address part (``CONN_INFO_FORMAT``) of a native CONN_INFO, CONNECT or
    UDP_BLOCKED body. Raises ProtocolViolation."""
    if len(body) < CONN_INFO_FORMAT.size:
        raise ProtocolViolation(f"native socket body of {len(body)} bytes is too short")
    family, lport, pport, layer, fd, local, peer = CONN_INFO_FORMAT.unpack_from(body)
    if layer not in CONN_LAYERS:
        raise ProtocolViolation(f"native socket body: unknown layer {layer}")
    return {
        "layer": CONN_LAYERS[layer].value, "fd": fd,
        "transport": "udp" if CONN_LAYERS[layer] is Layer.UDP else "tcp",
        "family": {2: "ipv4", 10: "ipv6"}.get(family),
        "local_ip": _ip(family, local), "local_port": lport or None,
        "peer_ip": _ip(family, peer), "peer_port": pport or None,
    }


def decode_conn_info(body: bytes) -> dict[str, JSON]:
    """The ``conn`` record fields of a native CONN_INFO body. Raises ProtocolViolation."""
    info = decode_sock(body)
    del info["family"]
    strings = body[CONN_INFO_FORMAT.size:].split(b"\0")
    if len(strings) < 4:
        raise ProtocolViolation("conn-info body lacks its three strings")
    sni, version, cipher = (x.decode("utf-8", "replace") or None for x in strings[:3])
    return {**info, "sni": sni, "tls_version": version, "cipher": cipher}


def decode_connect(body: bytes) -> dict[str, JSON]:
    """The ``connect`` record fields (plus the local address) of a native CONNECT body."""
    info = decode_sock(body)
    if len(body) < CONN_INFO_FORMAT.size + CONNECT_RESULT.size:
        raise ProtocolViolation("connect body lacks its result")
    info["result"], info["errno"] = CONNECT_RESULT.unpack_from(body, CONN_INFO_FORMAT.size)
    return info


def decode_dns(body: bytes) -> dict[str, JSON]:
    """The ``dns`` record fields of a native DNS body. Raises ProtocolViolation."""
    if len(body) < DNS_FORMAT.size:
        raise ProtocolViolation("dns body is too short")
    result, count, _r = DNS_FORMAT.unpack_from(body)
    name, nul, _ = body[DNS_FORMAT.size:].partition(b"\0")
    pos = DNS_FORMAT.size + len(name) + 1
    if not nul or pos + count * DNS_ADDRESS.size > len(body):
        raise ProtocolViolation(f"dns body of {len(body)} bytes cannot hold {count} addresses")
    addresses: list[JSON] = []
    for i in range(count):
        family, raw = DNS_ADDRESS.unpack_from(body, pos + i * DNS_ADDRESS.size)
        ip = _ip(family, raw)
        if ip is not None and ip not in addresses:
            addresses.append(ip)
    return {"name": name.decode("utf-8", "replace"), "addresses": addresses, "result": result}


class HttpCall(NamedTuple):
    """A native ``HTTP_CALL`` body, decoded (see :func:`decode_http_call`)."""

    key: int
    number: int
    t_ms: int
    request: dict[str, JSON]
    response: dict[str, JSON]
    body: bytes | None


def decode_http_call(body: bytes) -> HttpCall:
    """A native HTTP_CALL body. Raises ProtocolViolation."""
    if len(body) < HTTP_CALL_FORMAT.size:
        raise ProtocolViolation(f"http-call body of {len(body)} bytes is too short")
    key, number, t_ms, json_len, body_len = HTTP_CALL_FORMAT.unpack_from(body)
    start = HTTP_CALL_FORMAT.size
    end = start + json_len
    if body_len < -1 or end + max(body_len, 0) != len(body):
        raise ProtocolViolation(
            f"http-call body of {len(body)} bytes cannot hold {json_len} bytes of JSON and a "
            f"body of {body_len}")
    try:
        facts = json.loads(body[start:end])
    except ValueError as exc:
        raise ProtocolViolation(f"http-call JSON: {exc}") from None
    except RecursionError:  # json's decoder recurses per level
        raise ProtocolViolation("http-call JSON: nested too deeply") from None
    request = facts.get("q") if isinstance(facts, dict) else None
    response = facts.get("r") if isinstance(facts, dict) else None
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise ProtocolViolation("http-call JSON lacks its request or response")
    return HttpCall(key, number, t_ms, request, response,
                    body[end:] if body_len >= 0 else None)
