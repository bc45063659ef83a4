"""Fixtures for parser tests: one real HTTP/2 conversation recorded once per session."""

from __future__ import annotations

import subprocess

import pytest

from harness.testing.certs import make_pki
from tests.parse.wire import h2_server


@pytest.fixture(scope="session")
def h2_conversation(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    """The TLS plaintext of ``curl --http2`` making two requests (POST then GET)."""
    d = tmp_path_factory.mktemp("h2cert")
    pki = make_pki(d)
    cert = pki.ca_cert
    with h2_server(pki.cert, pki.key) as (port, rec):
        base = f"https://127.0.0.1:{port}"
        subprocess.run(["curl", "-sS", "--max-time", "20", "-o", "/dev/null", "--http2",
                        "--cacert", str(cert), "-d", "first=1", f"{base}/a", "--next",
                        "--http2", "--cacert", str(cert), f"{base}/b"],
                       check=True, timeout=30)
    (chunks,) = rec.conns
    return [(direction, data) for _t, direction, data in chunks]
