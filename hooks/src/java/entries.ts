// Entering hooked methods and calling their originals without frida-java-bridge's
// wrappers, on HotSpot (docs/java.md, "Entering hooks without the bridge"). The bridge's
// entry wraps `this` and every argument and its call of the original converts them back
// (50-170 µs a hooked call on the test machine); these call the original through JNI with
// the method id the bridge itself uses, and can put an entry of ours where the JVM enters
// the method. Everything here relies on internals of the pinned frida-java-bridge 7.0.13
// (`_r`, `_m.impl`, `resolveTarget`), checks the state it expects, and falls back to the
// bridge's path otherwise (always on ART).

import Java from "frida-java-bridge";

import { ArgKind, CEntrySpec, cPassEntry } from "./centries.js";
import { reportError } from "./errors.js";
import { counted } from "./inflight.js";
import { handle, jvalues, tableOf, withEnv } from "./jni.js";
import { inside, nativeScope } from "./scope.js";

/** Calls the original of a method the bridge replaced, with the bridge's own arguments
 *  (wrappers and JS primitives) and returning what the bridge expects back. */
export type OriginalCall = (self: any, args: any[]) => any;

const INSTANCE_METHOD = 3;
/** JNI argument types whose values reach a hook as numbers, booleans or references (a Java
 *  char reaches a bridge hook as a one-letter JS string: not here). */
const ARG_KINDS = new Set(["pointer", "int32", "int16", "int8", "uint8"]);

interface RawSignature {
    ret: "void" | "int32" | "uint8" | "pointer";
    kinds: string[];
}

/** HotSpot instance methods with int, boolean or void results (and object results where
 *  `objects`: a raw entry hands the JNI reference back as it is) and object, int-like or
 *  boolean arguments: the ones whose original this module can call; null for the others. */
function rawSignature(m: any, objects = false): RawSignature | null {
    const api = (Java as any).api;
    if (api?.flavor !== "jvm" || m.type !== INSTANCE_METHOD) {
        return null;
    }
    const ret: string = m.returnType.type;
    if (ret !== "void" && ret !== "int32" && ret !== "uint8" && !(objects && ret === "pointer")) {
        return null;
    }
    const kinds: string[] = m.argumentTypes.map((t: any) => String(t.type));
    if (!kinds.every((k) => ARG_KINDS.has(k)) || kinds.length > 8) {
        return null;
    }
    return { ret, kinds };
}

/** The method id the bridge calls m's original by (its mangler's resolveTarget: the saved
 *  original Method*, made final so a virtual call reaches it), or null before the bridge
 *  has patched m. */
function originalTarget(m: any): () => NativePointer | null {
    let id: NativePointer | null = null;
    return () => {
        if (id !== null) {
            return id;
        }
        const mangler = m._r?._m;
        if (mangler === undefined || typeof mangler.resolveTarget !== "function"
            || mangler.originalMethod === null || mangler.originalMethod === undefined) {
            return null;
        }
        id = mangler.resolveTarget(null, true, Java.vm.getEnv(), (Java as any).api) as NativePointer;
        return id;
    };
}

function callRaw(sig: RawSignature, env: NativePointer, self: NativePointer, target: NativePointer,
    argv: NativePointer): number | NativePointer | undefined {
    const t = tableOf(env);
    if (sig.ret === "void") {
        t.callVoid(env, self, target, argv);
        return undefined;
    }
    if (sig.ret === "pointer") {
        return t.callObject(env, self, target, argv);
    }
    return sig.ret === "int32" ? t.callInt(env, self, target, argv) : t.callBoolean(env, self, target, argv);
}

/** For the hooks below: the original through JNI, ~15 µs instead of the bridge's ~100 µs of
 *  argument and result conversion (bench/java_bridge_cost.py). null where rawSignature()
 *  does not hold (ART, other signatures): the caller keeps the bridge's m.apply. A call
 *  whose argument has no JNI handle (a java.lang.String the bridge turned into a JS string)
 *  goes through m.apply too. A Java exception the original throws is handed back to the
 *  bridge as the bridge does it (an error carrying the throwable's reference), so it reaches
 *  the app unchanged. Relies on frida-java-bridge internals (pinned, 7.0.13). */
export function originalCaller(m: any): OriginalCall | null {
    const sig = rawSignature(m);
    if (sig === null) {
        return null;
    }
    const target = originalTarget(m);
    return (self: any, args: any[]): any => {
        const raw: any[] = [];
        for (let i = 0; i < sig.kinds.length; i++) {
            const v = args[i];
            if (sig.kinds[i] !== "pointer") {
                raw.push(v);
            } else if (v === null || v === undefined) {
                raw.push(NULL);
            } else {
                const h = v.$h ?? v.$handle;
                if (!(h instanceof NativePointer)) {
                    return m.apply(self, args);
                }
                raw.push(h);
            }
        }
        const id = target();
        if (id === null) {
            return m.apply(self, args);
        }
        const env: NativePointer = Java.vm.getEnv().handle;
        const r = callRaw(sig, env, handle(self), id, jvalues(raw));
        const t = tableOf(env);
        if (t.exceptionCheck(env) !== 0) {
            const exc = t.exceptionOccurred(env);
            t.exceptionClear(env);
            // The bridge rethrows an error carrying $h into Java (env.throw), as it does for
            // the exceptions of its own m.apply.
            const err: any = new Error("Java exception in the original method");
            err.$h = exc;
            throw err;
        }
        return sig.ret === "uint8" ? r !== 0 : r;
    };
}

/** Native entries of ours and the memory C entries read, kept alive while the methods they
 *  replace may run (Memory.alloc'd memory is freed once JS holds no handle to it; a
 *  CModule's symbols are not such a handle). */
const kept: unknown[] = [];

type EntryImpl = (env: NativePointer, self: NativePointer, ...args: any[]) => any;

/** Makes the entry the JVM will enter: from the signature, the bridge's own entry (its
 *  address, and a JS function forwarding to it) and the original's method id. */
type MakeEntry = (sig: RawSignature, bridgeEntry: NativePointer, forward: EntryImpl,
    target: () => NativePointer | null) => NativePointer;

/** Puts an entry of ours where the JVM will enter m once the bridge patches it (the bridge
 *  reads its mangler's `impl` on Script.nextTick, after `m.implementation` was set). false
 *  where rawSignature() does not hold or the bridge's state is not the one this was written
 *  for: m then keeps the bridge's entry. */
function ownEntry(m: any, objects: boolean, make: MakeEntry): boolean {
    const sig = rawSignature(m, objects);
    const replacement = m._r;
    const mangler = replacement?._m;
    if (sig === null || !(replacement instanceof NativePointer) || mangler === undefined
        || mangler.originalMethod !== null || !replacement.equals(mangler.impl)) {
        return false;
    }
    const types: any[] = ["pointer", "pointer", ...sig.kinds];
    const bridge = new NativeFunction(replacement, sig.ret, types, { exceptions: "propagate" });
    const forward: EntryImpl = (env, self, ...args) => (bridge as any)(env, self, ...args);
    mangler.impl = make(sig, replacement, forward, originalTarget(m));
    return true;
}

function jsEntry(sig: RawSignature, impl: EntryImpl): NativePointer {
    const entry = new NativeCallback(((env: NativePointer, self: NativePointer, ...args: any[]) =>
        counted(() => impl(env, self, ...args))) as any, sig.ret, ["pointer", "pointer", ...sig.kinds] as any[]);
    kept.push(entry);
    return entry;
}

/** The memory a C entry reads the original's method id from: NULL (the C entry forwards to
 *  the bridge's entry) until the bridge has saved the original, on the tick after the
 *  hook was set; then the id, for good. */
function targetSlot(target: () => NativePointer | null): NativePointer {
    const slot = Memory.alloc(Process.pointerSize);
    kept.push(slot);
    let tries = 0;
    const fill = (): void => {
        const id = target();
        if (id !== null) {
            slot.writePointer(id);
        } else if (++tries < 100) {
            setTimeout(fill, 10);
        }
    };
    Script.nextTick(fill);
    return slot;
}

/** A C entry (centries.ts) where the C scope is there and the module builds; otherwise
 *  null, and the caller makes a JS entry. */
function cEntry(sig: RawSignature, bridgeEntry: NativePointer, target: () => NativePointer | null,
    build: (spec: CEntrySpec) => NativePointer): NativePointer | null {
    const scope = nativeScope();
    if (scope === null) {
        return null;
    }
    try {
        return build({ kinds: sig.kinds as ArgKind[], ret: sig.ret, forward: bridgeEntry,
            target: targetSlot(target), scope });
    } catch (e) {
        reportError("java.entries.c", e);
        return null;
    }
}

/** For a hook whose calls mostly pass straight through (JSSE's own Cipher calls): the JVM
 *  enters an entry of ours instead of the bridge's; while the thread is inside the TLS scope
 *  (or, for the JS entry, `busy()` holds) it calls the original through JNI with the raw
 *  arguments (no wrappers for `this` and the arguments, no type checks: ~60-90 µs of the
 *  bridge's entry saved per call; the C entry does not enter JS at all) and leaves a Java
 *  exception of the original pending, so it reaches the caller as JNI does; otherwise it
 *  forwards the call, unchanged, to the bridge's own entry (and so to the hook). Says which
 *  entry it made (null: none, m keeps the bridge's). */
export function passEntry(m: any, busy: () => boolean): "C" | "raw JNI" | null {
    let kind: "C" | "raw JNI" = "C";
    const ok = ownEntry(m, false, (sig, bridgeEntry, forward, target) => {
        const c = cEntry(sig, bridgeEntry, target, cPassEntry);
        if (c !== null) {
            return c;
        }
        kind = "raw JNI";
        return jsEntry(sig, (env, self, ...args) => {
            let id: NativePointer | null = null;
            try {
                id = busy() || inside() ? target() : null;
            } catch {
                id = null; // anything unexpected: the bridge's entry, as if this were not here
            }
            if (id === null) {
                return forward(env, self, ...args);
            }
            return callRaw(sig, env, self, id, jvalues(args));
        });
    });
    return ok ? kind : null;
}

/** An entry written in C for one hook (centries.ts cMovedEntry, okhttp_c.ts), made by
 *  `build` from the entry's spec; false where none can be made (the caller then uses
 *  rawEntry). */
export function customEntry(m: any, build: (spec: CEntrySpec) => NativePointer): boolean {
    let made = false;
    const ok = ownEntry(m, true, (sig, bridgeEntry, _forward, target) => {
        const c = cEntry(sig, bridgeEntry, target, build);
        made = c !== null;
        return c ?? bridgeEntry;
    });
    return ok && made;
}

/** What a raw entry's handler gets to run the original: its result, or threw = true with
 *  the Java exception left pending (the handler must then make no JNI call and return). */
export interface RawOriginal {
    /** An int, a boolean as 0/1, a local reference for an object result, or undefined. */
    value: number | NativePointer | undefined;
    threw: boolean;
}

/** `original(values)` calls the original with these raw values (the call's own, or a
 *  hook's rewrite of them). */
export type RawHandler = (self: NativePointer, args: any[],
    original: (values: any[]) => RawOriginal) => any;

/** The JVM enters `handler` directly, with raw JNI values (`self` and object arguments as
 *  local references valid for the call, ints as numbers), instead of the bridge's entry and
 *  its wrappers (60-90 µs a call). An object result goes back as the JNI reference. */
export function rawEntry(m: any, handler: RawHandler): boolean {
    return ownEntry(m, true, (sig, _bridgeEntry, forward, target) => jsEntry(sig, (env, self, ...args) => {
        const id = target();
        if (id === null) {
            return forward(env, self, ...args);
        }
        const original = (values: any[]): RawOriginal => {
            const value = callRaw(sig, env, self, id, jvalues(values));
            return { value, threw: tableOf(env).exceptionCheck(env) !== 0 };
        };
        const r = withEnv(env, () => handler(self, args, original));
        if (sig.ret === "void") {
            return undefined;
        }
        return r ?? (sig.ret === "pointer" ? NULL : 0);
    }));
}
