"""The runner: one scenario on one app, from YAML to an analysed run directory.

Prepare the lab (servers, lab browser, device identifiers), start capture, run the phases
with per-step timeouts and a progress line, mark phase boundaries in the run dir, record a
failed step with its evidence (the app's output) and mark its phase incomplete, stop, then
analyse. A phase that failed stays readable; the verdicts treat it as incomplete.
"""

from __future__ import annotations

import importlib
import json
import re
import secrets
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import frida

from harness import __version__
from harness.agent.bundle import build_agent
from harness.agent.channel import Channel
from harness.agent.session import AgentConfig, CaptureSession
from harness.cachedir import cache_dir
from harness.capture.recorder import Recorder
from harness.capture.rundir import Phase, RunDir, RunInfo
from harness.detect.needles import MIN_LENGTH
from harness.device.base import Identifier, NeedleClass
from harness.device.host import HostDevice
from harness.errors import InputError, UsageError
from harness.lab.browser import LAB_ACTIONS, PROFILES, LabBrowserProcess, LabConfig, StepFailed
from harness.lab.build import build_lab_browser
from harness.lab.servers import LAB_HOSTS, LabRequest, LabServers
from harness.protocol import ABI_VERSION, JSON
from harness.scenario.canaries import CANARY_HOST, PhaseCanaries, make_canaries
from harness.scenario.completeness import COMPLETENESS, completeness
from harness.scenario.model import Scenario, Step, load_scenario
from harness.scenario.progress import Progress, Say
from harness.testing.certs import make_pki


@dataclass(frozen=True, slots=True)
class RunResult:
    run: RunDir
    complete: bool
    """Every phase ran every step."""


def parse_app(app: str) -> str:
    if not app.startswith("lab:"):
        raise UsageError(f"--app {app!r}: only the lab browser runs on a host "
                         f"(lab:{' | lab:'.join(PROFILES)}); phones take a package with --device")
    profile = app.removeprefix("lab:")
    if profile not in PROFILES:
        raise UsageError(f"unknown lab profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return profile


def check_profile(scenario: Scenario, app: str) -> None:
    """Refuse, before anything runs, a scenario needing steps the app profile cannot do."""
    missing = sorted(scenario.actions() - LAB_ACTIONS)
    if missing:
        steps = [s for p in scenario.phases for s in p.steps if s.action in missing]
        first = steps[0]
        raise InputError(
            f"app profile {app!r} cannot do step(s) {', '.join(missing)} that scenario "
            f"{scenario.name!r} needs", path=scenario.path, line=first.line,
            column=first.column, field=first.action)


def lab_identifiers() -> list[Identifier]:
    """The lab device's phone-like identifiers, stable per machine like a phone's."""
    path = cache_dir() / "lab-device.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {"android_id": secrets.token_hex(8),
                "imei": "86" + "".join(str(secrets.randbelow(10)) for _ in range(13))}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data), encoding="utf-8")
    return [
        Identifier("android-id", NeedleClass.DEVICE_ID, str(data["android_id"]),
                   f"lab device ({path})"),
        Identifier("imei", NeedleClass.DEVICE_ID, str(data["imei"]), f"lab device ({path})"),
    ]


class _Journey:
    """State of one run while its phases execute."""

    def __init__(self, scenario: Scenario, profile: str, run: RunDir,
                 say: Say | None = None) -> None:
        # ``say`` is the phone runner's (harness.device.android_journey) way in; unused here
        del say
        self.scenario = scenario
        self.profile = profile
        self.run = run
        self.account = f"lab-{secrets.token_hex(5)}@accounts.lab.test"
        self.canaries = {p.name: make_canaries(p.name) for p in scenario.phases}
        self.planted: list[str] = []
        """Names of the canary needles the journey actually used (positive controls due)."""

    def resolve(self, step: Step, canaries: PhaseCanaries, site: str) -> JSON:
        if not isinstance(step.value, str):
            return step.value
        for key, kind in (("{canary.url}", "url"), ("{canary.query}", "query"),
                          ("{canary.download}", "download")):
            if key in step.value:
                self.planted.append(f"canary-{kind}:{canaries.phase}")
        return (step.value.replace("{canary.url}", canaries.url(site))
                .replace("{canary.query}", canaries.query)
                .replace("{canary.download}", canaries.download_url(site))
                .replace("{account}", self.account))


def run_scenario(scenario_path: Path | str, app: str = "lab:mint-3.4.0", *,
                 out: Path = Path("runs"), say: Say | None = None,
                 step_timeout: float = 30.0, analyze: bool = True,
                 claims: Path | None = None, command_line: Sequence[str] = (),
                 agent: AgentConfig | None = None,
                 progress: Progress | None = None) -> RunResult:
    """Run a journey on a lab app. ``agent`` overrides the agent's configuration (the
    verdict tests switch the Java hooks off to show the gates refuse such a run).
    ``progress`` is the display (default: every step, through ``say`` or to stderr)."""
    scenario = load_scenario(scenario_path)
    profile = parse_app(app)
    check_profile(scenario, app)
    shown = progress or Progress(say)
    bundle = build_agent()
    classpath = build_lab_browser()
    device = HostDevice(extra_identifiers=lab_identifiers())
    out.mkdir(parents=True, exist_ok=True)
    run = RunDir.create(out)
    journey = _Journey(scenario, profile, run)
    ids = device.identifiers()
    info = run.load_info()
    info.device = {**device.info().to_json(), "lab": True}
    # the lab browser's traffic goes through JSSE: without those hooks nothing is seen
    info.target = {"app": app, "profile": profile, "package": "com.mi.globalbrowser.mini",
                   "required_hooks": ["java.jsse"]}
    info.scenario = {"name": scenario.name, "file": str(scenario.path),
                     "sha256": scenario.sha256}
    info.tools = {"harness": __version__, "frida": frida.__version__,
                  "agent_bundle": bundle.sha256, "abi": ABI_VERSION}
    info.command = list(command_line)
    run.save_info(info)
    # values too short to search without matching noise (a 3-letter hostname) are left out
    needles: list[dict[str, JSON]] = [
        {"name": i.name, "class": i.cls.value, "value": i.value, "source": i.source}
        for i in ids if i.value and len(i.value) >= MIN_LENGTH]
    needles.append({"name": "account", "class": "account-id", "value": journey.account,
                    "source": "scenario"})
    for c in journey.canaries.values():
        needles += c.needles()
    run.write_json("needles.json", needles)

    pki = make_pki(run.path / "lab-pki", names=(*LAB_HOSTS, "localhost"))
    hosts_file = run.path / "lab-pki" / "hosts"
    hosts_file.write_text("".join(f"127.0.0.1 {h}\n" for h in LAB_HOSTS), encoding="utf-8")
    android_id = next(str(i.value) for i in ids if i.name == "android-id")
    imei = next(str(i.value) for i in ids if i.name == "imei")
    complete = True
    with LabServers(pki) as servers:
        site = servers.base(CANARY_HOST)
        cfg = LabConfig(profile, classpath, run.path / "app-state",
                        f"{servers.base('sa.api.lab.test')}/sa?project=global_browser_mini&r=GB",
                        f"{servers.base('sync.lab.test')}/history", pki.ca_cert, hosts_file,
                        android_id, imei)
        channel = Channel()
        with Recorder(run, channel) as recorder:
            config = agent or AgentConfig(java=True, native=True)
            session = CaptureSession(device.frida_device(), bundle, channel, config,
                                     follow_children=False)
            app_proc: LabBrowserProcess | None = None

            def start() -> LabBrowserProcess:
                proc = LabBrowserProcess(cfg)
                try:
                    session.attach(proc.wait_ready())
                except BaseException:
                    proc.kill()  # not yet the run's app: nothing else would end it
                    raise
                return proc

            def stop(proc: LabBrowserProcess | None) -> None:
                if proc is None:
                    return
                # the JVM does not exit while a script is loaded: detach first. Its main
                # thread is blocked reading the control channel in a hooked read(), which
                # unload would wait for: one no-op command, once the hooks are reverted,
                # lets that read return and the next one run unhooked.
                if proc.pid is not None:
                    session.stop_pid(proc.pid, nudge=proc.nudge)
                proc.quit()

            shown.start(scenario.name, app, len(scenario.phases))
            try:
                for number, spec in enumerate(scenario.phases, 1):
                    canaries = journey.canaries[spec.name]
                    phase = Phase(name=spec.name, start=time.time(), state=dict(spec.state))
                    recorder.marker("phase-start", spec.name, {"state": dict(spec.state)})
                    shown.phase(number, spec.name, len(spec.steps))
                    for index, step in enumerate(spec.steps, 1):
                        value = journey.resolve(step, canaries, site)
                        said = ("on" if value else "off") if isinstance(value, bool) else value
                        shown.step(index, len(spec.steps), step.action
                                   + (f" {said}" if said is not None else ""))
                        try:
                            if step.action in ("launch", "restart") or app_proc is None:
                                if step.action == "restart":
                                    stop(app_proc)
                                    app_proc = None
                                if app_proc is not None and not app_proc.alive():
                                    app_proc.quit()  # died on its own: reap it first
                                    app_proc = None
                                if app_proc is None:
                                    app_proc = start()
                            if step.action == "kill":
                                stop(app_proc)
                                app_proc = None
                                continue
                            op = "launch" if step.action == "restart" else step.action
                            extra: dict[str, JSON] = {}
                            if op == "search":
                                extra["search_base"] = f"{site}/search?q="
                            if op == "crash":
                                # a scripted crash tests the run's failure handling: what the
                                # app sent before it is recorded first (what a real SIGKILL
                                # loses, the last <=50 ms, is measured in bench/README)
                                session.flush()
                            app_proc.step(op, value, timeout=step_timeout, **extra)
                        except StepFailed as exc:
                            complete = False
                            phase.complete = False
                            if app_proc is not None and not app_proc.alive():
                                app_proc.quit()  # reap it, so its output is all in
                            kept = _keep_app_output(run, spec.name, index, step, exc, app_proc)
                            skipped: list[JSON] = [s.describe() for s in spec.steps[index:]]
                            phase.notes.append(f"step {index} {step.describe()} failed: {exc}"
                                               f" (evidence: {kept})")
                            if skipped:
                                phase.notes.append(f"not run after the failure: "
                                                   f"{'; '.join(map(str, skipped))}")
                            if app_proc is not None and app_proc.alive():
                                # it hung (no answer in time): the next phase needs an app
                                # that answers, so this one is killed, as a user would
                                phase.notes.append(f"pid {app_proc.pid} did not answer and "
                                                   "was killed")
                                app_proc.kill()
                            tail: list[JSON] = list(app_proc.stderr_tail) if app_proc else []
                            recorder.marker("step-failed", spec.name, {
                                "step": step.describe(), "index": index, "line": step.line,
                                "error": str(exc), "app_output": tail[-20:],
                                "app_pid": app_proc.pid if app_proc else None,
                                "exit_code": app_proc.exit_code() if app_proc else None,
                                "evidence": [kept], "skipped": skipped})
                            shown.failed(index, step.action, str(exc), kept)
                            app_proc = None  # dead or killed: the next phase starts it
                            break
                    session.flush()
                    time.sleep(0.2)  # one flush interval, so the phase's batches land in it
                    phase.end = time.time()
                    shown.phase_end(phase.complete, len(spec.steps) - index
                                    if not phase.complete else 0)
                    recorder.marker("phase-end", spec.name, {"complete": phase.complete})
                    recorder.update_info(_append_phase(phase))
            finally:
                stop(app_proc)
                session.stop()
            recorder.update_info(lambda i: i.extra.update(
                lab_server_requests={h: len(servers.received(h)) for h in LAB_HOSTS},
                planted_canaries=list(journey.planted), follow_children=False))
        received = [r for h in LAB_HOSTS for r in servers.received(h)]
    if analyze:
        _analyze(run, shown, claims, received)
    shown.finish()
    return RunResult(run, complete)


def _keep_app_output(run: RunDir, phase: str, index: int, step: Step, exc: StepFailed,
                     app: LabBrowserProcess | None) -> str:
    """The host's evidence for a failed step: what the app printed and how it ended, kept
    under ``evidence/`` as a phone's screenshot and logcat are. Returns the run-relative
    path."""
    folder = run.path / "evidence"
    folder.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{phase}-{index}-{step.action}")
    path = folder / f"{safe}-app-output.txt"
    lines = [f"step: {step.describe()} (scenario line {step.line})", f"error: {exc}"]
    if app is None:
        lines.append("the app was not running")
    else:
        code = app.exit_code()
        lines.append(f"pid: {app.pid}")
        lines.append("exit code: " + ("still running" if code is None else str(code)
                                      + (f" ({signal.Signals(-code).name})" if code < 0 else "")))
        lines.append("--- the app's output (stderr; stdout carries the control channel) ---")
        lines += list(app.stderr_tail)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path.relative_to(run.path))


def _append_phase(phase: Phase) -> Callable[[RunInfo], None]:
    return lambda info: info.phases.append(phase)


def _analyze(run: RunDir, shown: Progress | Say, claims: Path | None,
             received: Sequence[LabRequest] | None = None) -> None:
    if not isinstance(shown, Progress):
        shown = Progress(shown)  # the phone runner passes its say
    try:
        analysis = importlib.import_module("harness.analysis")
    except ModuleNotFoundError:
        shown.note("analysis is not available in this build; run `harness analyze` later",
                   warning=True)
        return
    # Messages first, so the servers' logs can be checked against them; then the claims,
    # whose gates read the result.
    analysis.analyze_run(run)
    if received is not None:
        _check_completeness(run, shown, received)
    if claims is not None:
        importlib.import_module("harness.claims.verdicts").write_verdicts(run, claims)


def _check_completeness(run: RunDir, shown: Progress, received: Sequence[LabRequest]) -> None:
    info = run.load_info()
    planted = info.extra.get("planted_canaries")
    found = completeness(run, received, [str(n) for n in planted]
                         if isinstance(planted, list) else [], CANARY_HOST)
    info.extra[COMPLETENESS] = found
    run.save_info(info)
    if found["missing"]:
        shown.note(f"the lab servers received {found['missing']} request(s) the capture lacks "
                   "(run.json: completeness)", warning=True)
    lost = found.get("controls_missing")
    if isinstance(lost, list) and lost:
        shown.note(f"positive control(s) not seen by both the canary site and the capture: "
                   f"{', '.join(map(str, lost))} (run.json: completeness)", warning=True)
