"""What one Java call costs through frida-java-bridge, and through the agent's raw JNI layer.

The Java hooks' overhead (bench/java_overhead.py) is a count of these calls times their
price. This measures the price, in a real JVM (HotSpot) with the agent's own code:

- ``plain``: a static ``int f(int)`` and an instance ``Object g(Object, byte[])`` called in a
  loop inside the JVM, unhooked (ns per call, JIT-compiled);
- ``entry``: the same loop with both replaced by a bridge hook that returns at once (the
  price of entering a hook: the bridge's JNI trampoline, wrappers for ``this`` and the
  arguments, a local frame);
- ``through``: the hook calls the original through the bridge (what every agent hook pays);
  ``through_work`` minus ``entry_work`` against ``plain_work`` (a 1,000-iteration loop) shows
  that the original's body then runs in HotSpot's interpreter: the saved original method the
  bridge calls is never JIT-compiled;
- ``bridge_*``: a call from the agent's JS into Java through the bridge's wrappers (overload
  dispatch, argument and result conversion), as hook bodies made before ``jni.ts``;
- ``raw_*``: the same call through ``hooks/src/java/jni.ts`` (a method id resolved once, the
  JNI ``Call<Type>MethodA`` function, an exception check);
- ``c_instance_call``: the same call of ``g`` made from C (a CModule loop), as the agent's C
  entries and OkHttp's C readers make them; ``js_to_c_call``: one call from JS into a C
  function that does nothing (the price of crossing from JS into C).

    PYTHONPATH=. python bench/java_bridge_cost.py --rounds 3 [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import frida

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "bench" / "java" / "BridgeCost.java"
HOOKS = ROOT / "hooks"


def build_agent() -> str:
    compiler = frida.Compiler()  # type: ignore[no-untyped-call]
    problems: list[object] = []
    compiler.on("diagnostics", problems.extend)
    try:
        return str(compiler.build("bench/bridge_cost.ts", project_root=str(HOOKS)))
    except frida.InvalidArgumentError as exc:
        raise SystemExit(f"bench agent does not compile: {problems or exc}") from exc


class Jvm:
    """BridgeCost in a JVM: one timed loop per loop() call."""

    def __init__(self, classes: Path) -> None:
        self.proc = subprocess.Popen(["java", "-cp", str(classes), "BridgeCost"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def loop(self, n: int) -> dict[str, int]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        words = self.proc.stdout.readline().split()
        if len(words) < 6:
            raise SystemExit(f"BridgeCost answered {words!r}")
        return {"f": int(words[1]), "g": int(words[3]), "work": int(words[5])}

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def one_round(classes: Path, source: str, n: int) -> dict[str, float]:
    jvm = Jvm(classes)
    session = None
    try:
        out: dict[str, float] = {}
        jvm.loop(n * 10)  # JIT warm-up
        for k, v in jvm.loop(n * 10).items():
            out[f"plain_{k}"] = v
        time.sleep(0.5)
        session = frida.get_local_device().attach(jvm.proc.pid)
        script = session.create_script(source, name="bridge-cost")
        script.load()
        api = script.exports_sync
        out.update(api.calls(n))
        for mode in ("entry", "through"):
            api.hook(mode)
            jvm.loop(n // 10)
            for k, v in jvm.loop(n).items():
                out[f"{mode}_{k}"] = v
            api.hook(None)
        # The bridge attached its thread to the JVM as a non-daemon: detach before the JVM
        # is asked to end, or it waits for that thread forever.
        session.detach()
        session = None
        return out
    finally:
        if session is not None:
            session.detach()
        jvm.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="JVMs to measure in (median per figure)")
    ap.add_argument("--calls", type=int, default=5000, help="calls per hooked loop (x10 plain)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    source = build_agent()
    with tempfile.TemporaryDirectory(prefix="bridge-cost-") as tmp:
        subprocess.run(["javac", "-d", tmp, str(SOURCE)], check=True, timeout=120)
        rounds = []
        for i in range(args.rounds):
            r = one_round(Path(tmp), source, args.calls)
            rounds.append(r)
            print(f"round {i}: " + ", ".join(f"{k} {v:.0f}" for k, v in r.items()), file=sys.stderr)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    if args.json:
        print(json.dumps({"rounds": rounds, "median_ns": med}, indent=2))
        return 0
    print("ns per call (median of rounds):")
    for k, v in med.items():
        print(f"  {k:24s} {v:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
