from __future__ import annotations

from pathlib import Path

import pytest

from harness.testing.certs import PKIFiles, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKIFiles:
    return make_pki(Path(tmp_path_factory.mktemp("pki")))
