// Declarative Java hook tables and the one installer that runs them. Each stack or SDK file
// exports a table of JavaHook entries; install() turns each into an installed, skipped
// (class not present, with the class name) or failed (with the reason) coverage report, so
// nothing is skipped silently. Entries whose class is absent stay pending and are retried
// against class loaders that appear later (see loaders.ts).

import Java from "frida-java-bridge";

import { now, profiling, took } from "../profile.js";
import { HookStatus } from "../protocol.js";
import { reportHook } from "../registry.js";
import { reportError } from "./errors.js";
import { CEntrySpec } from "./centries.js";
import { customEntry, originalCaller, passEntry, RawOriginal, rawEntry } from "./entries.js";
import { counted } from "./inflight.js";
import { enter, inside, leave } from "./scope.js";
import { swapAsked } from "./swaps.js";

/** One Java method call as a hook sees it. */
export interface HookCall {
    self: any;
    args: any[];
    hook: JavaHook;
    /** Scratch space from before() to after() of the same call. */
    state: { [k: string]: unknown };
}

export interface JavaHook {
    /** Coverage group, e.g. `java.jsse` or `java.sdk.sensors`. */
    group: string;
    /** Hook name carried by records, e.g. `java.jsse.AppOutputStream.write`. */
    name: string;
    cls: string;
    /** Method name; `$init` for constructors. */
    method: string;
    /** Argument types of one overload; omitted: every overload of the method. */
    args?: string[];
    /** Package prefixes of the hooked library, skipped when attributing frames. */
    library?: string[];
    /** Runs before the original, never throws into the app. */
    before?: (call: HookCall) => void;
    /** Runs after the original returned (not when it threw), never throws into the app. */
    after?: (call: HookCall, ret: any) => void;
    /** Runs after the original whether it returned or threw. */
    always?: (call: HookCall) => void;
    /** Returns replacement arguments for the original (e.g. enableQuic(false)). */
    rewrite?: (call: HookCall) => any[] | null;
    /** The hook's functions take raw JNI values: `call.self` and object arguments as
     *  NativePointers (local references, valid during the call), ints as numbers. On HotSpot
     *  the JVM then enters the hook without the bridge's wrappers (entries.ts rawEntry); an
     *  object result reaches after() as a local reference. `always` must make no JNI call
     *  (it also runs while the original's Java exception is pending). */
    raw?: boolean;
    // (A raw hook may fall back to the bridge's entry, on ART or when its signature does not
    // allow a raw one: its functions then get wrappers, and must take both forms.)
    /** Calls made inside the TLS scope (scope.ts) go straight to the original, with no
     *  bookkeeping: JSSE's own Cipher calls. */
    passInTls?: boolean;
    /** The call runs inside the TLS scope: the Cipher calls it makes are the TLS stack's. */
    tls?: boolean;
    /** With `raw`: on HotSpot, the hook's own entry written in C, made from the entry's spec
     *  after prepare() (JSSE's streams: centries.ts cMovedEntry; OkHttp: okhttp_c.ts). It
     *  records by itself (its JS callback wrapped by hookCallback()), so before() and after()
     *  only run where it cannot be made. */
    entryInC?: (spec: CEntrySpec) => NativePointer;
    /** Runs once the hook is installed, with the index of its coverage report (the hook
     *  name native records carry). */
    installed?: (index: number) => void;
    /** Runs once before the hook is installed, with the class factory that found cls. */
    prepare?: (factory: Java.ClassFactory) => void;
}

interface Entry {
    hook: JavaHook;
    /** Still waiting for its class to appear. */
    pending: boolean;
}

export { reportError };

const entries: Entry[] = [];
/** Threads currently inside hook code: Java calls our hooks make are not recorded. */
const busy = new Set<number>();

function target(h: JavaHook): string {
    return `${h.cls}.${h.method}(${h.args !== undefined ? h.args.join(", ") : "*"})`;
}

/** Run fn with this thread marked busy; hooks fired meanwhile pass straight through. */
export function guarded<T>(where: string, fn: () => T): T | undefined {
    const tid = Process.getCurrentThreadId();
    if (busy.has(tid)) {
        return undefined;
    }
    busy.add(tid);
    try {
        return fn();
    } catch (e) {
        reportError(where, e);
        return undefined;
    } finally {
        busy.delete(tid);
    }
}

function isBusy(): boolean {
    return busy.size !== 0 && busy.has(Process.getCurrentThreadId());
}

function isClassMissing(e: unknown): boolean {
    const s = String(e);
    // "NoClassDefFoundError: Could not initialize class X": X is there, its static
    // initializer failed earlier; that is a failure to report, not an absent class.
    return s.includes("ClassNotFoundException")
        || (s.includes("NoClassDefFoundError") && !s.includes("Could not initialize class"));
}

/** Hook names active per thread ("<tid>:<name>"): an overload calling another overload of
 *  the same entry (track(String) -> track(String, JSONObject)) is one event, not two. */
const active = new Set<string>();

/** Set by closeHooks(): no hook is installed after it (a late class loader, a WebViewClient
 *  subclass seen by a hook still running), whose entry the unload would free under it. */
let closed = false;

/** No more hooks (dispose). */
export function closeHooks(): void {
    closed = true;
}

/** Every overload wrap() replaced (the bridge's method objects). */
const wrapped: any[] = [];
/** The replacements revertAll() took out: the bridge drops them once a method is put back,
 *  and the JS GC would then free the replacement Method and its entry while a thread may
 *  still run in them. Kept until the unload, which the controller starts only once no
 *  thread does (inflight.ts). */
const reverted: any[] = [];

/** HotSpot: put every hooked method back, now rather than at unload, so that from the
 *  bridge's next tick (a VM operation, at a safepoint) no Java call enters an entry of ours
 *  and the threads still inside can be waited for (inflight.ts). The bridge's own revert at
 *  unload then finds them put back already (it is idempotent). Reverting used to crash the
 *  JVM when a thread was inside (docs/java.md): the bridge dropped the replacement, whose
 *  memory the JS GC then freed under that thread; here it stays. Returns the methods' ids;
 *  null where the bridge is not the HotSpot one this was written for (ART: nothing put back). */
export function revertAll(): Set<string> | null {
    if (!onHotSpot()) {
        return null;
    }
    const ids = new Set<string>();
    swapAsked(() => revertsPending() === 0); // before the bridge schedules the reverts
    for (const m of wrapped) {
        const replacement = m._r;
        const mangler = replacement?._m;
        if (mangler === undefined || typeof mangler.revert !== "function") {
            continue;
        }
        if (mangler.originalMethod !== null && mangler.originalMethod !== undefined) {
            // The bridge's id for calling the original: made before the revert, since making
            // it marks the original final, which the revert then undoes (jvm.js resolveTarget).
            mangler.resolveTarget(null, true, Java.vm.getEnv(), (Java as any).api);
        }
        const running = mangler.newMethod;
        if (running !== null && running !== undefined) {
            // The revert marks the replacement old and obsolete with the flags the bridge
            // read before it made the method native (jvm.js fetchJvmMethod, installJvmMethod):
            // a thread inside it then runs a native frame of a method the JVM thinks is
            // bytecode (a garbage bci in hs_err; stack walks crash). Its flags as they are:
            running.accessFlags = running.accessFlagsPtr.readU32();
        }
        reverted.push(replacement);
        ids.add(mangler.methodId.toString());
        mangler.revert(Java.vm);
    }
    return ids;
}

function onHotSpot(): boolean {
    return (Java as any).api?.flavor === "jvm";
}


/** Hooked methods revertAll() asked the bridge to put back that it has not yet: their id
 *  still names the replacement (jvm.js installJvmMethod writes it at each swap). */
export function revertsPending(): number {
    return reverted.filter((r) => {
        const mangler = r._m;
        return mangler.originalMethod !== null && !mangler.methodId.readPointer().equals(mangler.method);
    }).length;
}

/** How the JVM enters a hooked overload: the bridge's entry, or an entry of ours (HotSpot):
 *  JS with raw JNI values, or C (centries.ts). */
export type EntryKind = "bridge" | "raw JNI" | "C";

/** Replace one Java method (overload) with the hook: used by install() and by tables that
 *  discover classes at run time (WebViewClient subclasses). Says how the JVM enters the hook
 *  (or, for a `passInTls` hook, its pass-through calls). */
export function wrap(h: JavaHook, m: any): EntryKind {
    if (closed) {
        throw new Error("not installed: the agent is being disposed");
    }
    // Profile names, made once: the hot path does not build strings it only needs profiling.
    const parts = {
        total: `${h.name} total`, original: `${h.name} original`, before: `${h.name} before`,
        after: `${h.name} after`,
    };
    const direct = originalCaller(m);
    const original: (self: any, args: any[]) => any = direct ?? ((self, args) => m.apply(self, args));
    // Entered by the bridge: wrappers; a Java exception of the original is a JS error.
    if (onHotSpot()) {
        // before the bridge schedules the swap; its mangler (made by the assignment below)
        // has its original once the swap's VM operation ran (jvm.js)
        swapAsked(() => {
            const mangler = m._r?._m;
            return mangler === undefined || mangler.originalMethod !== null;
        });
    }
    m.implementation = function (this: any, ...args: any[]): any {
        return counted(() => dispatch(this, args, (a) => ({ value: original(this, a), threw: false })));
    };
    wrapped.push(m);
    // Entered by an entry of ours (HotSpot): raw values; a Java exception stays pending.
    if (h.raw === true) {
        if (h.entryInC !== undefined && customEntry(m, h.entryInC)) {
            return "C";
        }
        return rawEntry(m, (self, args, raw) => dispatch(self, args, raw)) ? "raw JNI" : "bridge";
    }
    if (h.passInTls === true) {
        return passEntry(m, isBusy) ?? "bridge";
    }
    return "bridge";

    /** One hooked call, however it was entered. */
    function dispatch(self: any, args: any[], invoke: (args: any[]) => RawOriginal): any {
        if (!profiling) {
            return dispatchCall(self, args, invoke);
        }
        const start = now();
        try {
            return dispatchCall(self, args, (a) => timed(parts.original, () => invoke(a)));
        } finally {
            took(parts.total, start);
        }
    }

    function dispatchCall(self: any, args: any[], invoke: (args: any[]) => RawOriginal): any {
        if (isBusy() || (h.passInTls === true && inside())) {
            return invoke(args).value;
        }
        const key = `${Process.getCurrentThreadId()}:${h.name}`;
        if (active.has(key)) {
            return invoke(args).value;
        }
        active.add(key);
        if (h.tls === true) {
            enter();
        }
        try {
            const call: HookCall = { self, args, hook: h, state: {} };
            if (h.before !== undefined) {
                timed(parts.before, () => guarded(h.name, () => h.before!(call)));
            }
            let callArgs = args;
            if (h.rewrite !== undefined) {
                callArgs = guarded(h.name, () => h.rewrite!(call)) ?? args;
            }
            let r: RawOriginal;
            try {
                r = invoke(callArgs);
            } finally {
                if (h.always !== undefined) {
                    guarded(h.name, () => h.always!(call));
                }
                if (h.tls === true) {
                    leave();
                }
            }
            if (!r.threw && h.after !== undefined) {
                timed(parts.after, () => guarded(h.name, () => h.after!(call, r.value)));
            }
            return r.value;
        } finally {
            active.delete(key);
        }
    }
}

/** The JS callback of a hook's C entry (entryInC): marked busy and guarded like a hook
 *  body, and timed as "<name> callback" when profiling. */
export function hookCallback<A extends any[]>(name: string, fn: (...args: A) => void): (...args: A) => void {
    const part = `${name} callback`;
    return (...args: A) => timed(part, () => guarded(name, () => fn(...args)));
}

/** fn(), its time added to `name` when profiling (profile.ts). */
export function timed<T>(name: string, fn: () => T): T {
    if (!profiling) {
        return fn();
    }
    const start = now();
    try {
        return fn();
    } finally {
        took(name, start);
    }
}

/** On HotSpot a class found through another loader's factory is only loaded, not linked
 *  (ClassLoader.loadClass); frida-java-bridge reads its methods as if it were (JNI FindClass
 *  initializes, and on ART the bridge does) and HotSpot aborts in free(). Initialize it the
 *  way FindClass would: Class.forName(name, true, loader). Throws ClassNotFoundException when
 *  the loader does not know the class, which the caller reads as "not present". */
function initializeThroughLoader(cls: string, factory: Java.ClassFactory): void {
    const loader = (factory as any).loader;
    if (loader === null || loader === undefined || !onHotSpot()) {
        return;
    }
    Java.use("java.lang.Class").forName(cls, true, loader);
}

/** Try one entry with one class factory; returns false when its class is not there. */
function tryInstall(e: Entry, factory: Java.ClassFactory, late: boolean): boolean {
    const h = e.hook;
    let C: any;
    try {
        initializeThroughLoader(h.cls, factory);
        C = factory.use(h.cls);
    } catch (err) {
        if (isClassMissing(err)) {
            return false;
        }
        e.pending = false;
        reportHook(h.group, h.name, HookStatus.FAILED, target(h), `use(${h.cls}): ${err}`);
        return true;
    }
    e.pending = false;
    try {
        if (h.prepare !== undefined) {
            h.prepare(factory);
        }
        const dispatcher = C[h.method];
        if (dispatcher === undefined) {
            // Another version of the library: report it, it is not a failure of the agent.
            reportHook(h.group, h.name, HookStatus.SKIPPED, target(h),
                `method not present: ${h.cls}.${h.method}`);
            return true;
        }
        const methods: any[] = h.args !== undefined ? [dispatcher.overload(...h.args)] : dispatcher.overloads;
        const kinds = methods.map((m) => wrap(h, m));
        const notes = [late ? "class appeared later" : null];
        for (const kind of ["C", "raw JNI"]) {
            const n = kinds.filter((k) => k === kind).length;
            if (n > 0) {
                notes.push(`${h.raw === true ? "entered" : "pass-through calls enter"} through `
                    + `${kind === "C" ? "a C entry" : "raw JNI"} (${n} of ${methods.length} overloads)`);
            }
        }
        const said = notes.filter((n) => n !== null);
        const index = reportHook(h.group, h.name, HookStatus.INSTALLED, target(h), said.length > 0 ? said.join("; ") : null);
        h.installed?.(index);
    } catch (err) {
        reportHook(h.group, h.name, HookStatus.FAILED, target(h), String(err));
    }
    return true;
}

/** Install a table with the default class factory; absent classes are reported skipped. */
export function install(table: JavaHook[], exclude: string[]): void {
    for (const h of table) {
        if (exclude.includes(h.name) || exclude.includes(h.group)) {
            reportHook(h.group, h.name, HookStatus.SKIPPED, target(h), "excluded by configuration");
            continue;
        }
        const e: Entry = { hook: h, pending: true };
        entries.push(e);
        if (!tryInstall(e, Java.classFactory, false)) {
            reportHook(h.group, h.name, HookStatus.SKIPPED, target(h), `class not present: ${h.cls}`);
        }
    }
}

export function pendingCount(): number {
    return entries.filter((e) => e.pending).length;
}

/** Retry every pending entry with another class loader's factory. */
export function retryWith(factory: Java.ClassFactory): void {
    for (const e of entries) {
        if (e.pending) {
            tryInstall(e, factory, true);
        }
    }
}
