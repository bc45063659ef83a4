"""One capture of a host command: build the agent, record the process tree until it exits.

This is what ``harness capture -- COMMAND...`` calls; ``harness run`` builds on the same
pieces (session + recorder) with phases around them.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import frida

from harness import __version__
from harness.agent.bundle import build_agent
from harness.agent.channel import Channel
from harness.agent.session import AgentConfig, CaptureSession
from harness.capture.recorder import LiveStats, Recorder
from harness.capture.rundir import RunDir, RunInfo
from harness.device.base import Target
from harness.device.host import HostDevice
from harness.protocol import ABI_VERSION, JSON

Progress = Callable[[LiveStats, float], None]


@dataclass(frozen=True, slots=True)
class CaptureResult:
    run: RunDir
    exited: bool
    """False when the command was still running at the timeout (it was killed)."""
    interrupted: bool


def capture_command(
    argv: Sequence[str],
    out: Path,
    *,
    needles: Sequence[Mapping[str, JSON]] = (),
    config: AgentConfig | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
    command_line: Sequence[str] = (),
    follow_children: bool = False,
) -> CaptureResult:
    bundle = build_agent()
    device = HostDevice()
    out.mkdir(parents=True, exist_ok=True)
    run = RunDir.create(out)
    target = Target(argv=tuple(argv), env=dict(env or {}))

    def describe(info: RunInfo) -> None:
        info.device = device.info().to_json()
        info.target = {"command": list(argv)}
        info.command = list(command_line)
        info.tools = {"harness": __version__, "frida": frida.__version__,
                      "agent_bundle": bundle.sha256, "abi": ABI_VERSION,
                      "python": sys.version.split()[0]}

    info = run.load_info()
    describe(info)
    run.save_info(info)
    if needles:
        run.write_json("needles.json", list(needles))
    channel = Channel()
    interrupted = False
    exited = False
    started = time.monotonic()
    with Recorder(run, channel) as recorder, device.block_quic(target) as quic:
        recorder.update_info(lambda i: i.extra.__setitem__("quic_blocking", quic))
        recorder.update_info(lambda i: i.extra.__setitem__("follow_children", follow_children))
        with CaptureSession(device.frida_device(), bundle, channel, config or AgentConfig(),
                            follow_children=follow_children) as session:
            stop_ticker = threading.Event()
            ticker = None
            if progress is not None:
                cb = progress

                def tick() -> None:
                    while not stop_ticker.wait(0.5):
                        cb(recorder.stats, time.monotonic() - started)

                ticker = threading.Thread(target=tick, daemon=True)
                ticker.start()
            try:
                session.spawn(argv, env=env)
                exited = session.wait(timeout)
                if not exited:
                    session.flush()
                    session.kill()
                    session.wait(10)
            except KeyboardInterrupt:
                interrupted = True
                session.flush()
            finally:
                stop_ticker.set()
                if ticker is not None:
                    ticker.join(timeout=2)
        if interrupted:
            recorder.close(interrupted=True)
    return CaptureResult(run, exited, interrupted)
