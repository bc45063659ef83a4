// Java calls from hook bodies through raw JNI, for the hot paths (every request, every TLS
// record). A call through frida-java-bridge's wrappers (overload dispatch, argument and
// result conversion, a local frame) costs 35-90 µs on the 2-core test machine; the same call
// through JNI with a method id resolved once costs ~2 µs (bench/java_bridge_cost.py). Method
// ids are resolved on the DECLARING type (an interface's id dispatches through the itable;
// an id taken from one concrete class would dispatch through that class's vtable slot on
// any receiver), with the class factory that found the hooked class, once, outside app
// calls (a table entry's prepare()).
//
// Every call is checked for a pending Java exception: it is cleared (the app never sees a
// failure of ours) and rethrown as a JS error naming the method, which the hook's guard
// reports. Hook bodies run inside the bridge's local frame, which the bridge pops when the
// hooked call returns; `frame()` pops ours earlier where a body makes many references.

import Java from "frida-java-bridge";

import { keepingLock, swapping } from "./swaps.js";

type Ptr = NativePointer;

const P = Process.pointerSize;
const NONE = { exceptions: "propagate" } as const;
/** A JNI function of the table: a NativeFunction, or one made by swaps.ts keepingLock()
 *  (for JNI functions that never run Java code: they keep the JS lock, so a scratch buffer
 *  read right after the call cannot have been reused by another thread's hook meanwhile,
 *  except while a method swap is pending). */
type Fn<R, A extends unknown[]> = (...args: A) => R;

/** JNINativeInterface slots (jni.h): for the JS calls here, and as C macros (JNI_C) for the
 *  agent's C sources (centries.ts, okhttp_c.ts, okhttp_read_c.ts). */
export const JNI = {
    THROW: 13,
    EXCEPTION_OCCURRED: 15,
    EXCEPTION_CLEAR: 17,
    PUSH_LOCAL_FRAME: 19,
    POP_LOCAL_FRAME: 20,
    NEW_GLOBAL_REF: 21,
    DELETE_GLOBAL_REF: 22,
    DELETE_LOCAL_REF: 23,
    IS_SAME_OBJECT: 24,
    NEW_OBJECT_A: 30,
    GET_METHOD_ID: 33,
    CALL_OBJECT_A: 36,
    CALL_BOOLEAN_A: 39,
    CALL_INT_A: 51,
    CALL_VOID_A: 63,
    GET_STATIC_METHOD_ID: 113,
    CALL_STATIC_INT_A: 131,
    GET_STRING_LENGTH: 164,
    GET_ARRAY_LENGTH: 171,
    GET_BYTE_ARRAY_REGION: 200,
    GET_STRING_REGION: 220,
    EXCEPTION_CHECK: 228,
} as const;

/** JNI's slots as `#define JNI_<NAME> <slot>` lines, for a CModule's source. */
export const JNI_C = Object.entries(JNI).map(([k, v]) => `#define JNI_${k} ${v}`).join("\n");

interface Table {
    vtable: Ptr;
    pushFrame: Fn<number, [Ptr, number]>;
    popFrame: Fn<Ptr, [Ptr, Ptr]>;
    newGlobal: Fn<Ptr, [Ptr, Ptr]>;
    deleteGlobal: Fn<void, [Ptr, Ptr]>;
    deleteLocal: Fn<void, [Ptr, Ptr]>;
    same: Fn<number, [Ptr, Ptr, Ptr]>;
    newObject: Fn<Ptr, [Ptr, Ptr, Ptr, Ptr]>;
    methodId: Fn<Ptr, [Ptr, Ptr, Ptr, Ptr]>;
    staticMethodId: Fn<Ptr, [Ptr, Ptr, Ptr, Ptr]>;
    callObject: Fn<Ptr, [Ptr, Ptr, Ptr, Ptr]>;
    callBoolean: Fn<number, [Ptr, Ptr, Ptr, Ptr]>;
    callInt: Fn<number, [Ptr, Ptr, Ptr, Ptr]>;
    callVoid: Fn<void, [Ptr, Ptr, Ptr, Ptr]>;
    callStaticInt: Fn<number, [Ptr, Ptr, Ptr, Ptr]>;
    stringLength: Fn<number, [Ptr, Ptr]>;
    stringRegion: Fn<void, [Ptr, Ptr, number, number, Ptr]>;
    arrayLength: Fn<number, [Ptr, Ptr]>;
    byteRegion: Fn<void, [Ptr, Ptr, number, number, Ptr]>;
    exceptionCheck: Fn<number, [Ptr]>;
    exceptionOccurred: Fn<Ptr, [Ptr]>;
    exceptionClear: Fn<void, [Ptr]>;
}

let table: Table | null = null;

function slot(vtable: Ptr, i: number): Ptr {
    return vtable.add(i * P).readPointer();
}

/** The JNI function table of this env (ART swaps it when CheckJNI is turned on). */
export function tableOf(env: Ptr): Table {
    const vtable = env.readPointer();
    if (table !== null && table.vtable.equals(vtable)) {
        return table;
    }
    const call = (i: number, ret: "pointer" | "uint8" | "int" | "void"): any =>
        new NativeFunction(slot(vtable, i), ret, ["pointer", "pointer", "pointer", "pointer"], NONE);
    table = {
        vtable,
        pushFrame: keepingLock(slot(vtable, JNI.PUSH_LOCAL_FRAME), "int", ["pointer", "int"]),
        popFrame: keepingLock(slot(vtable, JNI.POP_LOCAL_FRAME), "pointer", ["pointer", "pointer"]),
        newGlobal: keepingLock(slot(vtable, JNI.NEW_GLOBAL_REF), "pointer", ["pointer", "pointer"]),
        deleteGlobal: keepingLock(slot(vtable, JNI.DELETE_GLOBAL_REF), "void", ["pointer", "pointer"]),
        deleteLocal: keepingLock(slot(vtable, JNI.DELETE_LOCAL_REF), "void", ["pointer", "pointer"]),
        same: keepingLock(slot(vtable, JNI.IS_SAME_OBJECT), "uint8", ["pointer", "pointer", "pointer"]),
        newObject: call(JNI.NEW_OBJECT_A, "pointer"),
        methodId: keepingLock(slot(vtable, JNI.GET_METHOD_ID), "pointer",
            ["pointer", "pointer", "pointer", "pointer"]),
        staticMethodId: keepingLock(slot(vtable, JNI.GET_STATIC_METHOD_ID), "pointer",
            ["pointer", "pointer", "pointer", "pointer"]),
        callObject: call(JNI.CALL_OBJECT_A, "pointer"),
        callBoolean: call(JNI.CALL_BOOLEAN_A, "uint8"),
        callInt: call(JNI.CALL_INT_A, "int"),
        callVoid: call(JNI.CALL_VOID_A, "void"),
        callStaticInt: call(JNI.CALL_STATIC_INT_A, "int"),
        stringLength: keepingLock(slot(vtable, JNI.GET_STRING_LENGTH), "int", ["pointer", "pointer"]),
        stringRegion: keepingLock(slot(vtable, JNI.GET_STRING_REGION), "void",
            ["pointer", "pointer", "int", "int", "pointer"]),
        arrayLength: keepingLock(slot(vtable, JNI.GET_ARRAY_LENGTH), "int", ["pointer", "pointer"]),
        byteRegion: keepingLock(slot(vtable, JNI.GET_BYTE_ARRAY_REGION), "void",
            ["pointer", "pointer", "int", "int", "pointer"]),
        exceptionCheck: keepingLock(slot(vtable, JNI.EXCEPTION_CHECK), "uint8", ["pointer"]),
        exceptionOccurred: keepingLock(slot(vtable, JNI.EXCEPTION_OCCURRED), "pointer", ["pointer"]),
        exceptionClear: keepingLock(slot(vtable, JNI.EXCEPTION_CLEAR), "void", ["pointer"]),
    };
    return table;
}

/** The JNIEnv* of threads inside an entry of ours (entries.ts, centries.ts), which the JVM
 *  passed to it: the bridge only knows the env of threads inside its own entries, and asking
 *  the VM (Java.vm.getEnv()) costs ~15 µs a time from JS. */
const hookEnvs = new Map<number, Ptr>();

/** Run fn with `env` as this thread's JNIEnv* (it is, for the duration of a native entry). */
export function withEnv<T>(env: Ptr, fn: () => T): T {
    const tid = Process.getCurrentThreadId();
    const prev = hookEnvs.get(tid);
    hookEnvs.set(tid, env);
    try {
        return fn();
    } finally {
        if (prev === undefined) {
            hookEnvs.delete(tid);
        } else {
            hookEnvs.set(tid, prev);
        }
    }
}

/** The calling thread's JNIEnv*. */
export function currentEnv(): Ptr {
    const known = hookEnvs.size !== 0 ? hookEnvs.get(Process.getCurrentThreadId()) : undefined;
    return known ?? Java.vm.getEnv().handle;
}

/** The calling thread's JNIEnv* and its function table. */
function current(): [Ptr, Table] {
    const env = currentEnv();
    return [env, tableOf(env)];
}

/** A Java object reference: a raw handle or a bridge wrapper. */
export type Ref = Ptr | { $h: Ptr } | null;

export function handle(o: Ref): Ptr {
    if (o === null || o === undefined) {
        return NULL;
    }
    return o instanceof NativePointer ? o : o.$h;
}

type Kind = "object" | "boolean" | "int" | "void";

/** One Java method, resolved once on its declaring type. */
export class JMethod {
    private id: Ptr | null = null;
    /** The declaring class's wrapper, holding a global reference: the target of a static
     *  call and the class a constructor makes. */
    private klass: any = null;
    readonly kind: Kind;

    /** sig in JNI form, e.g. "(I)Ljava/lang/String;". */
    constructor(readonly cls: string, readonly name: string, readonly sig: string,
        readonly isStatic = false) {
        const ret = sig.slice(sig.indexOf(")") + 1);
        this.kind = ret === "V" ? "void" : ret === "Z" ? "boolean" : ret === "I" ? "int" : "object";
        if (isStatic && this.kind !== "int") {
            throw new Error(`static ${cls}.${name}: only int results are supported`);
        }
        if (countArgs(sig) > 4) {
            throw new Error(`${cls}.${name}: at most 4 arguments`);
        }
    }

    get resolved(): boolean {
        return this.id !== null;
    }

    /** The JNI method id (null before resolve()), for C code that calls the method. */
    get methodId(): Ptr | null {
        return this.id;
    }

    /** The declaring class's global reference (null before resolve()). */
    get classRef(): Ptr | null {
        return this.klass === null ? null : this.klass.$h as Ptr;
    }

    /** Resolve with the class factory that sees the declaring class (bridge calls: do it
     *  outside app calls). Throws when the method is not there (another library version). */
    resolve(factory: Java.ClassFactory = Java.classFactory): this {
        if (this.id !== null) {
            return this;
        }
        const [env, t] = current();
        const wrapper = Java.retain(factory.use(this.cls).class);
        const klass = wrapper.$h as Ptr;
        const lookup = this.isStatic ? t.staticMethodId : t.methodId;
        const id = lookup(env, klass, Memory.allocUtf8String(this.name), Memory.allocUtf8String(this.sig));
        if (id.isNull() || t.exceptionCheck(env) !== 0) {
            t.exceptionClear(env);
            throw new Error(`no method ${this.cls}.${this.name}${this.sig}`);
        }
        this.id = id;
        this.klass = wrapper;
        return this;
    }

    /** Resolve if the method exists; false otherwise (an optional method of newer versions). */
    tryResolve(factory: Java.ClassFactory = Java.classFactory): boolean {
        try {
            this.resolve(factory);
            return true;
        } catch {
            return false;
        }
    }

    /** Call on `self` (ignored for a static method); the result as JNI gives it: a local
     *  reference (NULL for null), an int, a boolean as 0/1, or undefined. */
    call(self: Ref, ...values: (Ref | number | boolean)[]): any {
        if (this.id === null) {
            throw new Error(`${this.cls}.${this.name} used before resolve()`);
        }
        const [env, t] = current();
        const argv = jvalues(values);
        const target = this.isStatic ? (this.klass.$h as Ptr) : handle(self);
        if (!this.isStatic && target.isNull()) {
            throw new Error(`${this.cls}.${this.name} on null`);
        }
        let r: any;
        if (this.isStatic) {
            r = t.callStaticInt(env, target, this.id, argv);
        } else if (this.kind === "object") {
            r = t.callObject(env, target, this.id, argv);
        } else if (this.kind === "int") {
            r = t.callInt(env, target, this.id, argv);
        } else if (this.kind === "boolean") {
            r = t.callBoolean(env, target, this.id, argv);
        } else {
            t.callVoid(env, target, this.id, argv);
        }
        throwPending(env, t, `${this.cls}.${this.name}`);
        return r;
    }

    /** new cls(...) with this constructor ("<init>"); a local reference. */
    construct(...values: (Ref | number | boolean)[]): Ptr {
        if (this.id === null) {
            throw new Error(`${this.cls}.<init> used before resolve()`);
        }
        const [env, t] = current();
        const r = t.newObject(env, this.klass.$h as Ptr, this.id, jvalues(values));
        throwPending(env, t, `new ${this.cls}`);
        return r;
    }
}

/** A jvalue array for a call: references (raw or wrapped) as pointers, numbers as 64-bit
 *  ints (JNI reads the low bytes of an int), booleans as 0/1. One per call: a call
 *  releases the JS lock, so another thread's hook may call the same method meanwhile. */
export function jvalues(values: (Ref | number | boolean)[]): Ptr {
    if (values.length === 0) {
        return NULL;
    }
    const argv = Memory.alloc(8 * values.length);
    for (let i = 0; i < values.length; i++) {
        const v = values[i];
        const at = argv.add(8 * i);
        if (typeof v === "number") {
            at.writeS64(v);
        } else if (typeof v === "boolean") {
            at.writeU64(v ? 1 : 0);
        } else {
            at.writePointer(handle(v));
        }
    }
    return argv;
}

function countArgs(sig: string): number {
    let n = 0;
    let i = 1;
    while (i < sig.length && sig[i] !== ")") {
        while (sig[i] === "[") {
            i++;
        }
        if (sig[i] === "L") {
            i = sig.indexOf(";", i);
        }
        i++;
        n++;
    }
    return n;
}

const toStringOf = new JMethod("java.lang.Object", "toString", "()Ljava/lang/String;");

function throwPending(env: Ptr, t: Table, where: string): void {
    if (t.exceptionCheck(env) === 0) {
        return;
    }
    const exc = t.exceptionOccurred(env);
    t.exceptionClear(env);
    let what = "a Java exception";
    try {
        what = javaString(toStringOf.resolve().call(exc)) ?? what;
    } catch {
        // The exception's own toString() failed: keep the generic text.
    }
    t.deleteLocal(env, exc);
    throw new Error(`${where} threw ${what}`);
}

let scratch: Ptr = Memory.alloc(4096);
let scratchSize = 4096;

function scratchOf(n: number): Ptr {
    if (swapping()) {
        return Memory.alloc(n); // the calls let go of the lock: another hook may read meanwhile
    }
    if (n > scratchSize) {
        scratchSize = Math.max(n, scratchSize * 2);
        scratch = Memory.alloc(scratchSize);
    }
    return scratch;
}

/** A java.lang.String reference as a JS string (UTF-16, exact), or null. */
export function javaString(s: Ref): string | null {
    const h = handle(s);
    if (h.isNull()) {
        return null;
    }
    const [env, t] = current();
    const n = t.stringLength(env, h);
    if (n === 0) {
        return "";
    }
    const buf = scratchOf(2 * n);
    t.stringRegion(env, h, 0, n, buf);
    return buf.readUtf16String(n);
}

/** String.valueOf(o): "null" for null, like Java. */
export function toJavaString(o: Ref): string {
    const h = handle(o);
    if (h.isNull()) {
        return "null";
    }
    return javaString(toStringOf.resolve().call(h)) ?? "null";
}

/** Bytes arr[off, off+len) of a Java byte[] (len < 0: to the end), or null for null. */
export function byteArray(arr: Ref, off = 0, len = -1): ArrayBuffer | null {
    const h = handle(arr);
    if (h.isNull()) {
        return null;
    }
    const [env, t] = current();
    const total = t.arrayLength(env, h);
    const n = len < 0 ? total - off : Math.min(len, total - off);
    if (n <= 0 || off < 0) {
        return new ArrayBuffer(0);
    }
    const buf = scratchOf(n);
    t.byteRegion(env, h, off, n, buf);
    return buf.readByteArray(n);
}

export function sameObject(a: Ref, b: Ref): boolean {
    const [env, t] = current();
    return t.same(env, handle(a), handle(b)) !== 0;
}

/** A global reference to o, valid on every thread until deleteGlobal(). */
export function newGlobal(o: Ref): Ptr {
    const [env, t] = current();
    return t.newGlobal(env, handle(o));
}

export function deleteGlobal(g: Ptr): void {
    const [env, t] = current();
    t.deleteGlobal(env, g);
}

/** Run fn inside its own JNI local frame: every local reference it makes is freed after. */
export function frame<T>(capacity: number, fn: () => T): T {
    const [env, t] = current();
    if (t.pushFrame(env, capacity) !== 0) {
        t.exceptionClear(env);
        throw new Error(`PushLocalFrame(${capacity}) failed`);
    }
    try {
        return fn();
    } finally {
        t.popFrame(env, NULL);
    }
}

const identityHash = new JMethod("java.lang.System", "identityHashCode", "(Ljava/lang/Object;)I", true);

/** System.identityHashCode(o) without the bridge's dispatch. */
export function identityHashCode(o: Ref): number {
    return identityHash.resolve().call(null, handle(o)) as number;
}
