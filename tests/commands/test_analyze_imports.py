"""What ``harness analyze`` imports: none of the modules it does not use. In an environment
that keeps no bytecode (PYTHONDONTWRITEBYTECODE), each harness module is compiled at every
start, ~1,200 instructions a byte of source on top of running it; harness.protocol (the
agent's schema, a type alias on this path), harness.device.base (the device Protocol, for
one enum), python-hyperscan (the reference scan; the C Scanner calls Hyperscan itself),
secrets (a new run's id), brotli and zstandard (bodies this run does not have) were ~40 M
instructions of it (callgrind). harness.cachestock (what ``harness cache`` lists) is four
dataclasses, ~1.5 ms; harness.parse.dns (a DNS packet in a UDP datagram, which this run has
none of) ~0.6 ms."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.testing.runbuilder import RunBuilder

_UNUSED = ("harness.protocol", "harness.device.base", "hyperscan", "secrets", "brotli",
           "zstandard", "harness.cachestock",
           "harness.parse.dns")

_CODE = f"""
import sys
from harness import cli
args = cli.build_parser(sys.argv[1:]).parse_args(sys.argv[1:])
assert args._module.run(args) == 0
print(sorted(m for m in {_UNUSED!r} if m in sys.modules))
"""


def test_analyze_imports_none_of_them(tmp_path: Path) -> None:
    b = RunBuilder(tmp_path, "r")
    b.needle("android-id", "device-id", "a1b2c3d4e5f60718")
    b.phase("normal")
    b.request("sa.api.lab.test", "/sa?u=a1b2c3d4e5f60718")
    b.request("api.mixpanel.com", "/track?d=a1b2c3d4e5f60718")
    run = b.build(analyze=False)
    out = subprocess.run([sys.executable, "-c", _CODE, "analyze", str(run.path)],
                         capture_output=True, text=True, check=True).stdout
    assert run.read_derived("findings.json")  # the run was analysed, the needle found
    assert out.splitlines()[-1] == "[]"
