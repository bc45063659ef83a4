// The native hot path. Hooks written in C (a CModule) copy what they see into a
// preallocated double buffer in Memory.alloc()'d memory (Frida 17.26 crashes on writes to a
// CModule's own globals), under one mutex; the JS timer in emit.ts swaps the buffers and
// sends the full one as the native slice of a batch. No JS runs per hooked call.
// When both buffers are full the hooking thread waits for the drain (zero loss); only after
// waitLimitMs does it drop, and drops are counted and reported.

import { RING_C } from "./ring_c.js";

/** C source compiled into the ring's CModule (after the ring's own code), with the extra
 * symbols it needs: how sockets.ts and dns.ts keep their hot paths in the same module. */
export interface CFragment {
    source: string;
    symbols: { [name: string]: NativePointer };
}

/** Context of a wrapper made by replaceC: the ring, the hook index, the original. */
export const CTX = { ring: 0, hook: 8, aux: 12, original: 16, size: 24 };

/** Offsets of Ring members (x86_64/arm64 LP64; GMutex is 8 bytes). */
const OFF = {
    buf0: 8, buf1: 16, cap: 24, len0: 28, len1: 32, active: 36, maxRecord: 40,
    waitLimitUs: 44, tableCap: 48, nextConn: 56, drops: 64, droppedBytes: 72, waits: 80,
    records: 88, keys: 96, vals: 104, fds: 112, fdCap: 120, blockQuic: 124, tidKey: 128,
    inflight: 132, size: 136,
};

/** Every wrapper counts the threads inside it: ENTER () first, LEAVE () before each return
 * (replaceC refuses a body without them). Frida's unload waits for threads inside a
 * function replaced with Interceptor.replace, but not for replaceFast's or nearReplace's:
 * a thread blocked in a hooked read() when the script unloaded returned into unmapped
 * wrapper code and the process died (tests/hooks_native/test_install.py). dispose reports
 * the count and the controller waits for 0 before it unloads (harness/agent/session.py).
 * The ring pointer is the context's first word; Ring.inflight is at OFF.inflight. */
const COUNTING = `
#define INFLIGHT_ ((gint *) (*(guint8 **) hookctx + ${OFF.inflight}))
#define ENTER() g_atomic_int_add (INFLIGHT_, 1)
#define LEAVE() g_atomic_int_add (INFLIGHT_, -1)
`;

/** Declarations every replaceC wrapper starts with. */
const CTX_PRELUDE = `
#include <glib.h>
extern char hookctx[];
${COUNTING}
/* NULL until replaceFast returned the trampoline (NativeRing.install): wait for it. */
static void * original (void)
{
  void * volatile * slot = (void * volatile *) (hookctx + ${CTX.original});
  void * p;
  while ((p = *slot) == NULL)
    ;
  return p;
}
`;

/** The replacement of one TLS function: call the original, then record what it moved.
 * Interceptor.replace wrappers rather than attach() listeners: an onLeave listener in a
 * process that forks makes the child crash inside frida-agent under child gating (seen with
 * Frida 17.26). Installed by NativeRing.install (replaceFast or replace); ``original`` is
 * what its slot holds: replaceFast's trampoline, or with replace the target itself, which
 * called from inside its replacement reaches the original implementation. */
function wrapperSource(ex: boolean | "free"): string {
    const call = ex === "free"
        ? `void replacement (void * ssl)
{
  ENTER ();
  tls_forget (hookctx, ssl);
  ((FreeFn) original ()) (ssl);
  LEAVE ();
}`
        : ex
        ? `int replacement (void * ssl, void * buf, gsize num, gsize * out)
{
  ENTER ();
  int ret = ((ExFn) original ()) (ssl, buf, num, out);
  if (ret == 1 && out != NULL && *out > 0)
    tls_record (hookctx, ssl, buf, *out);
  LEAVE ();
  return ret;
}`
        : `int replacement (void * ssl, void * buf, int num)
{
  ENTER ();
  int ret = ((PlainFn) original ()) (ssl, buf, num);
  if (ret > 0)
    tls_record (hookctx, ssl, buf, (gsize) ret);
  LEAVE ();
  return ret;
}`;
    return `
#include <glib.h>
extern char hookctx[];
${COUNTING}
extern void tls_record (void * ctx, void * ssl, const void * buf, gsize n);
extern void tls_forget (void * ctx, void * ssl);
typedef void (* FreeFn) (void * ssl);
typedef int (* PlainFn) (void * ssl, void * buf, int num);
typedef int (* ExFn) (void * ssl, void * buf, gsize num, gsize * out);
static void * original (void)
{
  void * volatile * slot = (void * volatile *) (hookctx + ${OFF_ORIGINAL});
  void * p;
  while ((p = *slot) == NULL)
    ;
  return p;
}
${call}
`;
}

const OFF_ORIGINAL = 64;


export const HOOKCTX_SIZE = 72;

export interface RingConfig {
    /** Bytes per buffer (two are allocated). */
    bufferBytes: number;
    maxRecordBytes: number;
    waitLimitMs: number;
    tableSlots: number;
    /** fds below this are tracked by the socket hooks. */
    fdSlots: number;
    /** UDP sends to ports 443 and 80 fail (sockets.ts). */
    blockQuic: boolean;
    /** The process is suspended while hooks install: Interceptor.replaceFast may be used. */
    replaceFast: boolean;
    /** Where replaceFast refuses, patch with a near jump (nearReplace). Off under child
     * gating: with read() near-patched, a parent whose other thread sat in read() when it
     * forked was detached and then died in 3 of 6 runs (0 of 6 with read() on
     * Interceptor.replace; /tmp experiment of 2026-12-05, see docs/capture.md). */
    nearJumps: boolean;
}

export interface RingStats {
    records: number;
    drops: number;
    droppedBytes: number;
    waits: number;
    connections: number;
    /** Hooks installed with Interceptor.replaceFast. */
    fastHooks: number;
    /** Threads inside a wrapper now (blocked in a hooked read, say). */
    inflight: number;
    /** The functions installed with Interceptor.replace instead (its per-call bookkeeping
     * costs more): replaceFast refused them, or the process was running. */
    slowHooks: string[];
}

export class NativeRing {
    readonly cm: CModule;
    readonly ring: NativePointer;
    private readonly keep: NativePointer[] = [];
    /** Wrapper modules must stay referenced: a collected CModule is unmapped. */
    private readonly modules: CModule[] = [];
    private readonly swap: NativeFunction<UInt64, [NativePointerValue]>;
    private readonly fast: boolean;
    private readonly near: boolean;
    /** How many hooks replaceFast installed (status()). */
    fastCount = 0;
    /** The functions that fell back to Interceptor.replace, and why (status()). */
    private readonly slow: { target: NativePointer; why: string }[] = [];
    /** Functions patched by nearReplace, with the bytes to put back. */
    private readonly nearPatches: { target: NativePointer; saved: ArrayBuffer }[] = [];
    /** Every patched function, for revert(). */
    private readonly targets: NativePointer[] = [];

    constructor(cfg: RingConfig, fragments: CFragment[] = []) {
        const libc = (name: string): NativePointer => Module.getGlobalExportByName(name);
        const symbols: { [name: string]: NativePointer } = {
            clock_gettime: libc("clock_gettime"),
            getpeername: libc("getpeername"),
            getsockname: libc("getsockname"),
            gettid: libc("gettid"),
            libc_memcpy: libc("memcpy"),
            libc_memset: libc("memset"),
            pthread_getspecific: libc("pthread_getspecific"),
            pthread_setspecific: libc("pthread_setspecific"),
        };
        fragments.forEach((f) => Object.assign(symbols, f.symbols));
        this.cm = new CModule([RING_C, ...fragments.map((f) => f.source)].join("\n"), symbols);
        this.ring = Memory.alloc(OFF.size);
        const b0 = Memory.alloc(cfg.bufferBytes);
        const b1 = Memory.alloc(cfg.bufferBytes);
        let slots = 1;
        while (slots < cfg.tableSlots) slots <<= 1;
        const keys = Memory.alloc(slots * 8);
        const vals = Memory.alloc(slots * 8);
        const fds = Memory.alloc(cfg.fdSlots * 16);
        this.keep.push(b0, b1, keys, vals, fds);
        const keyOut = Memory.alloc(8);
        const keyCreate = new NativeFunction(libc("pthread_key_create"), "int", ["pointer", "pointer"]);
        if (keyCreate(keyOut, ptr(0)) !== 0) {
            throw new Error("pthread_key_create failed");
        }
        this.ring.add(OFF.tidKey).writeU32(keyOut.readU32());
        this.ring.add(OFF.fds).writePointer(fds);
        this.ring.add(OFF.fdCap).writeU32(cfg.fdSlots);
        this.ring.add(OFF.blockQuic).writeU32(cfg.blockQuic ? 1 : 0);
        this.ring.add(OFF.buf0).writePointer(b0);
        this.ring.add(OFF.buf1).writePointer(b1);
        this.ring.add(OFF.cap).writeU32(cfg.bufferBytes);
        this.ring.add(OFF.maxRecord).writeU32(cfg.maxRecordBytes);
        this.ring.add(OFF.waitLimitUs).writeU32(cfg.waitLimitMs * 1000);
        this.ring.add(OFF.tableCap).writeU32(slots);
        this.ring.add(OFF.keys).writePointer(keys);
        this.ring.add(OFF.vals).writePointer(vals);
        this.swap = new NativeFunction(this.cm.ring_swap, "uint64", ["pointer"]);
        this.fast = cfg.replaceFast;
        this.near = cfg.nearJumps;
    }

    /** Take everything written so far (called from the JS timer only). */
    drain(): ArrayBuffer | null {
        const v = this.swap(this.ring);
        const index = v.and(1).toNumber();
        const len = v.shr(1).toNumber();
        if (len === 0) {
            return null;
        }
        const buf = this.ring.add(index === 0 ? OFF.buf0 : OFF.buf1).readPointer();
        return buf.readByteArray(len);
    }

    /** Threads inside a wrapper now (dispose: what the controller must wait for). */
    inflight(): number {
        return this.ring.add(OFF.inflight).readS32();
    }

    /** The loss counters alone (read per batch by emit.ts). */
    counters(): { drops: number; droppedBytes: number; waits: number } {
        return {
            drops: this.ring.add(OFF.drops).readU64().toNumber(),
            droppedBytes: this.ring.add(OFF.droppedBytes).readU64().toNumber(),
            waits: this.ring.add(OFF.waits).readU64().toNumber(),
        };
    }

    stats(): RingStats {
        return {
            records: this.ring.add(OFF.records).readU64().toNumber(),
            drops: this.ring.add(OFF.drops).readU64().toNumber(),
            droppedBytes: this.ring.add(OFF.droppedBytes).readU64().toNumber(),
            waits: this.ring.add(OFF.waits).readU64().toNumber(),
            connections: this.ring.add(OFF.nextConn).readU64().toNumber(),
            fastHooks: this.fastCount,
            inflight: this.inflight(),
            slowHooks: this.slow.map(({ target, why }) => {
                const sym = DebugSymbol.fromAddress(target);
                const name = sym.name !== null ? `${sym.moduleName ?? "?"}!${sym.name}`
                    : target.toString();
                return `${name} (${why})`;
            }),
        };
    }

    /** A HookCtx for one hooked function (kept alive as long as the ring). */
    /** Replace one TLS function with a recording wrapper; returns the original's entry. */
    replaceTls(target: NativePointer, hook: number, kind: number, ex: boolean | "free",
               fns: (NativePointer | null)[]): NativePointer {
        const ctx = this.hookContext(hook, kind, ex === true, fns);
        const wrapper = new CModule(wrapperSource(ex), {
            hookctx: ctx, tls_record: this.cm.tls_record, tls_forget: this.cm.tls_forget,
        });
        this.modules.push(wrapper);
        this.install(target, wrapper.replacement, ctx.add(OFF_ORIGINAL));
        return target;
    }

    /** Replace ``target`` with ``replacement`` from a C wrapper whose source follows
     * CTX_PRELUDE (``hookctx``, ``original()``) and calls ``imports`` of the ring's module.
     * ``aux`` is a per-hook number the wrapper's helpers may read (CTX.aux). */
    replaceC(target: NativePointer, body: string, hook: number, imports: string[], aux = 0): void {
        if (!body.includes("ENTER ();") || !body.includes("LEAVE ();")) {
            throw new Error("a wrapper must count itself in and out (ENTER/LEAVE)");
        }
        const ctx = Memory.alloc(CTX.size);
        this.keep.push(ctx);
        ctx.writePointer(this.ring);
        ctx.add(CTX.hook).writeU32(hook);
        ctx.add(CTX.aux).writeU32(aux);
        const symbols: { [name: string]: NativePointer } = { hookctx: ctx };
        for (const name of imports) {
            const p = (this.cm as unknown as { [k: string]: NativePointer | undefined })[name];
            if (p === undefined) {
                throw new Error(`ring module has no ${name}`);
            }
            symbols[name] = p;
        }
        const wrapper = new CModule(CTX_PRELUDE + body, symbols);
        this.modules.push(wrapper);
        this.install(target, wrapper.replacement, ctx.add(CTX.original));
    }

    /** Patch ``target`` to jump to ``replacement`` and store where the original is reached
     * in ``slot``. With ``fast`` (the process is suspended: spawned, or a child held by child
     * gating) Interceptor.replaceFast, whose jump goes straight to the wrapper (1.6 µs less
     * per hooked call than replace's per-invocation bookkeeping, measured in bench/README);
     * its original is a trampoline only known once it is installed, so the slot is NULL
     * until then and a wrapper entered in that window waits for it (original() above).
     * Where replaceFast refuses (a function too short or too close to one already patched,
     * e.g. SSL_write_ex right after SSL_write in OpenSSL 3), and when attaching to a running
     * process, Interceptor.replace: inside its replacement a call to the target itself
     * reaches the original. */
    private install(target: NativePointer, replacement: NativePointer, slot: NativePointer): void {
        let why = "the process was running when the hooks went in";
        if (this.fast) {
            slot.writePointer(ptr(0));
            try {
                slot.writePointer(Interceptor.replaceFast(target, replacement));
                this.targets.push(target);
                this.fastCount++;
                return;
            } catch (e) {
                why = `replaceFast: ${e}`;
            }
            const near = this.near ? this.nearReplace(target, replacement) : null;
            if (near !== null) {
                slot.writePointer(near);
                this.fastCount++;
                return;
            }
        }
        slot.writePointer(target);
        Interceptor.replace(target, replacement);
        this.targets.push(target);
        // named when status() asks: symbolicating here made the agent's work right after a
        // library load longer, and a fork soon after such work loses the child under child
        // gating (docs/capture.md)
        this.slow.push({ target, why });
    }

    /** x86-64, process suspended: a fast replacement where replaceFast refuses. Its jump to
     * the replacement is always the 16-byte far form, and the instructions it overwrites
     * must be relocatable without passing a call or syscall: glibc's read() has its syscall
     * at byte 11, OpenSSL 3's SSL_read_ex/SSL_write_ex a call at byte 4, so those went
     * through Interceptor.replace, whose per-call bookkeeping cost the keep-alive client
     * ~1.7 µs per read (bench/README.md). Here a 5-byte near jump goes to a stub allocated
     * within ±2 GB, which jumps on to the replacement; the overwritten instructions are
     * relocated (Frida's X86Relocator) into a trampoline that continues in the original,
     * returned as the original's entry. Interceptor does not know this patch: revert() puts
     * the bytes back (dispose, which Frida also calls on unload). Null when not possible. */
    private nearReplace(target: NativePointer, replacement: NativePointer): NativePointer | null {
        if (Process.arch !== "x64") {
            return null;
        }
        let page: NativePointer;
        try {
            page = Memory.alloc(Process.pageSize, { near: target, maxDistance: 0x7ff00000 });
        } catch (e) {
            return null;
        }
        const distance = page.sub(target.add(5)).toInt32();
        if (!page.equals(target.add(5).add(distance))) {
            return null; // Memory.alloc did not honour `near`: no rel32 jump reaches the stub
        }
        const trampoline = page.add(64);
        let moved = 0;
        let ok = true;
        const w = new X86Writer(page, { pc: page });
        w.putJmpAddress(replacement);
        w.flush();
        const tw = new X86Writer(trampoline, { pc: trampoline });
        const rl = new X86Relocator(target, tw);
        while (moved < 5) {
            const n = rl.readOne();
            if (n === 0) {
                ok = false;
                break;
            }
            moved = n;
            const insn = rl.input;
            if (moved < 5 && (rl.eoi || insn === null || ["call", "syscall", "sysenter", "int"]
                .includes(insn.mnemonic))) {
                ok = false;
                break;
            }
        }
        if (ok) {
            rl.writeAll();
            if (!rl.eoi) {
                tw.putJmpAddress(target.add(moved));
            }
            tw.flush();
        }
        rl.dispose();
        tw.dispose();
        w.dispose();
        if (!ok) {
            return null;
        }
        Memory.protect(page, Process.pageSize, "r-x");
        const saved = target.readByteArray(5);
        if (saved === null) {
            return null;
        }
        Memory.patchCode(target, 5, (code) => {
            const pw = new X86Writer(code, { pc: target });
            pw.putJmpAddress(page);
            pw.flush();
            pw.dispose();
        });
        this.keep.push(page);
        this.nearPatches.push({ target, saved });
        return trampoline;
    }

    /** Put every patched function back (dispose). A thread still blocked inside a wrapper
     * returns through it (the wrapper modules stay mapped), but no new call enters one: the
     * script's unload waits for threads inside replaced functions, and a thread blocked in
     * a hooked read() of an idle socket or of stdin would keep it waiting forever. */
    revert(): void {
        for (const p of this.nearPatches.splice(0)) {
            Memory.patchCode(p.target, 5, (code) => code.writeByteArray(p.saved));
        }
        for (const t of this.targets.splice(0)) {
            try {
                Interceptor.revert(t);
            } catch (e) {
                // already reverted, or never fully installed
            }
        }
        Interceptor.flush();
    }

    hookContext(hook: number, kind: number, ex: boolean, fns: (NativePointer | null)[]): NativePointer {
        const ctx = Memory.alloc(HOOKCTX_SIZE);
        this.keep.push(ctx);
        ctx.writePointer(this.ring);
        ctx.add(8).writeU32(hook);
        ctx.add(12).writeU32(kind);
        ctx.add(16).writeU32(ex ? 1 : 0);
        fns.forEach((f, i) => ctx.add(24 + 8 * i).writePointer(f ?? ptr(0)));
        return ctx;
    }
}
