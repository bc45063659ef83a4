// JSSE plaintext on a desktop JVM (HotSpot): the SSLSocket application streams and SSLEngine
// wrap/unwrap (java.net.http.HttpClient and NIO servers use engines). JSSE is pure Java, so
// the native TLS hooks never see these bytes: this table is the only view of them.

import Java from "frida-java-bridge";

import { connNumber, Direction, Layer, NativeKind, RecordKind } from "../protocol.js";
import { nativeRingStream } from "../native/index.js";
import { emit } from "../emit.js";
import { bufferBytes, position, concat, javaBytes } from "./bytes.js";
import { cMovedEntry, MovedCallback } from "./centries.js";
import { RecentObjects } from "./objects.js";
import { hookCallback, JavaHook } from "./table.js";
import { engineFacts, javaConn, socketFacts } from "./tlsconn.js";

const G = "java.jsse";
const OUT_STREAM = "sun.security.ssl.SSLSocketImpl$AppOutputStream";
const IN_STREAM = "sun.security.ssl.SSLSocketImpl$AppInputStream";
const ENGINE = "sun.security.ssl.SSLEngineImpl";

/** App stream object -> its socket's conn id (a stream belongs to one socket for life). */
const streams = new RecentObjects<string>();

/** A stream's conn id: what the C entry recognised (`known`), or what is remembered, or the
 *  first time, its socket's (a wrapper for the field read once per stream). */
function streamConn(stream: any, cls: string, hook: string, known?: string): string {
    const remembered = known ?? streams.find(stream);
    if (remembered !== undefined) {
        return remembered;
    }
    const wrapper = stream instanceof NativePointer ? Java.cast(stream, Java.use(cls)) : stream;
    const sock = wrapper.this$0.value;
    const id = javaConn(sock, hook, () => socketFacts(sock, "jsse"));
    streams.add(stream, id, connNumber(id));
    return id;
}

let ringWrite: { ring: NativePointer; write: NativeFunction<void, any[]> } | null | undefined;

/** The native ring's writer, when the native hooks run (native/index.ts). */
function ring(): { ring: NativePointer; write: NativeFunction<void, any[]> } | null {
    if (ringWrite === undefined) {
        const r = nativeRingStream();
        ringWrite = r === null ? null : {
            ring: r.ring,
            // Not exclusive: with both buffers full, ring_stream waits for the drain, which
            // runs on the JS thread and needs the JS lock.
            write: new NativeFunction(r.write, "void", ["pointer", "uint32", "uint64", "uint32", "pointer", "size_t"],
                { exceptions: "propagate" }),
        };
    }
    return ringWrite;
}

/** A chunk the C entry did not put in the ring itself (the stream's first, or no ring). */
function streamRecord(name: string, cls: string, dir: Direction, kind: NativeKind,
    hookIndex: NativePointer): MovedCallback {
    return (self, buf, n, known) => {
        const conn = streamConn(self, cls, name, known);
        const r = ring();
        if (r !== null) {
            // The ring, like the chunks after it: one stream's records stay in order.
            r.write(r.ring, kind, uint64(connNumber(conn)), hookIndex.readU32(), buf, n);
            return;
        }
        emit(RecordKind.STREAM, name, { layer: Layer.TLS }, { conn, dir, body: buf.readByteArray(n) });
    };
}

/** The report index of each stream hook (table.ts installed()): names its ring records. */
const outIndex = Memory.alloc(4);
const inIndex = Memory.alloc(4);

function positions(bufs: any, off: number, len: number): number[] {
    const out: number[] = [];
    for (let i = off; i < off + len; i++) {
        out.push(position(bufs[i]));
    }
    return out;
}

function moved(bufs: any, off: number, len: number, before: number[]): ArrayBuffer {
    const parts: ArrayBuffer[] = [];
    for (let i = off; i < off + len; i++) {
        const b = bufs[i];
        const got = bufferBytes(b, before[i - off], position(b));
        if (got !== null) {
            parts.push(got);
        }
    }
    return concat(parts);
}

const SOCKET = "sun.security.ssl.SSLSocketImpl";

const jsseHooks: JavaHook[] = [
    {
        group: G, name: `${G}.AppOutputStream.write`, cls: OUT_STREAM, method: "write",
        args: ["[B", "int", "int"], raw: true,
        entryInC: (spec) => cMovedEntry(spec, {
            len: "arg", receivers: streams, ringKind: NativeKind.TLS_OUT, hookIndex: outIndex,
        }, hookCallback(`${G}.AppOutputStream.write`,
            streamRecord(`${G}.AppOutputStream.write`, OUT_STREAM, Direction.OUT, NativeKind.TLS_OUT, outIndex))),
        installed: (index) => outIndex.writeU32(index),
        after(call) {
            const [b, off, len] = call.args;
            const conn = streamConn(call.self, call.hook.cls, call.hook.name);
            emit(RecordKind.STREAM, call.hook.name, { layer: Layer.TLS },
                { conn, dir: Direction.OUT, body: javaBytes(b, off, len) });
        },
    },
    {
        group: G, name: `${G}.AppInputStream.read`, cls: IN_STREAM, method: "read",
        args: ["[B", "int", "int"], raw: true,
        entryInC: (spec) => cMovedEntry(spec, {
            len: "ret", receivers: streams, ringKind: NativeKind.TLS_IN, hookIndex: inIndex,
        }, hookCallback(`${G}.AppInputStream.read`,
            streamRecord(`${G}.AppInputStream.read`, IN_STREAM, Direction.IN, NativeKind.TLS_IN, inIndex))),
        installed: (index) => inIndex.writeU32(index),
        after(call, ret: number) {
            if (ret <= 0) {
                return;
            }
            const [b, off] = call.args;
            const conn = streamConn(call.self, call.hook.cls, call.hook.name);
            emit(RecordKind.STREAM, call.hook.name, { layer: Layer.TLS },
                { conn, dir: Direction.IN, body: javaBytes(b, off, ret) });
        },
    },
    {
        group: G, name: `${G}.SSLEngineImpl.wrap`, cls: ENGINE, method: "wrap",
        args: ["[Ljava.nio.ByteBuffer;", "int", "int", "java.nio.ByteBuffer"],
        before(call) {
            const [srcs, off, len] = call.args;
            call.state.pos = positions(srcs, off, len);
        },
        after(call, ret) {
            if (ret.bytesConsumed() <= 0) {
                return;
            }
            const [srcs, off, len] = call.args;
            const body = moved(srcs, off, len, call.state.pos as number[]);
            const engine = call.self;
            const conn = javaConn(engine, call.hook.name, () => engineFacts(engine, "jsse"));
            emit(RecordKind.STREAM, call.hook.name, { layer: Layer.TLS },
                { conn, dir: Direction.OUT, body });
        },
    },
    {
        group: G, name: `${G}.SSLEngineImpl.unwrap`, cls: ENGINE, method: "unwrap",
        args: ["java.nio.ByteBuffer", "[Ljava.nio.ByteBuffer;", "int", "int"],
        before(call) {
            const [, dsts, off, len] = call.args;
            call.state.pos = positions(dsts, off, len);
        },
        after(call, ret) {
            if (ret.bytesProduced() <= 0) {
                return;
            }
            const [, dsts, off, len] = call.args;
            const body = moved(dsts, off, len, call.state.pos as number[]);
            const engine = call.self;
            const conn = javaConn(engine, call.hook.name, () => engineFacts(engine, "jsse"));
            emit(RecordKind.STREAM, call.hook.name, { layer: Layer.TLS },
                { conn, dir: Direction.IN, body });
        },
    },
];

/** Handshake and close run outside the app streams but encrypt too. */
const scopeOnly: JavaHook[] = ["startHandshake", "close"].map((method) => ({
    group: G, name: `${G}.SSLSocketImpl.${method}`, cls: SOCKET, method, args: [],
}));

/** Every JSSE call runs inside the TLS scope: its Cipher calls are JSSE's own. */
export const jsseTable: JavaHook[] = [...jsseHooks, ...scopeOnly].map((h) => ({ ...h, tls: true }));
