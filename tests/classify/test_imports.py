"""What classifying a run imports: geoip2fast (with urllib.request, ssl, email...) only for a
public address; it costs more than the classification of a run that does not need it. And never
requests (with urllib3, charset_normalizer...): nothing the analysis does fetches, and its import
was ~60 ms of every run when the public suffix list came from tldextract."""

from __future__ import annotations

import json
import subprocess
import sys

_HEAVY = ("geoip2fast", "requests", "tldextract")


def _imported_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after ``code``."""
    out = subprocess.run(
        [sys.executable, "-c", f"import json, sys\n{code}\n"
                               f"print(json.dumps([m for m in {_HEAVY!r} if m in sys.modules]))"],
        check=True, capture_output=True, text=True)
    return sorted(json.loads(out.stdout))


def test_local_addresses_do_not_import_it() -> None:
    assert _imported_after(
        "import harness.analysis\n"
        "from harness.classify.destinations import classify\n"
        "from harness.parse.message import Message, MessageKind\n"
        "[d] = classify([Message('m1', MessageKind.REQUEST, 1.0, 'out', 'native.tls',\n"
        "                        host='sa.api.intl.miui.com', ip='192.0.2.1')])\n"
        "assert d.registrable_domain == 'miui.com' and d.ips == ('192.0.2.1',)") == []


def test_a_public_address_imports_it() -> None:
    assert _imported_after(
        "from harness.classify import geo\n"
        "assert geo.locate('8.8.8.8').country") == ["geoip2fast"]
