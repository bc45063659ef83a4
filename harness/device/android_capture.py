"""One app on a phone, recorded until it exits: ``harness capture --device SERIAL --package PKG``.

The phone counterpart of :func:`harness.capture.job.capture_command`: no journey, no lab site;
the app is spawned under Frida (or, when Frida cannot spawn, launched and its processes
attached), QUIC is kept off, and everything it sends is recorded until none of its processes
is left, ``timeout`` passes, or Ctrl-C. ``run.json`` gets what a phone run always records:
device, app version and UID, identifiers (read or why not), ``quic_blocking``,
``capture_mode``, and the kernel's byte counters for the UID over the capture as one phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import frida

from harness import __version__
from harness.agent.bundle import build_agent
from harness.agent.channel import Channel
from harness.agent.session import AgentConfig, CaptureSession
from harness.capture.recorder import Recorder
from harness.capture.rundir import Phase, RunDir
from harness.detect.needles import MIN_LENGTH
from harness.device.android import AndroidDevice
from harness.device.android_adb import AdbEndpoint
from harness.device.android_app import app_processes
from harness.device.android_doctor import local_endpoint
from harness.device.android_journey import (
    AgentLoader,
    PhoneOptions,
    failed_on_error,
    keep_on_tcp,
    phase_done,
)
from harness.device.base import Target
from harness.protocol import ABI_VERSION, JSON

POLL = 0.5
"""Seconds between checks that the app still runs (one `ps` each)."""


@dataclass(frozen=True, slots=True)
class PhoneCapture:
    run: RunDir
    exited: bool
    """False when the app still ran at the timeout (it was left running, not killed)."""
    interrupted: bool


def capture_package(package: str, options: PhoneOptions, out: Path, *,
                    needles: Sequence[Mapping[str, JSON]] = (),
                    config: AgentConfig | None = None, timeout: float | None = None,
                    command_line: Sequence[str] = (), block_quic: bool = True,
                    say: Callable[[str], None] = lambda line: None) -> PhoneCapture:
    endpoints = [AdbEndpoint.parse(a) for a in options.adb] or [local_endpoint()]
    dev = AndroidDevice(options.serial, endpoints, frida_server=options.frida_server)
    app = dev.app(package)
    installed = (app.control.install(options.install) if options.install
                 else app.control.info())
    bundle = build_agent()
    out.mkdir(parents=True, exist_ok=True)
    run = RunDir.create(out)
    dev.run_tag = run.path.name
    target = Target(package=package)
    ids = dev.identifiers()
    info = run.load_info()
    info.device = dev.info().to_json()
    info.target = {"package": package, "version": installed.version_name,
                   "version_code": installed.version_code, "uid": installed.uid}
    info.tools = {"harness": __version__, "frida": frida.__version__,
                  "agent_bundle": bundle.sha256, "abi": ABI_VERSION}
    info.command = list(command_line)
    info.extra["identifiers"] = [{"name": i.name, "class": i.cls.value,
                                  "read": i.value is not None, "source": i.source,
                                  "unavailable": i.unavailable} for i in ids]
    run.save_info(info)
    run.write_json("needles.json", [
        *({"name": i.name, "class": i.cls.value, "value": i.value, "source": i.source}
          for i in ids if i.value and len(i.value) >= MIN_LENGTH), *needles])
    exited = interrupted = False
    with ExitStack() as stack:
        stack.enter_context(dev)
        quic, _ = (stack.enter_context(keep_on_tcp(dev, target, None)) if block_quic
                   else (None, ()))
        channel = Channel()
        recorder = stack.enter_context(Recorder(run, channel))
        stack.enter_context(failed_on_error(recorder))
        recorder.update_info(lambda i: i.extra.update(quic_blocking=quic,
                                                      follow_children=False))
        session = stack.enter_context(CaptureSession(
            dev.frida_device(), bundle, channel, config or AgentConfig(java=True, native=True),
            follow_children=False))
        agent = AgentLoader(dev, package, session)
        before = dev.egress_counters(target, [])
        phase = Phase(name="capture", start=time.time())
        recorder.marker("phase-start", phase.name, {})
        mode = agent.start()
        if not agent.spawned:
            app.control.launch()  # attach mode: the app must run to be attached
        recorder.update_info(lambda i: i.extra.__setitem__("capture_mode", mode))
        say(f"capturing {package} on {dev.serial} ({mode.split(':')[0]})")
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while deadline is None or time.monotonic() < deadline:
                agent.follow()
                if not app_processes(dev.session, package):
                    exited = True
                    break
                time.sleep(POLL)
        except KeyboardInterrupt:
            interrupted = True
        session.flush()
        time.sleep(0.2)  # one flush interval
        after = dev.egress_counters(target, [])
        phase.end = time.time()
        phase.complete = exited
        if not exited:
            phase.notes.append("interrupted" if interrupted else
                               f"the app still ran after {timeout:g} s")
        recorder.marker("phase-end", phase.name, {"complete": phase.complete})
        recorder.update_info(phase_done(phase, before, after))
        recorder.update_info(lambda i: i.extra.__setitem__("attached", agent.attached_json()))
        if interrupted:
            recorder.close(interrupted=True)
    return PhoneCapture(run, exited, interrupted)
