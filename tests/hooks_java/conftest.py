"""Fixtures of the Java hook tests: compiled stand-ins, the agent bundle, certificates."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.testing.javafixtures import Fixtures, build_agent, compile_fixtures, make_truststore
from harness.testing.recording_server import ServerCert, make_cert

HOOKS = Path(__file__).resolve().parents[2] / "hooks"


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Fixtures:
    return compile_fixtures(tmp_path_factory.mktemp("javafx"))


@pytest.fixture(scope="session")
def agent_source() -> str:
    if not (HOOKS / "node_modules" / "frida-java-bridge").is_dir():
        pytest.fail("hooks/node_modules missing: cd hooks && npm ci")
    return build_agent(HOOKS)


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> ServerCert:
    return make_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture(scope="session")
def truststore(cert: ServerCert, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_truststore(cert.cert, tmp_path_factory.mktemp("trust"))

