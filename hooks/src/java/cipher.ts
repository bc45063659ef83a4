// javax.crypto.Cipher: an app's own encryption. init() gives the transformation (e.g.
// AES/CBC/PKCS5Padding), the mode and the key length; update()/doFinal() inputs and outputs
// are gathered per Cipher object and emitted as ONE transform record at doFinal, so a
// plaintext canary is linked to the whole ciphertext it ended up in.

import { bufferBytes, position, concat, javaBytes } from "./bytes.js";
import { objectTransformId, transform } from "./encoders.js";
import { ObjectState } from "./objects.js";
import { HookCall, JavaHook } from "./table.js";

const G = "java.cipher";
const C = "javax.crypto.Cipher";
const MAX_PENDING = 1 << 20;
const LIB = ["javax.crypto.Cipher."];
const MODES: { [k: number]: string } = { 1: "encrypt", 2: "decrypt", 3: "wrap", 4: "unwrap" };

interface Op {
    mode: string;
    keyBits: number | null;
    input: ArrayBuffer[];
    output: ArrayBuffer[];
    size: number;
}

const ops = new ObjectState<Op>();
/** Cipher methods call one another (doFinal(byte[]) is not nested, but init overloads
 *  are): only the outermost call per thread counts. */
const depth = new Map<number, number>();

function keyBits(key: any): number | null {
    if (key === null) {
        return null;
    }
    try {
        const enc = key.getEncoded();
        if (enc !== null && key.getAlgorithm().toString() !== "RSA") {
            return enc.length * 8;
        }
    } catch {
        // Some providers' keys refuse getEncoded(): the length stays unknown.
    }
    return null;
}

function opFor(call: HookCall): Op {
    let op = ops.get(call.self);
    if (op === undefined) {
        op = { mode: "unknown", keyBits: null, input: [], output: [], size: 0 };
        ops.set(call.self, op);
    }
    return op;
}

function add(call: HookCall, input: ArrayBuffer | null, output: ArrayBuffer | null): void {
    const op = opFor(call);
    for (const [list, b] of [[op.input, input], [op.output, output]] as const) {
        if (b !== null && b.byteLength > 0 && op.size < MAX_PENDING) {
            (list as ArrayBuffer[]).push(b);
            op.size += b.byteLength;
        }
    }
}

function finish(call: HookCall): void {
    const op = opFor(call);
    ops.delete(call.self);
    const algorithm = String(call.self.getAlgorithm());
    transform(call, "cipher", algorithm, objectTransformId("cipher", call.self),
        concat(op.input), concat(op.output), { mode: op.mode, key_bits: op.keyBits });
    // The Cipher stays initialised after doFinal: the next operation keeps mode and key.
    ops.set(call.self, { mode: op.mode, keyBits: op.keyBits, input: [], output: [], size: 0 });
}

function outerOnly(h: JavaHook): JavaHook {
    const after = h.after;
    const before = h.before;
    return {
        ...h,
        // Inside the TLS stack the Cipher is JSSE's record layer, not the app: straight to
        // the original, for every TLS record (its ByteBuffer positions would cost bridge
        // calls and nothing of it is recorded).
        passInTls: true,
        before(call) {
            const tid = Process.getCurrentThreadId();
            const d = depth.get(tid) ?? 0;
            depth.set(tid, d + 1);
            call.state.outer = d === 0;
            if (call.state.outer === true && before !== undefined) {
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

/** Where input and output bytes are for each update/doFinal overload. */
type Io = (a: any[], ret: any) => [ArrayBuffer | null, ArrayBuffer | null];
const IO: { [sig: string]: Io } = {
    "": (_a, r) => [null, javaBytes(r)],
    "[B": (a, r) => [javaBytes(a[0]), javaBytes(r)],
    "[B,int": (a, r) => [null, javaBytes(a[0], a[1], r)],
    "[B,int,int": (a, r) => [javaBytes(a[0], a[1], a[2]), javaBytes(r)],
    "[B,int,int,[B": (a, r) => [javaBytes(a[0], a[1], a[2]), javaBytes(a[3], 0, r)],
    "[B,int,int,[B,int": (a, r) => [javaBytes(a[0], a[1], a[2]), javaBytes(a[3], a[4], r)],
};

function ioHooks(method: "update" | "doFinal"): JavaHook[] {
    const out: JavaHook[] = [];
    for (const sig of Object.keys(IO)) {
        if (method === "update" && (sig === "" || sig === "[B,int")) {
            continue;
        }
        out.push({
            group: G, name: `${G}.${method}`, cls: C, method, library: LIB,
            args: sig === "" ? [] : sig.split(","),
            after(call, ret) {
                const [i, o] = IO[sig](call.args, ret);
                add(call, i, o);
                if (method === "doFinal") {
                    finish(call);
                }
            },
        });
    }
    out.push({
        group: G, name: `${G}.${method}`, cls: C, method, library: LIB,
        args: ["java.nio.ByteBuffer", "java.nio.ByteBuffer"],
        before(call) {
            const [i, o] = call.args;
            call.state.pos = [position(i), position(o)];
        },
        after(call) {
            const [i, o] = call.args;
            const [pi, po] = call.state.pos as number[];
            add(call, bufferBytes(i, pi, position(i)), bufferBytes(o, po, position(o)));
            if (method === "doFinal") {
                finish(call);
            }
        },
    });
    return out;
}

const cipherHooks: JavaHook[] = [
    {
        group: G, name: `${G}.init`, cls: C, method: "init",
        after(call) {
            const [opmode, key] = call.args;
            ops.set(call.self, {
                mode: MODES[opmode as number] ?? String(opmode),
                keyBits: keyBits(key), input: [], output: [], size: 0,
            });
        },
    },
    ...ioHooks("update"),
    ...ioHooks("doFinal"),
];

export const cipherTable: JavaHook[] = cipherHooks.map(outerOnly);
