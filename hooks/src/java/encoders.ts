// Encoders an app applies to data before it leaves: android.util.Base64, java.util.Base64,
// GZIPOutputStream and Deflater. Each becomes a `transform` record linking the input bytes
// to the output bytes, so the detector can follow a value through the app's own encoding.
// Only the outermost call per thread is recorded (encodeToString calls encode, GZIP calls
// Deflater): one record per logical operation.

import Java from "frida-java-bridge";

import { emit } from "../emit.js";
import { idPid } from "../instance.js";
import { RecordKind } from "../protocol.js";
import { bufferBytes, limit, position, concat, javaBytes, utf8 } from "./bytes.js";
import { attribute } from "./frames.js";
import { identity, ObjectState } from "./objects.js";
import { HookCall, JavaHook } from "./table.js";

const G = "java.encoders";
const MAX_PENDING = 1 << 20;

/** Callers that are the JDK's own machinery (key stores, TLS, HTTP client internals): their
 *  encoding and encryption is not the app's and would only bury the app's transforms. */
const JDK_INTERNAL = ["sun.", "com.sun.", "jdk.", "java.security."];

export function transform(call: HookCall, op: string, algorithm: string, id: string,
    input: ArrayBuffer | null, output: ArrayBuffer | null, extra: object = {}): void {
    const a = attribute(call.hook.library ?? []);
    if (a.caller !== null && JDK_INTERNAL.some((p) => a.caller!.startsWith(p))) {
        return;
    }
    emit(RecordKind.TRANSFORM, call.hook.name,
        { op, algorithm, call: id, frames: a.frames, sender: a.sender, ...extra },
        { slices: { input, output } });
}

/** The id of a transform that follows one Java object over several calls (a Cipher, a
 *  Deflater, a GZIPOutputStream): the object's identity hash tells it apart only within one
 *  JVM image, so the id names the pid and this agent's instance in it as the others do
 *  (instance.ts): another process, or the image after an exec, cannot repeat it. */
export function objectTransformId(kind: string, obj: any): string {
    return `${kind}:${idPid()}:${identity(obj)}`;
}

let base64Calls = 0;

function b64(call: HookCall, input: ArrayBuffer | null, ret: any, flavor: string): void {
    const output = typeof ret === "string" ? utf8(ret)
        : ret instanceof ArrayBuffer ? ret : javaBytes(ret);
    transform(call, "encode", flavor, `base64:${idPid()}:${base64Calls++}`, input, output);
}

/** Per-thread nesting of encoder calls: only depth 0 is recorded. */
const depth = new Map<number, number>();

function outer(h: JavaHook): JavaHook {
    const before = h.before;
    const after = h.after;
    return {
        ...h,
        before(call) {
            const tid = Process.getCurrentThreadId();
            const d = depth.get(tid) ?? 0;
            depth.set(tid, d + 1);
            call.state.outer = d === 0;
            if (d === 0 && before !== undefined) {
                before(call);
            }
        },
        always() {
            const tid = Process.getCurrentThreadId();
            depth.set(tid, (depth.get(tid) ?? 1) - 1);
        },
        after(call, ret) {
            if (call.state.outer === true && after !== undefined) {
                after(call, ret);
            }
        },
    };
}

interface Pending {
    input: ArrayBuffer[];
    output: ArrayBuffer[];
    size: number;
}

const deflaters = new ObjectState<Pending>();
const gzips = new ObjectState<{ input: ArrayBuffer[]; size: number; start: number }>();

function pendingFor(obj: any): Pending {
    let p = deflaters.get(obj);
    if (p === undefined) {
        p = { input: [], output: [], size: 0 };
        deflaters.set(obj, p);
    }
    return p;
}

function flushDeflater(call: HookCall): void {
    const p = deflaters.get(call.self);
    if (p === undefined || (p.input.length === 0 && p.output.length === 0)) {
        return;
    }
    deflaters.delete(call.self);
    transform(call, "compress", "deflate", objectTransformId("deflater", call.self),
        concat(p.input), concat(p.output));
}

const A64 = "android.util.Base64";
const J64 = "java.util.Base64$Encoder";
const J64LIB = ["java.util.Base64$Encoder."];
const GZ = "java.util.zip.GZIPOutputStream";
const DEF = "java.util.zip.Deflater";
const ZLIB = ["java.util.zip."];

const encoderHooks: JavaHook[] = [
    {
        group: G, name: `${G}.android.Base64.encode`, cls: A64, method: "encode",
        args: ["[B", "int", "int", "int"], library: ["android.util.Base64"],
        after(call, ret) {
            const [b, off, len] = call.args;
            b64(call, javaBytes(b, off, len), ret, "base64");
        },
    },
    {
        group: G, name: `${G}.android.Base64.encode`, cls: A64, method: "encode",
        args: ["[B", "int"], library: ["android.util.Base64"],
        after(call, ret) {
            b64(call, javaBytes(call.args[0]), ret, "base64");
        },
    },
    {
        group: G, name: `${G}.android.Base64.encodeToString`, cls: A64, method: "encodeToString",
        library: ["android.util.Base64"],
        after(call, ret) {
            const [b, off, len] = call.args;
            b64(call, call.args.length === 2 ? javaBytes(b) : javaBytes(b, off, len), ret, "base64");
        },
    },
    {
        group: G, name: `${G}.java.Base64.encode`, cls: J64, method: "encode", args: ["[B"], library: J64LIB,
        after(call, ret) {
            b64(call, javaBytes(call.args[0]), ret, "base64");
        },
    },
    {
        group: G, name: `${G}.java.Base64.encode`, cls: J64, method: "encode", args: ["[B", "[B"], library: J64LIB,
        after(call, ret: number) {
            b64(call, javaBytes(call.args[0]), javaBytes(call.args[1], 0, ret), "base64");
        },
    },
    {
        group: G, name: `${G}.java.Base64.encode`, cls: J64, method: "encode",
        args: ["java.nio.ByteBuffer"], library: J64LIB,
        before(call) {
            const bb = call.args[0];
            call.state.input = bufferBytes(bb, position(bb), limit(bb));
        },
        after(call, ret) {
            const input = call.state.input as ArrayBuffer | null;
            b64(call, input, bufferBytes(ret, 0, limit(ret)), "base64");
        },
    },
    {
        group: G, name: `${G}.GZIPOutputStream.init`, cls: GZ, method: "$init",
        after(call) {
            const out = call.self.out.value;
            let start = -1;
            const baos = Java.use("java.io.ByteArrayOutputStream");
            if (out !== null && baos.class.isInstance(out)) {
                // The constructor already wrote the 10-byte header: count from before it.
                start = Math.max(0, Java.cast(out, baos).size() - 10);
            }
            gzips.set(call.self, { input: [], size: 0, start });
        },
    },
    {
        group: G, name: `${G}.GZIPOutputStream.write`, cls: GZ, method: "write",
        args: ["[B", "int", "int"],
        after(call) {
            const g = gzips.get(call.self);
            const [b, off, len] = call.args;
            if (g !== undefined && g.size < MAX_PENDING) {
                const chunk = javaBytes(b, off, len);
                if (chunk !== null) {
                    g.input.push(chunk);
                    g.size += chunk.byteLength;
                }
            }
        },
    },
    {
        group: G, name: `${G}.GZIPOutputStream.finish`, cls: GZ, method: "finish", library: ZLIB,
        after(call) {
            const g = gzips.get(call.self);
            if (g === undefined) {
                return;
            }
            gzips.delete(call.self);
            let output: ArrayBuffer | null = null;
            const out = call.self.out.value;
            const baos = Java.use("java.io.ByteArrayOutputStream");
            if (g.start >= 0 && out !== null && baos.class.isInstance(out)) {
                const all = javaBytes(Java.cast(out, baos).toByteArray());
                output = all !== null ? all.slice(g.start) : null;
            }
            transform(call, "compress", "gzip", objectTransformId("gzip", call.self), concat(g.input), output);
        },
    },
    {
        group: G, name: `${G}.Deflater.setInput`, cls: DEF, method: "setInput",
        args: ["[B", "int", "int"],
        after(call) {
            const p = pendingFor(call.self);
            const [b, off, len] = call.args;
            const chunk = javaBytes(b, off, len);
            if (chunk !== null && p.size < MAX_PENDING) {
                p.input.push(chunk);
                p.size += chunk.byteLength;
            }
        },
    },
    {
        group: G, name: `${G}.Deflater.deflate`, cls: DEF, method: "deflate", library: ZLIB,
        args: ["[B", "int", "int", "int"],
        after(call, ret: number) {
            const [b, off] = call.args;
            if (ret > 0) {
                const p = pendingFor(call.self);
                const chunk = javaBytes(b, off, ret);
                if (chunk !== null && p.size < MAX_PENDING) {
                    p.output.push(chunk);
                    p.size += chunk.byteLength;
                }
            }
            if (call.self.finished()) {
                flushDeflater(call);
            }
        },
    },
    {
        group: G, name: `${G}.Deflater.end`, cls: DEF, method: "end", args: [], library: ZLIB,
        before(call) {
            flushDeflater(call);
        },
    },
];

export const encodersTable: JavaHook[] = encoderHooks.map(outer);
