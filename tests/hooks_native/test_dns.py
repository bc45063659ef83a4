"""Native getaddrinfo hook: the name asked and the addresses returned (local names only:
/etc/hosts and numeric lookups, never a DNS server)."""

from __future__ import annotations

import json
import socket
import sys
import textwrap
from pathlib import Path

from harness.agent.bundle import AgentBundle
from harness.protocol import NativeKind
from harness.protocol_native import decode_dns
from harness.testing.agent_run import run_under_agent

CLIENT = textwrap.dedent("""
    import json, socket, sys
    out = {}
    for name in sys.argv[2:]:
        out[name] = sorted({a[4][0] for a in socket.getaddrinfo(name, 80)})
    try:
        socket.getaddrinfo("not-a-number", 80, flags=socket.AI_NUMERICHOST)
    except socket.gaierror as e:
        out["error"] = e.errno
    open(sys.argv[1], "w").write(json.dumps(out))
""")


def test_getaddrinfo_names_and_addresses(tmp_path: Path, agent: AgentBundle) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    out = tmp_path / "out.json"
    names = ["localhost", socket.gethostname()]
    run = run_under_agent(agent, [sys.executable, str(script), str(out), *names],
                          {"java": False})
    seen = json.loads(out.read_text())
    lookups = [decode_dns(n.body) for n in run.native if n.kind == NativeKind.DNS]
    by_name = {str(d["name"]): d for d in lookups}
    for name in names:
        assert by_name[name]["result"] == 0
        # what the app got back, each address once (getaddrinfo repeats them per socktype)
        addresses = by_name[name]["addresses"]
        assert isinstance(addresses, list)
        assert sorted(str(a) for a in addresses) == seen[name]
        assert len(set(addresses)) == len(addresses)
    local = by_name["localhost"]["addresses"]
    assert isinstance(local, list)
    assert "127.0.0.1" in local
    failed = by_name["not-a-number"]
    assert failed["result"] == seen["error"] != 0
    assert failed["addresses"] == []
    hooks = {str(r.fields["name"]): r.fields for r in run.records if r.kind == "hook"}
    assert hooks["native.dns.getaddrinfo"]["status"] == "installed"
    # glibc has no android_getaddrinfofornet: reported, with the reason
    assert hooks["native.dns.android_getaddrinfofornet"]["status"] == "skipped"
    assert "not exported" in str(hooks["native.dns.android_getaddrinfofornet"]["reason"])
