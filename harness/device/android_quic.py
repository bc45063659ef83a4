"""Keep an app on TCP so the TLS hooks see its traffic: QUIC off, by firewall or by Chrome flag.

Chromium-based browsers speak QUIC (HTTP/3, UDP 443) where they can, and TLS hooks never see
it. Two ways off, and the run records which one was in force:

- :class:`QuicFirewall` (rooted devices): ``iptables`` and ``ip6tables`` rules that reject UDP to
  ports 443 and 80 from the app's UID, in a chain of our own named after the run
  (``egh_<run tag>``) and jumped to from ``OUTPUT`` by a rule carrying the same tag in a comment.
  Rejecting (not dropping) makes Chromium fall back to TCP at once. The rules are removed when the
  run ends; after a crash, :func:`cleanup_leftovers` (``harness doctor --device``) finds every
  ``egh_`` chain and removes it.
- :class:`ChromeCommandLine`: ``--disable-quic`` in ``/data/local/tmp/chrome-command-line``, which
  Chromium builds read on user builds only when the app is the debug app
  (``am set-debug-app --persistent PKG``). Nothing on the device confirms the flag took, so it is
  recorded as such.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Sequence
from types import TracebackType

from harness.device.android_adb import AdbSession
from harness.errors import DeviceError

log = logging.getLogger(__name__)

CHAIN_PREFIX = "egh_"
COMMENT_PREFIX = "egress-harness:"
TOOLS = ("iptables", "ip6tables")
PORTS = (443, 80)
CHROME_COMMAND_LINE = "/data/local/tmp/chrome-command-line"
CHROMIUM_PACKAGES = ("com.android.chrome", "com.chrome.beta", "com.chrome.dev",
                     "com.chrome.canary", "org.chromium.chrome")


def chain_name(run_tag: str) -> str:
    """``egh_`` + the run tag made safe; iptables chain names stop at 28 characters."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", run_tag)
    return (CHAIN_PREFIX + safe)[:28]


class QuicFirewall:
    """UDP 443/80 rejected for one UID while the context is open (root needed)."""

    def __init__(self, session: AdbSession, uid: int, run_tag: str) -> None:
        self.session = session
        self.uid = uid
        self.tag = run_tag
        self.chain = chain_name(run_tag)
        self.installed: list[str] = []
        self.comments = True
        """Rules carry ``-m comment`` (switched off on kernels without xt_comment)."""

    def describe(self) -> str:
        return (f"iptables+ip6tables: UDP {'/'.join(map(str, PORTS))} rejected for uid {self.uid} "
                f"(chain {self.chain})")

    def _ipt(self, tool: str, *args: str, check: bool = True) -> bool:
        res = self.session.shell([tool, "-w", *args], root=True, check=check)
        return res.ok

    def _tag(self) -> tuple[str, ...]:
        return ("-m", "comment", "--comment", COMMENT_PREFIX + self.tag) if self.comments else ()

    def install(self) -> str:
        self.session.require_root("blocking QUIC with iptables")
        try:
            for tool in TOOLS:
                self._ipt(tool, "-N", self.chain)
                self.installed.append(tool)
                for port in PORTS:
                    self._rule(tool, "-A", self.chain, "-p", "udp", "--dport", str(port),
                               "-m", "owner", "--uid-owner", str(self.uid), tail=("-j", "REJECT"))
                self._rule(tool, "-I", "OUTPUT", tail=("-j", self.chain))
        except DeviceError:
            self.remove()
            raise
        log.info("%s: %s", self.session.serial, self.describe())
        return self.describe()

    def _rule(self, tool: str, *spec: str, tail: tuple[str, ...]) -> None:
        res = self.session.shell([tool, "-w", *spec, *self._tag(), *tail], root=True)
        if not res.ok and self.comments and "comment" in res.stderr:
            # A kernel without xt_comment: the chain name alone carries the run tag.
            log.info("%s: no iptables comment match; rules tagged by chain name only",
                     self.session.serial)
            self.comments = False
            res = self.session.shell([tool, "-w", *spec, *tail], root=True)
        if not res.ok:
            raise self.session.error(f"`{res.command}` failed: {res.stderr.strip()}", result=res)

    def remove(self) -> list[str]:
        """Undo in reverse; never raises. Returns what could not be removed."""
        problems: list[str] = []
        for tool in reversed(self.installed):
            steps = (("-D", "OUTPUT", *self._tag(), "-j", self.chain),
                     ("-F", self.chain), ("-X", self.chain))
            for step in steps:
                try:
                    if not self._ipt(tool, *step, check=False):
                        problems.append(f"{tool} {' '.join(step)}")
                except DeviceError as exc:
                    problems.append(f"{tool} {' '.join(step)}: {exc}")
        self.installed.clear()
        for p in problems:
            log.warning("%s: QUIC rule cleanup: %s", self.session.serial, p)
        return problems

    def __enter__(self) -> QuicFirewall:
        self.install()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()


def leftover_chains(session: AdbSession) -> list[tuple[str, str, list[list[str]]]]:
    """Every ``egh_`` chain with the ``OUTPUT`` rules that jump to it: (tool, chain, jumps)."""
    found = []
    for tool in TOOLS:
        res = session.shell([tool, "-w", "-S"], root=True)
        if not res.ok:
            raise session.error(f"`{tool} -S` failed: {res.stderr.strip()}", result=res)
        rules = [rule for rule in map(_split_rule, res.stdout.splitlines()) if rule]
        for rule in rules:
            if rule[:1] == ["-N"] and len(rule) > 1 and rule[1].startswith(CHAIN_PREFIX):
                jumps = [r[2:] for r in rules
                         if r[:2] == ["-A", "OUTPUT"] and r[-2:] == ["-j", rule[1]]]
                found.append((tool, rule[1], jumps))
    return found


def _split_rule(line: str) -> list[str]:
    """One ``iptables -S`` line as words; [] for one that does not split (an unbalanced quote:
    not a line iptables writes, so not one of ours)."""
    try:
        return shlex.split(line)
    except ValueError:
        return []


def cleanup_leftovers(session: AdbSession) -> list[str]:
    """Remove every chain a run left behind (after a crash); returns what was removed."""
    removed = []
    for tool, chain, jumps in leftover_chains(session):
        for spec in jumps:
            session.shell([tool, "-w", "-D", "OUTPUT", *spec], root=True, check=True)
        session.shell([tool, "-w", "-F", chain], root=True, check=True)
        session.shell([tool, "-w", "-X", chain], root=True, check=True)
        removed.append(f"{tool} {chain}")
    return removed


class ChromeCommandLine:
    """``--disable-quic`` through Chromium's command-line file, for one Chromium package."""

    def __init__(self, session: AdbSession, package: str,
                 flags: Sequence[str] = ("--disable-quic",)) -> None:
        self.session = session
        self.package = package
        self.flags = tuple(flags)
        self._previous: bytes | None = None
        self._installed = False

    def describe(self) -> str:
        return (f"chrome-command-line: {' '.join(self.flags)} in {CHROME_COMMAND_LINE}, "
                f"{self.package} set as persistent debug app (not confirmable from adb)")

    def line(self) -> bytes:
        """The file's content: Chromium splits it at spaces outside double quotes (which it
        strips), and the first word stands for the program name and is ignored."""
        words = [f'"{f}"' if " " in f and '"' not in f else f for f in self.flags]
        return ("_ " + " ".join(words) + "\n").encode()

    def install(self) -> str:
        if self.session.stat(CHROME_COMMAND_LINE) is not None:
            self._previous = self.session.pull(CHROME_COMMAND_LINE)
        self.session.push(self.line(), CHROME_COMMAND_LINE, mode=0o644)
        self.session.shell(["am", "set-debug-app", "--persistent", self.package], check=True)
        self._installed = True
        return self.describe()

    def remove(self) -> list[str]:
        if not self._installed:
            return []
        problems = []
        try:
            self.session.shell(["am", "clear-debug-app"], check=True)
            if self._previous is not None:
                self.session.push(self._previous, CHROME_COMMAND_LINE, mode=0o644)
            else:
                self.session.shell(["rm", "-f", CHROME_COMMAND_LINE], check=True)
        except DeviceError as exc:
            problems.append(str(exc))
            log.warning("%s", exc)
        self._installed = False
        return problems

    def __enter__(self) -> ChromeCommandLine:
        self.install()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()
