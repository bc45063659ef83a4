"""A simulated Android phone behind the fake adb server: properties, files, apps and a small shell.

The fake adb server (:mod:`harness.testing.fake_adb`) hands every ``shell:`` / ``shell,v2:``
command and every ``sync:`` request to a :class:`FakePhone`. The phone answers from state the
test sets up and from transcripts of real-device outputs (``harness/data/android/*.txt``; each
says where its content came from). It interprets only the commands the device code sends, the
way Android's toybox/mksh and framework tools print them, and records every command so a test
can assert what reached the wire. Apps and processes (`pm`, `am`, `ps`, frida-server, the
browser) are in :mod:`harness.testing.fake_phone_apps`, the small types in
:mod:`harness.testing.fake_phone_state`.
"""

from __future__ import annotations

import hashlib
import shlex
import threading
from dataclasses import dataclass, field

from harness.testing.fake_netfilter import netfilter
from harness.testing.fake_phone_apps import AppsAndProcesses
from harness.testing.fake_phone_state import (
    PNG_1X1,
    QTAGUID,
    FakeApp,
    FakeFile,
    Outcome,
    TcpService,
)
from harness.testing.transcripts import parcel_string, transcript

__all__ = ["QTAGUID", "FakeApp", "FakeFile", "FakePhone", "Outcome", "TcpService"]


@dataclass
class FakePhone(AppsAndProcesses):
    """One phone. Fields are the state a test arranges; ``commands`` is what arrived."""

    serial: str
    props: dict[str, str]
    state: str = "device"
    su: bool = False
    """A working `su` (Magisk-style `su -c CMD`)."""
    adb_root_allowed: bool = False
    """`adb root` restarts adbd as root (userdebug/eng builds)."""
    adbd_root: bool = False
    features: str = ("shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir,apex,abb,"
                     "fixed_push_symlink_timestamp,abb_exec,remount_shell,track_app,sendrecv_v2")
    settings: dict[str, str] = field(default_factory=dict)
    files: dict[str, FakeFile] = field(default_factory=dict)
    apps: dict[str, FakeApp] = field(default_factory=dict)
    subinfo: dict[int, str | None] = field(default_factory=dict)
    """`service call iphonesubinfo CODE` -> the String it returns (privileged callers only)."""
    netstats: str = ""
    accounts: str = ""
    processes: dict[int, str] = field(default_factory=dict)
    tcp_services: dict[int, TcpService] = field(default_factory=dict)
    frida_backend: tuple[str, int] | None = None
    """A real Frida endpoint (a portal) that frida-server's port tunnels to once started."""
    xt_comment: bool = True
    """The kernel has iptables' comment match."""
    reverse_ports: dict[int, int] = field(default_factory=dict)
    """Device port -> host port of every `adb reverse` in force (kept by the server)."""
    fetched: list[str] = field(default_factory=list)
    """URLs an app "loaded" from the host through a reverse (see ``_browse``)."""
    browser: tuple[str, int] | None = None
    """A real process that loads URLs the phone opens (:mod:`harness.testing.fake_browser`)."""
    apks: dict[str, FakeApp] = field(default_factory=dict)
    """sha256 of an APK's bytes -> the app `pm install` of those bytes installs."""
    resident: dict[str, int] = field(default_factory=dict)
    """package -> pid of a real local process that plays the app: listed by `ps` whenever
    the app runs (until `am force-stop`, back on the next start), so Frida can attach it."""
    debug_app: str | None = None
    """`am set-debug-app` in force (Chromium then reads its command-line file)."""
    commands: list[str] = field(default_factory=list)
    iptables: dict[str, dict[str, list[list[str]]]] = field(
        default_factory=lambda: {"iptables": {"OUTPUT": []}, "ip6tables": {"OUTPUT": []}})
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _next_pid: int = 4000

    @property
    def sdk(self) -> int:
        return int(self.props.get("ro.build.version.sdk", "0") or 0)

    # -- entry points used by the server ------------------------------------------------------

    def shell(self, command: str) -> Outcome:
        with self.lock:
            self.commands.append(command)
            try:
                return self._run(command, root=self.adbd_root)
            except ValueError as exc:  # shlex: unbalanced quotes
                return Outcome(stderr=f"/system/bin/sh: syntax error: {exc}\n".encode(),
                               exit_code=2)

    def adb_root(self) -> bytes:
        with self.lock:
            if self.adbd_root:
                return b"adbd is already running as root\n"
            if not self.adb_root_allowed:
                return b"adbd cannot run as root in production builds\n"
            self.adbd_root = True
            return b"restarting adbd as root\n"

    def stat(self, path: str) -> FakeFile | None:
        with self.lock:
            if path in self.files:
                return self.files[path]
            if any(p.startswith(path.rstrip("/") + "/") for p in self.files) or path in (
                    "/", "/data/local/tmp", "/sdcard"):
                return FakeFile(b"", mode=0o040771)
            return None

    def write(self, path: str, data: bytes, mode: int, mtime: int) -> str | None:
        """Store a pushed file; return an error text like adbd's when it refuses."""
        with self.lock:
            if not (path.startswith("/data/local/tmp/") or path.startswith("/sdcard/")):
                return f"couldn't create file: Permission denied ({path})"
            self.files[path] = FakeFile(data, mode=mode, mtime=mtime)
            return None

    def read(self, path: str) -> bytes | None:
        with self.lock:
            f = self.files.get(path)
            return None if f is None or f.root_only else f.data

    # -- the shell ------------------------------------------------------------------------------

    def _run(self, command: str, *, root: bool) -> Outcome:
        """Run ``cmd1 ; cmd2 && cmd3`` the way mksh would (quotes respected, `$?` in echo)."""
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        groups: list[tuple[str, list[str]]] = [("", [])]
        for token in lexer:
            if token in (";", "&&"):
                groups.append((token, []))
            else:
                groups[-1][1].append(token)
        out = Outcome()
        for sep, argv in groups:
            if sep == "&&" and out.exit_code:
                continue
            one = self._exec(argv, root=root, last=out.exit_code)
            out = Outcome(out.stdout + one.stdout, out.stderr + one.stderr, one.exit_code,
                          one.stream, one.on_close, out.v1 + one.v1)
        return out

    def _exec(self, argv: list[str], *, root: bool, last: int) -> Outcome:
        if not argv:
            return Outcome()
        if argv[0] == "echo":
            return Outcome((" ".join(argv[1:]).replace("$?", str(last)) + "\n").encode())
        if argv[0] == "su":
            return self._su(argv, root)
        if argv[0] == "sh" and argv[1:2] == ["-c"]:
            return self._run(argv[2], root=root)
        if "=" in argv[0] and argv[1:2] == ["app_process"]:
            return self._app_process(argv)
        handler = getattr(self, "_cmd_" + argv[0].rsplit("/", 1)[-1].replace("-", "_"), None)
        if argv[0].startswith("/") and argv[0].rsplit("/", 1)[-1].startswith("frida-server"):
            return self._frida_server(argv, root)
        if handler is None:
            return Outcome(stderr=f"/system/bin/sh: {argv[0]}: not found\n".encode(), exit_code=127)
        result: Outcome = handler(argv, root)
        return result

    def _su(self, argv: list[str], root: bool) -> Outcome:
        if not self.su:
            return Outcome(stderr=b"/system/bin/sh: su: not found\n", exit_code=127)
        if argv[1:2] == ["-c"] and len(argv) >= 3:
            return self._run(" ".join(argv[2:]) if len(argv) > 3 else argv[2], root=True)
        if argv[1:3] == ["0", "sh"] and argv[3:4] == ["-c"]:
            return self._run(argv[4], root=True)
        return Outcome(stderr=b"su: usage: su -c COMMAND\n", exit_code=1)

    def _cmd_id(self, argv: list[str], root: bool) -> Outcome:
        uid = 0 if root else 2000
        if argv[1:] == ["-u"]:
            return Outcome(f"{uid}\n".encode())
        name = "root" if root else "shell"
        return Outcome(f"uid={uid}({name}) gid={uid}({name})\n".encode())

    def _cmd_getprop(self, argv: list[str], root: bool) -> Outcome:
        if len(argv) > 1:
            return Outcome((self.props.get(argv[1], "") + "\n").encode())
        body = "".join(f"[{k}]: [{v}]\n" for k, v in sorted(self.props.items()))
        return Outcome(body.encode())

    def _cmd_settings(self, argv: list[str], root: bool) -> Outcome:
        if len(argv) == 4 and argv[1] == "get":
            return Outcome((self.settings.get(f"{argv[2]}/{argv[3]}", "null") + "\n").encode())
        if len(argv) == 5 and argv[1] == "put":
            self.settings[f"{argv[2]}/{argv[3]}"] = argv[4]
            return Outcome()
        return Outcome(stderr=b"usage: settings get|put NAMESPACE KEY [VALUE]\n", exit_code=1)

    def _cmd_service(self, argv: list[str], root: bool) -> Outcome:
        if argv[1:3] != ["call", "iphonesubinfo"] or len(argv) < 4:
            return Outcome(b"Service iphonesubinfo: found\n" if argv[1:2] == ["check"] else b"")
        code = int(argv[3])
        if code not in self.subinfo:
            return Outcome(parcel_string(None).encode())
        if self.sdk >= 29 and not root:
            return Outcome(transcript("iphonesubinfo_denied_parcel.txt").encode())
        return Outcome(parcel_string(self.subinfo[code]).encode())

    def _cmd_dumpsys(self, argv: list[str], root: bool) -> Outcome:
        what = argv[1] if len(argv) > 1 else ""
        if what == "package" and len(argv) > 2:
            app = self.apps.get(argv[2])
            return Outcome((app.dumpsys if app else "Key Set Manager:\n\nDexopt state:\n").encode())
        if what == "netstats":
            return Outcome(b"" if "--poll" in argv else self.netstats.encode())
        if what == "account":
            return Outcome(self.accounts.encode())
        if what == "iphonesubinfo":
            return Outcome(transcript("dumpsys_iphonesubinfo_kitkat.txt").encode()
                           if self.sdk < 21 else b"")
        return Outcome(f"Can't find service: {what}\n".encode())

    def _cmd_cat(self, argv: list[str], root: bool) -> Outcome:
        out = Outcome()
        for path in argv[1:]:
            f = self.files.get(path)
            if f is None:
                return Outcome(out.stdout, f"cat: {path}: No such file or directory\n".encode(), 1)
            if f.root_only and not root:
                return Outcome(out.stdout, f"cat: {path}: Permission denied\n".encode(), 1)
            out = Outcome(out.stdout + f.data)
        return out

    def _cmd_input(self, argv: list[str], root: bool) -> Outcome:
        return Outcome()

    def _cmd_wm(self, argv: list[str], root: bool) -> Outcome:
        return Outcome(b"Physical size: 1080x2340\n" if argv[1:] == ["size"] else b"")

    def _cmd_chmod(self, argv: list[str], root: bool) -> Outcome:
        f = self.files.get(argv[2])
        if f is None:
            return Outcome(stderr=f"chmod: {argv[2]}: No such file or directory\n".encode(),
                           exit_code=1)
        f.mode = (f.mode & ~0o7777) | int(argv[1], 8)
        return Outcome()

    def _cmd_rm(self, argv: list[str], root: bool) -> Outcome:
        for path in argv[1:]:
            if not path.startswith("-"):
                self.files.pop(path, None)
        return Outcome()

    def _cmd_screencap(self, argv: list[str], root: bool) -> Outcome:
        return Outcome(PNG_1X1)

    def _cmd_logcat(self, argv: list[str], root: bool) -> Outcome:
        return Outcome(b"11-22 16:00:00.000  1234  1234 I ActivityManager: Start proc\n")

    def _cmd_toybox(self, argv: list[str], root: bool) -> Outcome:
        if argv[1] == "md5sum":
            f = self.files.get(argv[2])
            if f is None:
                return Outcome(stderr=f"md5sum: {argv[2]}: No such file\n".encode(), exit_code=1)
            return Outcome(f"{hashlib.md5(f.data).hexdigest()}  {argv[2]}\n".encode())
        return Outcome(stderr=b"toybox: unknown command\n", exit_code=1)

    def _cmd_iptables(self, argv: list[str], root: bool) -> Outcome:
        return self._netfilter("iptables", argv, root)

    def _cmd_ip6tables(self, argv: list[str], root: bool) -> Outcome:
        return self._netfilter("ip6tables", argv, root)

    def _netfilter(self, table: str, argv: list[str], root: bool) -> Outcome:
        if not root:
            return Outcome(stderr=f"{table} v1.8.4 (legacy): can't initialize {table} table "
                                  "`filter': Permission denied (you must be root)\n".encode(),
                           exit_code=3)
        if not self.xt_comment and "comment" in argv:
            return Outcome(stderr=f"{table} v1.8.4 (legacy): Couldn't load match `comment':No "
                                  "such file or directory\n".encode(), exit_code=2)
        out, err, code = netfilter(self.iptables[table], table, argv[1:])
        return Outcome(out.encode(), err.encode(), code)
