// Declarative Java hook tables and the one installer that runs them. Each stack or SDK file
// exports a table of JavaHook entries; install() turns each into an installed, skipped
// (class not present, with the class name) or failed (with the reason) coverage report, so
// nothing is skipped silently. Entries whose class is absent stay pending and are retried
// against class loaders that appear later (see loaders.ts).

import Java from "frida-java-bridge";

import { emit } from "../emit.js";
import { HookStatus, RecordKind } from "../protocol.js";
import { reportHook } from "../registry.js";
import { originalCaller, passEntry, RawOriginal, rawEntry } from "./entries.js";

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
    /** Checked first on every call: true sends the call straight to the original, with no
     *  bookkeeping (JSSE's own Cipher calls). Must be cheap and never throw. */
    pass?: () => boolean;
    /** Runs once before the hook is installed, with the class factory that found cls. */
    prepare?: (factory: Java.ClassFactory) => void;
}

interface Entry {
    hook: JavaHook;
    /** Still waiting for its class to appear. */
    pending: boolean;
}

const entries: Entry[] = [];
/** Threads currently inside hook code: Java calls our hooks make are not recorded. */
const busy = new Set<number>();
let errorsReported = 0;
const MAX_ERRORS = 200;

function target(h: JavaHook): string {
    return `${h.cls}.${h.method}(${h.args !== undefined ? h.args.join(", ") : "*"})`;
}

export function reportError(where: string, e: unknown): void {
    if (errorsReported++ >= MAX_ERRORS) {
        return;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    emit(RecordKind.AGENT_ERROR, where, { message: err.message, stack: err.stack ?? null, where });
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

/** Replace one Java method (overload) with the hook: used by install() and by tables that
 *  discover classes at run time (WebViewClient subclasses). True when the JVM enters the
 *  hook (or, for a `pass` hook, its pass-through calls) through an entry of ours instead of
 *  the bridge's (entries.ts rawEntry, passEntry). */
export function wrap(h: JavaHook, m: any): boolean {
    const pass = h.pass;
    const direct = originalCaller(m);
    const original: (self: any, args: any[]) => any = direct ?? ((self, args) => m.apply(self, args));
    // Entered by the bridge: wrappers; a Java exception of the original is a JS error.
    m.implementation = function (this: any, ...args: any[]): any {
        return dispatch(this, args, (a) => ({ value: original(this, a), threw: false }));
    };
    // Entered by an entry of ours (HotSpot): raw values; a Java exception stays pending.
    return h.raw === true
        ? rawEntry(m, (self, args, raw) => dispatch(self, args, raw))
        : pass !== undefined && passEntry(m, () => isBusy() || pass());

    /** One hooked call, however it was entered. */
    function dispatch(self: any, args: any[], invoke: (args: any[]) => RawOriginal): any {
        if (isBusy() || (pass !== undefined && pass())) {
            return invoke(args).value;
        }
        const key = `${Process.getCurrentThreadId()}:${h.name}`;
        if (active.has(key)) {
            return invoke(args).value;
        }
        active.add(key);
        try {
            const call: HookCall = { self, args, hook: h, state: {} };
            if (h.before !== undefined) {
                guarded(h.name, () => h.before!(call));
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
            }
            if (!r.threw && h.after !== undefined) {
                guarded(h.name, () => h.after!(call, r.value));
            }
            return r.value;
        } finally {
            active.delete(key);
        }
    }
}

/** On HotSpot a class found through another loader's factory is only loaded, not linked
 *  (ClassLoader.loadClass); frida-java-bridge reads its methods as if it were (JNI FindClass
 *  initializes, and on ART the bridge does) and HotSpot aborts in free(). Initialize it the
 *  way FindClass would: Class.forName(name, true, loader). Throws ClassNotFoundException when
 *  the loader does not know the class, which the caller reads as "not present". */
function initializeThroughLoader(cls: string, factory: Java.ClassFactory): void {
    const loader = (factory as any).loader;
    if (loader === null || loader === undefined || (Java as any).api?.flavor !== "jvm") {
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
        let raw = 0;
        for (const m of methods) {
            raw += wrap(h, m) ? 1 : 0;
        }
        const notes = [late ? "class appeared later" : null,
            raw > 0 ? (h.raw === true ? `entered through raw JNI (${raw} of ${methods.length} overloads)`
                : `pass-through calls enter through raw JNI (${raw} of ${methods.length} overloads)`) : null]
            .filter((n) => n !== null);
        reportHook(h.group, h.name, HookStatus.INSTALLED, target(h), notes.length > 0 ? notes.join("; ") : null);
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
