"""One scenario on an app on a phone: ``harness run SCENARIO --device SERIAL --app PACKAGE``.

The phone counterpart of :func:`harness.scenario.runner.run_scenario`, built from the same
pieces (run dir, recorder, capture session, canaries, lab servers, analysis) and the Android
device layer. In order: open the device (frida-server provisioned, started, forwarded), check
the app is installed and its profile can do every step, describe device and app in
``run.json``, write the phone's identifiers as needles (and the unreadable ones, with why),
reverse the lab site to the phone (``adb reverse``), keep the app on TCP (iptables on rooted
phones, Chromium's command-line file otherwise, recorded as ``quic_blocking``), load the agent
(spawned under gating; attached to the app's processes when spawning is impossible, recorded
as ``capture_mode``), then run the phases: kernel byte counters of the app's UID read before
and after each phase (``egress_counters`` per phase, and their sums as the health's
``bytes_kernel_out``/``bytes_kernel_in`` that the verdicts compare with hooked bytes), a failed
step keeps a screenshot and the logcat under ``evidence/`` and marks its phase incomplete.

The lab site is ``https://canary.lab.test:PORT`` on the phone. For Chromium browsers the
command-line file maps the lab names to 127.0.0.1 and accepts the lab's certificate by its
key (``--host-resolver-rules``, ``--ignore-certificate-errors-spki-list``); other browsers need
the lab to resolve ``*.lab.test`` to 127.0.0.1 and trust the lab CA (docs/android.md).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import frida
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness import __version__
from harness.agent.bundle import build_agent
from harness.agent.channel import Channel
from harness.agent.session import AgentConfig, CaptureSession
from harness.capture.recorder import Recorder
from harness.capture.rundir import Phase, RunDir, RunInfo
from harness.detect.needles import MIN_LENGTH
from harness.device.android import AndroidDevice
from harness.device.android_adb import AdbEndpoint, RootMode
from harness.device.android_app import app_processes
from harness.device.android_doctor import local_endpoint
from harness.device.android_netstats import delta
from harness.device.android_profile import PROFILE_DIRS, Profile, find_profile, load_profile
from harness.device.android_quic import CHROMIUM_PACKAGES, ChromeCommandLine, leftover_chains
from harness.device.base import EgressCounters, Identifier, Target
from harness.errors import DeviceError, HarnessError, InputError
from harness.lab.servers import LAB_HOSTS, LabServers
from harness.protocol import ABI_VERSION, JSON
from harness.scenario.canaries import CANARY_HOST
from harness.scenario.model import Scenario, load_scenario
from harness.scenario.runner import RunResult, _analyze, _Journey
from harness.testing.certs import make_pki

log = logging.getLogger(__name__)

Say = Callable[[str], None]
DEVICE_PORT = 18443
"""The phone's port the lab site is reversed to."""


@dataclass(frozen=True, slots=True)
class PhoneOptions:
    """Where the phone is and how to prepare it."""

    serial: str | None
    adb: tuple[str, ...] = ()
    """Remote adb servers as HOST:PORT; empty: the local one."""
    frida_server: Path | None = None
    profile: str | None = None
    """A profile name or file; default: the profile whose package is the app's."""
    device_port: int = DEVICE_PORT
    install: Path | None = None
    """An APK to install (or update to) before the journey."""
    account: str | None = None
    """The account a ``sign_in`` step uses; default: the phone's account of the app's kind."""


ACCOUNT_TYPES = {"com.android.chrome": "com.google", "com.chrome.beta": "com.google",
                 "com.mi.globalbrowser": "com.xiaomi", "com.mi.globalbrowser.mini": "com.xiaomi",
                 "com.android.browser": "com.xiaomi"}
"""The Android account type an app signs in with (Chrome: Google; Xiaomi's browsers: Mi)."""


def phone_account(package: str, ids: Sequence[Identifier]) -> Identifier | None:
    """The phone's signed-in account an app's ``sign_in`` would pick, if there is one: on a
    phone the journey cannot invent an account as the lab does."""
    kind = ACCOUNT_TYPES.get(package)
    return next((i for i in ids if kind and i.name == f"account:{kind}" and i.value), None)


def profile_for(package: str) -> Profile | None:
    """The profile in scenarios/profiles written for ``package`` (None: generic steps only)."""
    for base in PROFILE_DIRS:
        for path in sorted(base.glob("*.yaml")) if base.is_dir() else ():
            profile = load_profile(path)
            if profile.package == package:
                return profile
    return None


def spki_pin(cert_pem: bytes) -> str:
    """base64(sha256(SubjectPublicKeyInfo)): what ``--ignore-certificate-errors-spki-list``
    takes."""
    spki = x509.load_pem_x509_certificate(cert_pem).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def check_steps(scenario: Scenario, actions: set[str], what: str) -> None:
    missing = sorted(scenario.actions() - actions)
    if missing:
        first = next(s for p in scenario.phases for s in p.steps if s.action in missing)
        raise InputError(f"{what} cannot do step(s) {', '.join(missing)} that scenario "
                         f"{scenario.name!r} needs", path=scenario.path, line=first.line,
                         column=first.column, field=first.action)


def run_on_phone(scenario_path: Path | str, package: str, options: PhoneOptions, *,
                 out: Path = Path("runs"), say: Say | None = None, analyze: bool = True,
                 claims: Path | None = None, command_line: Sequence[str] = ()) -> RunResult:
    scenario = load_scenario(scenario_path)
    tell: Say = say or (lambda s: print(s, file=sys.stderr))
    profile = (load_profile(find_profile(options.profile)) if options.profile
               else profile_for(package))
    endpoints = [AdbEndpoint.parse(a) for a in options.adb] or [local_endpoint()]
    out.mkdir(parents=True, exist_ok=True)
    dev = AndroidDevice(options.serial, endpoints, frida_server=options.frida_server)
    app = dev.app(package, profile)
    # "not installed" (or a refused install) before anything is started
    installed = (app.control.install(options.install) if options.install
                 else app.control.info())
    check_steps(scenario, app.actions(), f"app {package} (profile "
                f"{profile.name if profile else 'none: generic steps only'})")
    bundle = build_agent()
    run = RunDir.create(out)
    dev.run_tag = run.path.name
    evidence = app.evidence_dir = run.path / "evidence"
    target = Target(package=package)
    info = run.load_info()
    info.device = dev.info().to_json()
    info.target = {"app": package, "package": package, "version": installed.version_name,
                   "version_code": installed.version_code, "uid": installed.uid,
                   "profile": profile.name if profile else None,
                   "profile_verified": profile.verified if profile else None,
                   "installed_from": None if options.install is None else {
                       "apk": str(options.install),
                       "sha256": hashlib.sha256(options.install.read_bytes()).hexdigest()}}
    info.scenario = {"name": scenario.name, "file": str(scenario.path),
                     "sha256": scenario.sha256}
    info.tools = {"harness": __version__, "frida": frida.__version__,
                  "agent_bundle": bundle.sha256, "abi": ABI_VERSION}
    info.command = list(command_line)
    ids = dev.identifiers()
    info.extra["identifiers"] = [{"name": i.name, "class": i.cls.value, "read": i.value is not None,
                                  "source": i.source, "unavailable": i.unavailable} for i in ids]
    if dev.session.root_mode is not RootMode.NONE:
        # rules a crashed run left stay until `harness doctor --device` removes them: they
        # block only QUIC, but say so (a concurrent run on the phone would own them)
        left = sorted({f"{tool} {chain}" for tool, chain, _ in leftover_chains(dev.session)})
        info.extra["quic_leftovers"] = list[JSON](left)
        if left:
            tell(f"leftover QUIC rules of an earlier run on {dev.serial}: {', '.join(left)} "
                 f"(harness doctor --device {dev.serial} removes them)")
    run.save_info(info)
    journey = _Journey(scenario, package, run, tell)
    needles: list[dict[str, JSON]] = [
        {"name": i.name, "class": i.cls.value, "value": i.value, "source": i.source}
        for i in ids if i.value and len(i.value) >= MIN_LENGTH]
    own = phone_account(package, ids)
    if options.account or own is not None:
        journey.account = options.account or str(own.value if own else "")
    if not any(n["value"] == journey.account for n in needles):
        needles.append({"name": "account", "class": "account-id", "value": journey.account,
                        "source": "--account" if options.account else "scenario"})
    if "sign_in" in scenario.actions() and not options.account and own is None:
        tell(f"no {ACCOUNT_TYPES.get(package, 'known')} account on {dev.serial}: sign_in "
             f"will look for the lab account {journey.account} (pass --account NAME)")
    for c in journey.canaries.values():
        needles += c.needles()
    run.write_json("needles.json", needles)
    pki = make_pki(run.path / "lab-pki", names=(*LAB_HOSTS, "localhost"))
    site = f"https://{CANARY_HOST}:{options.device_port}"
    complete = True
    with ExitStack() as stack:
        stack.enter_context(dev)  # frida-server up and forwarded; down last
        servers = stack.enter_context(LabServers(pki))
        stack.enter_context(app.control.reversed_port(options.device_port, servers.port))
        quic, flags = stack.enter_context(keep_on_tcp(dev, target, pki.cert.read_bytes()))
        if flags:
            # Chromium reads its command-line file when it starts: a running app would not
            app.control.force_stop()
        channel = Channel()
        recorder = stack.enter_context(Recorder(run, channel))
        stack.enter_context(failed_on_error(recorder))
        flag_list: list[JSON] = list(flags)
        recorder.update_info(lambda i: i.extra.update(
            quic_blocking=quic, chrome_command_line=flag_list, lab_site=site,
            follow_children=False))
        session = stack.enter_context(CaptureSession(
            dev.frida_device(), bundle, channel, AgentConfig(java=True, native=True),
            follow_children=False))
        stack.enter_context(app)
        agent = AgentLoader(dev, package, session)
        mode = agent.start()  # not inside update_info: that holds the recorder's lock
        recorder.update_info(lambda i: i.extra.__setitem__("capture_mode", mode))
        agent.follow()  # attach mode: whatever of the app already runs
        for spec in scenario.phases:
            canaries = journey.canaries[spec.name]
            phase = Phase(name=spec.name, start=time.time(), state=dict(spec.state))
            before = dev.egress_counters(target, [])
            recorder.marker("phase-start", spec.name, {"state": dict(spec.state)})
            tell(f"phase {spec.name}: {len(spec.steps)} steps")
            for step in spec.steps:
                value = journey.resolve(step, canaries, site)
                tell(f"  {step.action}" + (f" {value}" if value is not None else ""))
                earlier = set(evidence.glob("*"))
                try:
                    app.perform_step(step.action, value)
                except DeviceError as exc:
                    kept: list[JSON] = [p.name for p in sorted(set(evidence.glob("*")) - earlier)]
                    complete = phase.complete = False
                    phase.notes.append(f"step {step.describe()} failed: {exc}")
                    recorder.marker("step-failed", spec.name, {
                        "step": step.describe(), "line": step.line, "error": str(exc),
                        "evidence": kept})
                    tell(f"  ! {step.action} failed: {exc}")
                    break
                finally:
                    agent.follow()
            session.flush()
            time.sleep(0.2)  # one flush interval, so the phase's batches land in it
            after = dev.egress_counters(target, [])
            phase.end = time.time()
            recorder.marker("phase-end", spec.name, {"complete": phase.complete})
            recorder.update_info(phase_done(phase, before, after))
        recorder.update_info(lambda i: i.extra.update(
            lab_server_requests={h: len(servers.received(h)) for h in LAB_HOSTS},
            planted_canaries=list(journey.planted), attached=agent.attached_json()))
    if analyze:
        _analyze(run, tell, claims)
    return RunResult(run, complete)


@contextmanager
def keep_on_tcp(dev: AndroidDevice, target: Target,
                cert_pem: bytes | None) -> Iterator[tuple[str | None, tuple[str, ...]]]:
    """QUIC off and, for Chromium with a lab certificate, the lab's names and that
    certificate; yields (how QUIC is off, the Chromium flags written)."""
    package = str(target.package)
    rooted = dev.session.root_mode is not RootMode.NONE
    flags: tuple[str, ...] = ()
    if package in CHROMIUM_PACKAGES and cert_pem is not None:
        rules = ",".join(f"MAP {h} 127.0.0.1" for h in LAB_HOSTS)
        flags = (f"--host-resolver-rules={rules}",
                 f"--ignore-certificate-errors-spki-list={spki_pin(cert_pem)}")
    with ExitStack() as stack:
        quic: str | None = None
        if rooted:
            quic = stack.enter_context(dev.block_quic(target))
        elif package in CHROMIUM_PACKAGES:
            flags = ("--disable-quic", *flags)
        else:
            log.warning("%s: QUIC stays on for %s (no root, not Chromium)", dev.serial, package)
        if flags:
            chrome = stack.enter_context(ChromeCommandLine(dev.session, package, flags))
            quic = quic or chrome.describe()
        yield quic, flags


@contextmanager
def failed_on_error(recorder: Recorder) -> Iterator[None]:
    """A run that stops on an error is ``failed`` in run.json (interrupted on Ctrl-C), not
    ``complete``; everything entered before still comes down in reverse."""
    try:
        yield
    except KeyboardInterrupt:
        recorder.close(interrupted=True)
        raise
    except BaseException:
        recorder.close(status="failed")
        raise


class AgentLoader:
    """Loads the agent into the app: spawned under gating, else attached to what runs."""

    def __init__(self, dev: AndroidDevice, package: str, session: CaptureSession) -> None:
        self.dev = dev
        self.package = package
        self.session = session
        self.spawned = False
        self.attached: dict[int, str] = {}
        self.failed: dict[int, str] = {}

    def _attach(self, pid: int, name: str) -> None:
        self.session.attach(pid)
        self.attached[pid] = name

    def start(self) -> str:
        try:
            gate = self.dev.spawn(self.package, self._attach)
        except (HarnessError, frida.NotSupportedError, frida.InvalidOperationError) as exc:
            reason = str(exc).splitlines()[0]
            log.warning("%s: spawning %s under Frida failed (%s); attaching instead",
                        self.dev.serial, self.package, reason)
            return (f"attach: the app's running processes, followed after each step (spawn "
                    f"failed: {reason}); code that ran before attaching was not seen")
        self.spawned = True
        return f"spawn: {self.package} spawned suspended (pid {gate.followed[0][0]}), " \
               "its other processes followed by spawn gating"

    def follow(self) -> None:
        """In attach mode, attach to the app's processes started since the last step."""
        if self.spawned:
            return
        try:
            running = app_processes(self.dev.session, self.package)
        except DeviceError as exc:
            log.warning("%s", exc)
            return
        for pid, name in running:
            if pid in self.attached or pid in self.failed:
                continue
            try:
                self._attach(pid, name)
            except (HarnessError, frida.ProcessNotFoundError, frida.TransportError,
                    frida.InvalidOperationError, frida.NotSupportedError) as exc:
                self.failed[pid] = f"{name}: {str(exc).splitlines()[0]}"
                log.warning("%s: attaching to %s (%d): %s", self.dev.serial, name, pid, exc)

    def attached_json(self) -> dict[str, JSON]:
        return {"processes": {str(p): n for p, n in self.attached.items()},
                "failed": {str(p): why for p, why in self.failed.items()}}


def phase_done(phase: Phase, before: EgressCounters | None,
                after: EgressCounters | None) -> Callable[[RunInfo], None]:
    def change(info: RunInfo) -> None:
        info.phases.append(phase)
        rows = info.extra.setdefault("egress_counters", [])
        assert isinstance(rows, list)
        if before is None or after is None or before.source != after.source:
            why = ("the device has no readable per-UID counters" if before is None or
                   after is None else f"the counters' source changed within the phase "
                   f"({before.source} -> {after.source})")
            rows.append({"phase": phase.name, "source": None, "note": why})
            return
        d = delta(before, after)
        row: dict[str, JSON] = {
            "phase": phase.name, "source": d.source, "tx_bytes": d.tx_bytes,
            "rx_bytes": d.rx_bytes, "before": [before.tx_bytes, before.rx_bytes],
            "after": [after.tx_bytes, after.rx_bytes]}
        if d.tx_packets is not None and d.rx_packets is not None:
            # harness.claims.coverage reads tx_packets: each packet's headers are kernel bytes
            row.update(tx_packets=d.tx_packets, rx_packets=d.rx_packets)
        rows.append(row)
        h = info.health
        h.bytes_kernel_out = (h.bytes_kernel_out or 0) + d.tx_bytes
        h.bytes_kernel_in = (h.bytes_kernel_in or 0) + d.rx_bytes
    return change
