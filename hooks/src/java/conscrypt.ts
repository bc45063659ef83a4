// Conscrypt, Android's TLS provider (`com.android.org.conscrypt` in the platform,
// `org.conscrypt` when an app bundles it): the plaintext of SSL sockets (file-descriptor
// and engine based) and engines. Conscrypt runs BoringSSL natively, so the native TLS hooks
// see the same bytes: by default these hooks emit only the `conn` record linking the Java
// connection (peer, protocol, cipher, the SSL* address and fd) to the native view, and emit
// stream records themselves only when the native hooks are off. Never counted twice.

import { emit } from "../emit.js";
import { Direction, Layer, RecordKind } from "../protocol.js";
import { bufferBytes, position, concat, javaBytes } from "./bytes.js";
import { HookCall, JavaHook } from "./table.js";
import { engineFacts, javaConn, socketFacts, TlsFacts } from "./tlsconn.js";

const G = "java.conscrypt";
let javaBytesToo = false;

export function configureConscrypt(nativeHooksOn: boolean): void {
    javaBytesToo = !nativeHooksOn;
}

function hex(v: any): string | null {
    if (v === null || v === undefined) {
        return null;
    }
    return "0x" + BigInt(String(v)).toString(16);
}

/** The SSL* address and fd behind a Conscrypt socket or engine (fields of NativeSsl). */
function nativeSide(owner: any, f: TlsFacts): TlsFacts {
    try {
        const nssl = owner.ssl.value;
        if (nssl !== null) {
            f.ssl = hex(nssl.ssl.value);
        }
    } catch {
        f.ssl = null;
    }
    try {
        const fd = owner.getFileDescriptor$();
        f.fd = fd !== null ? fd.descriptor.value : null;
    } catch {
        f.fd = null;
    }
    f.plaintext = javaBytesToo ? "java" : "native";
    return f;
}

function socketConn(c: HookCall): string {
    const sock = c.self.this$0.value;
    return javaConn(sock, c.hook.name, () => nativeSide(sock, socketFacts(sock, "conscrypt")));
}

function stream(c: HookCall, conn: string, dir: Direction, body: ArrayBuffer | null): void {
    if (javaBytesToo) {
        emit(RecordKind.STREAM, c.hook.name, { layer: Layer.TLS }, { conn, dir, body });
    }
}

function socketStreams(pkg: string, cls: string): JavaHook[] {
    const base = `${pkg}.${cls}`;
    const name = `${G}.${cls}`;
    return [
        {
            group: G, name: `${name}.SSLOutputStream.write`, cls: `${base}$SSLOutputStream`,
            method: "write", args: ["[B", "int", "int"],
            after(c) {
                const [b, off, len] = c.args;
                stream(c, socketConn(c), Direction.OUT, javaBytesToo ? javaBytes(b, off, len) : null);
            },
        },
        {
            group: G, name: `${name}.SSLInputStream.read`, cls: `${base}$SSLInputStream`,
            method: "read", args: ["[B", "int", "int"],
            after(c, ret: number) {
                if (ret > 0) {
                    const [b, off] = c.args;
                    stream(c, socketConn(c), Direction.IN, javaBytesToo ? javaBytes(b, off, ret) : null);
                }
            },
        },
    ];
}

function engineHooks(pkg: string): JavaHook[] {
    const cls = `${pkg}.ConscryptEngine`;
    const conn = (c: HookCall): string =>
        javaConn(c.self, c.hook.name, () => nativeSide(c.self, engineFacts(c.self, "conscrypt")));
    const moved = (bufs: any, off: number, len: number, pos: number[]): ArrayBuffer => {
        const parts: ArrayBuffer[] = [];
        for (let i = off; i < off + len; i++) {
            parts.push(bufferBytes(bufs[i], pos[i - off], position(bufs[i])) ?? new ArrayBuffer(0));
        }
        return concat(parts);
    };
    const positions = (bufs: any, off: number, len: number): number[] => {
        const out: number[] = [];
        for (let i = off; i < off + len; i++) {
            out.push(position(bufs[i]));
        }
        return out;
    };
    return [
        {
            group: G, name: `${G}.ConscryptEngine.wrap`, cls, method: "wrap",
            args: ["[Ljava.nio.ByteBuffer;", "int", "int", "java.nio.ByteBuffer"],
            before(c) {
                c.state.pos = positions(c.args[0], c.args[1], c.args[2]);
            },
            after(c, ret) {
                if (ret.bytesConsumed() > 0) {
                    const body = javaBytesToo
                        ? moved(c.args[0], c.args[1], c.args[2], c.state.pos as number[]) : null;
                    stream(c, conn(c), Direction.OUT, body);
                }
            },
        },
        {
            group: G, name: `${G}.ConscryptEngine.unwrap`, cls, method: "unwrap",
            args: ["[Ljava.nio.ByteBuffer;", "int", "int", "[Ljava.nio.ByteBuffer;", "int", "int"],
            before(c) {
                c.state.pos = positions(c.args[3], c.args[4], c.args[5]);
            },
            after(c, ret) {
                if (ret.bytesProduced() > 0) {
                    const body = javaBytesToo
                        ? moved(c.args[3], c.args[4], c.args[5], c.state.pos as number[]) : null;
                    stream(c, conn(c), Direction.IN, body);
                }
            },
        },
    ];
}

export const conscryptTable: JavaHook[] = [];
for (const pkg of ["com.android.org.conscrypt", "org.conscrypt"]) {
    conscryptTable.push(
        ...socketStreams(pkg, "ConscryptFileDescriptorSocket"),
        ...socketStreams(pkg, "ConscryptEngineSocket"),
        ...engineHooks(pkg),
    );
}
// Names differ per package: keep them unique in the coverage report.
for (const h of conscryptTable) {
    if (h.cls.startsWith("org.conscrypt")) {
        h.name = h.name.replace(`${G}.`, `${G}.org.`);
        h.group = `${G}.org`;
    }
}
