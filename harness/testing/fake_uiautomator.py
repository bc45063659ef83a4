"""A fake uiautomator2 device agent, at its wire: HTTP + JSON-RPC on device port 9008.

The real agent (``u2.jar`` run by ``app_process``) serves ``GET /ping`` and ``POST /jsonrpc/0``
on device port 9008; the uiautomator2 client reaches it through adb (``tcp:9008``). This fake
plugs into a :class:`~harness.testing.fake_phone.FakePhone` as that port's service and answers
only while the agent "runs" (after the client started it with ``app_process``), so the real
uiautomator2 client goes through its whole start-up: md5 check, push of ``u2.jar``, launch, ping.
The screen is a flat list of :class:`UiNode`; selectors match on resource id, text, text
contains, description and class name. Every call is recorded.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field

from harness.protocol import JSON
from harness.testing.fake_phone import FakePhone

PORT = 9008
SELECTOR_FIELDS = {"resourceId": "resource_id", "text": "text", "description": "description",
                   "className": "class_name"}


@dataclass
class UiNode:
    resource_id: str = ""
    text: str = ""
    description: str = ""
    class_name: str = "android.widget.TextView"
    bounds: tuple[int, int, int, int] = (0, 0, 100, 100)


def read_head(conn: socket.socket) -> bytes | None:
    """An HTTP request's head (and whatever of its body came with it); None if the peer
    closed first."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        head += chunk
    return head


@dataclass
class FakeUiAutomator:
    phone: FakePhone
    nodes: list[UiNode] = field(default_factory=list)
    calls: list[tuple[str, JSON]] = field(default_factory=list)
    clicks: list[tuple[int, int]] = field(default_factory=list)
    typed: list[tuple[str, str]] = field(default_factory=list)
    """(resource id or text of the node, text typed)."""

    def __post_init__(self) -> None:
        self.phone.tcp_services[PORT] = self.serve

    def running(self) -> bool:
        with self.phone.lock:
            return "uiautomator" in self.phone.processes.values()

    def find(self, selector: dict[str, JSON]) -> UiNode | None:
        for node in self.nodes:
            ok = all(getattr(node, attr) == selector[key]
                     for key, attr in SELECTOR_FIELDS.items() if key in selector)
            if "textContains" in selector:
                ok = ok and str(selector["textContains"]) in node.text
            if ok:
                return node
        return None

    def serve(self, conn: socket.socket) -> None:
        with conn:
            if not self.running():
                return  # nothing listens on 9008 yet: the stream closes at once
            head = read_head(conn)
            if head is None:
                return
            header, _, body = head.partition(b"\r\n\r\n")
            lines = header.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:])
                           if k.strip().lower() == "content-length"), 0)
            while len(body) < length:
                chunk = conn.recv(length - len(body))
                if not chunk:
                    return
                body += chunk
            if method == "GET" and path == "/ping":
                reply = b"pong"
            elif method == "POST" and path == "/jsonrpc/0":
                reply = json.dumps(self.rpc(json.loads(body))).encode()
            else:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n"
                         + f"Content-Length: {len(reply)}\r\nConnection: close\r\n\r\n".encode()
                         + reply)

    def rpc(self, request: dict[str, JSON]) -> dict[str, JSON]:
        method = str(request.get("method"))
        params = request.get("params") or []
        args = params if isinstance(params, list) else [params]
        self.calls.append((method, params))

        def result(value: JSON) -> dict[str, JSON]:
            return {"jsonrpc": "2.0", "id": request.get("id"), "result": value}

        selector = args[0] if args and isinstance(args[0], dict) else {}
        node = self.find(selector)
        if method in ("exist", "waitForExists"):
            return result(node is not None)
        if method == "waitUntilGone":
            return result(node is None)
        if method == "objInfo":
            if node is None:
                missing = "androidx.test.uiautomator.UiObjectNotFoundException"
                return {"jsonrpc": "2.0", "id": request.get("id"), "error": {
                    "code": -32002, "message": missing, "data": json.dumps(selector)}}
            left, top, right, bottom = node.bounds
            box: JSON = {"left": left, "top": top, "right": right, "bottom": bottom}
            return result({"bounds": box, "visibleBounds": box, "text": node.text,
                           "resourceName": node.resource_id, "className": node.class_name,
                           "contentDescription": node.description, "enabled": True})
        if method == "click" and len(args) >= 2:
            self.clicks.append((int(float(str(args[0]))), int(float(str(args[1])))))
            return result(True)
        if method == "setText" and node is not None and len(args) >= 2:
            self.typed.append((node.resource_id or node.text, str(args[1])))
            node.text = str(args[1])
            return result(True)
        if method == "clearTextField":
            return result(True)
        return {"jsonrpc": "2.0", "id": request.get("id"),
                "error": {"code": -32601, "message": f"method not found: {method}"}}
