// What following children (Frida child gating) needs from the agent: Frida's descriptors
// kept open across close_range() (guardCloseRange), each reaped child reported so a lost one
// shows (watchReaps), and the copy of the script a forked child inherits kept quiet
// (quietInForkedChild). Installed only when children are followed.
//
// close_range: a child held by child gating reaches the controller through the agent's
// sockets, which Frida guards against close() (FileDescriptorGuard) but not against
// close_range(). Python's subprocess (close_fds=True, the default) and glibc's closefrom()
// call close_range(3, ~0) in the forked child before exec: the agent's sockets were closed,
// the execve gate then waited for the controller forever, and the child hung before exec
// (measured with Frida 17.26.2 and no script at all: 3 of 3 children hung; with this guard
// 5 of 5 ran).
// The replacement closes each open descriptor of the range with close(), which Frida's
// guard skips for its own; other flags (CLOEXEC, UNSHARE) go to the original unchanged.

import { emit, setSendGuard, stopEmit } from "./emit.js";
import { HookStatus, RecordKind } from "./protocol.js";
import { reportHook } from "./registry.js";

const GETDENTS64: { [arch: string]: number } = { x64: 217, arm64: 61 };

let guarded: NativePointer | null = null;
/** Referenced for as long as the replacement is installed (a collected CModule is unmapped). */
let module: CModule | null = null;

function source(getdents64: number): string {
    return `
#include <glib.h>
#include <string.h>

extern int open (const char * path, int flags, ...);
extern int close (int fd);
extern long syscall (long n, ...);
extern int real_close_range (unsigned int first, unsigned int last, int flags);

#define O_DIRECTORY_CLOEXEC (0x10000 | 0x80000)

int replacement (unsigned int first, unsigned int last, int flags)
{
  if (flags != 0)
    return real_close_range (first, last, flags);
  int dir = open ("/proc/self/fd", O_DIRECTORY_CLOEXEC);
  if (dir < 0)
    return real_close_range (first, last, flags);
  char buf[4096];
  for (;;)
  {
    long n = syscall (${getdents64}, dir, buf, sizeof (buf));
    if (n <= 0)
      break;
    for (long pos = 0; pos < n;)
    {
      /* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
      unsigned short reclen;
      memcpy (&reclen, buf + pos + 16, 2);
      const char * name = buf + pos + 19;
      pos += reclen;
      if (name[0] < '0' || name[0] > '9')
        continue;
      guint64 fd = 0;
      for (const char * c = name; *c >= '0' && *c <= '9'; c++)
        fd = fd * 10 + (guint64) (*c - '0');
      if (fd != (guint64) dir && fd >= first && fd <= last)
        close ((int) fd);
    }
  }
  close (dir);
  return 0;
}
`;
}

/** Replace close_range (installed only when children are followed). */
export function guardCloseRange(): void {
    const name = "children.close_range";
    const target = Module.findGlobalExportByName("close_range");
    const nr = GETDENTS64[Process.arch];
    if (target === null || nr === undefined) {
        reportHook("children", name, HookStatus.SKIPPED, "libc",
            target === null ? "no close_range export" : `no getdents64 number for ${Process.arch}`);
        return;
    }
    const sym = (n: string): NativePointer => Module.getGlobalExportByName(n);
    try {
        module = new CModule(source(nr), {
            real_close_range: target, open: sym("open"), close: sym("close"), syscall: sym("syscall"),
        });
        Interceptor.replace(target, module.replacement);
        guarded = target;
        reportHook("children", name, HookStatus.INSTALLED, "libc");
    } catch (e) {
        reportHook("children", name, HookStatus.FAILED, "libc", String(e));
    }
}

let reapListeners: InvocationListener[] = [];
/** Threads inside a hooked wait: glibc's waitpid() calls wait4(), one record per wait. */
const waiting = new Set<number>();

/**
 * Records each child this process waits for (`waitpid`, `wait4`): a `process` record,
 * event "reaped", with the child's pid and raw wait status. The harness compares them with
 * the processes that reported: a child that died in Frida's fork recovery, before Frida
 * announced it, is then recorded as lost instead of missing silently (docs/capture.md).
 * A hook on fork() itself cannot do this, even one that only counts calls on entry: Frida
 * waits for the child's copy of the script to leave it, which it cannot while Frida holds
 * the child, and the parent was then detached at every bare fork. Installed only when
 * children are followed.
 */
export function watchReaps(): void {
    for (const fn of ["waitpid", "wait4"]) {
        const name = `children.${fn}`;
        const target = Module.findGlobalExportByName(fn);
        if (target === null) {
            reportHook("children", name, HookStatus.SKIPPED, "libc", `no ${fn} export`);
            continue;
        }
        try {
            reapListeners.push(Interceptor.attach(target, {
                onEnter(args) {
                    this.outer = !waiting.has(this.threadId);
                    if (this.outer) {
                        waiting.add(this.threadId);
                        this.status = args[1];
                    }
                },
                onLeave(ret) {
                    if (!this.outer) {
                        return;
                    }
                    waiting.delete(this.threadId);
                    const child = ret.toInt32();
                    if (child <= 0) {
                        return;
                    }
                    const at = this.status as NativePointer;
                    emit(RecordKind.PROCESS, name, {
                        event: "reaped", child, status: at.isNull() ? null : at.readS32(),
                    });
                },
            }));
            reportHook("children", name, HookStatus.INSTALLED, "libc");
        } catch (e) {
            reportHook("children", name, HookStatus.FAILED, "libc", String(e));
        }
    }
}

export function disposeChildren(): void {
    for (const l of reapListeners) {
        l.detach();
    }
    reapListeners = [];
    if (guarded !== null) {
        try {
            Interceptor.revert(guarded);
            Interceptor.flush();
        } catch (e) {
            // already reverted
        }
        guarded = null;
    }
}

/**
 * Makes the copy of this script that a forked child inherits go quiet.
 *
 * Frida keeps a parent's sessions, with their scripts, in a forked child and closes them
 * there during its fork recovery, calling this script's dispose (which flushes). That copy
 * must send nothing: its session is the parent's, over a connection the child discarded.
 * The controller instruments the child with a script of its own. On its first flush in a
 * new process this copy reverts its hooks (`inChild`) and never sends again. Whatever slows
 * this copy's close also risks the parent: Frida's host hears of the close on the child's
 * new channel and, when it comes late, takes it for the parent's own session closing
 * (docs/capture.md, children). Installed only when children are followed.
 */
export function quietInForkedChild(inChild: () => void): void {
    const getpid = new NativeFunction(Module.getGlobalExportByName("getpid"), "int", []);
    const pid = getpid() as number;
    let inert = false;
    setSendGuard(() => {
        if (inert) {
            return false;
        }
        if ((getpid() as number) === pid) {
            return true;
        }
        inert = true;
        inChild();
        stopEmit();
        return false;
    });
}
