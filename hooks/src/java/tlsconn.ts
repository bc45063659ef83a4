// Connection identity for Java TLS (JSSE sockets and engines, Conscrypt). Java connection
// numbers start at JAVA_CONN_BASE so they never collide with the native hooks' numbers in the
// same process; the `conn` record names the library, peer, protocol and cipher, and for
// Conscrypt the SSL* address and fd the native hooks see, so the two views are linked.

import Java from "frida-java-bridge";

import { emit } from "../emit.js";
import { agentInstance } from "../instance.js";
import { JAVA_CONN_BASE, Layer, RecordKind, connId } from "../protocol.js";

export interface TlsFacts {
    library: string;
    peer_ip?: string | null;
    peer_port?: number | null;
    local_ip?: string | null;
    local_port?: number | null;
    peer_host?: string | null;
    sni?: string | null;
    tls_version?: string | null;
    cipher?: string | null;
    alpn?: string | null;
    fd?: number | null;
    ssl?: string | null;
    java_class?: string | null;
    plaintext?: string;
}

interface Known {
    id: string;
    /** The object itself, kept to tell an identity-hash collision from the same connection. */
    ref: any;
}

/** identityHashCode -> connection; bounded, oldest evicted first. */
const known = new Map<number, Known>();
const MAX_KNOWN = 4096;
let next = 0;
let system: any = null;

/** The conn id of a Java TLS object (socket, engine, NativeSsl), emitting its conn record
 *  the first time. `facts` is only called then, after the handshake. */
export function javaConn(obj: any, hook: string, facts: () => TlsFacts): string {
    if (system === null) {
        system = Java.use("java.lang.System");
    }
    const h: number = system.identityHashCode(obj);
    const k = known.get(h);
    if (k !== undefined && (k.ref === null || Java.vm.getEnv().isSameObject(k.ref.$h, obj.$h))) {
        return k.id;
    }
    const id = connId(Process.id, Layer.TLS, JAVA_CONN_BASE + next++, agentInstance());
    if (known.size >= MAX_KNOWN) {
        const first = known.keys().next();
        if (!first.done) {
            known.delete(first.value);
        }
    }
    known.set(h, { id, ref: Java.retain(obj) });
    let f: TlsFacts;
    try {
        f = facts();
    } catch (e) {
        f = { library: "unknown", java_class: `facts failed: ${e}` };
    }
    emit(RecordKind.CONN, hook, { layer: Layer.TLS, transport: "tcp", ...f }, { conn: id });
    return id;
}

function str(v: any): string | null {
    return v === null || v === undefined ? null : String(v);
}

/** Facts of a javax.net.ssl.SSLSocket (JSSE or Conscrypt), asked after the handshake. */
export function socketFacts(sock: any, library: string): TlsFacts {
    const f: TlsFacts = { library, java_class: String(sock.$className ?? sock.getClass().getName()) };
    const addr = sock.getInetAddress();
    if (addr !== null) {
        f.peer_ip = str(addr.getHostAddress());
    }
    f.peer_port = sock.getPort();
    const local = sock.getLocalAddress();
    if (local !== null) {
        f.local_ip = str(local.getHostAddress());
    }
    f.local_port = sock.getLocalPort();
    const session = sock.getSession();
    if (session !== null) {
        f.tls_version = str(session.getProtocol());
        f.cipher = str(session.getCipherSuite());
        f.peer_host = str(session.getPeerHost());
    }
    try {
        f.alpn = str(sock.getApplicationProtocol());
    } catch {
        f.alpn = null;
    }
    return f;
}

/** Facts of a javax.net.ssl.SSLEngine. */
export function engineFacts(engine: any, library: string): TlsFacts {
    const f: TlsFacts = { library, java_class: String(engine.getClass().getName()) };
    f.peer_host = str(engine.getPeerHost());
    f.peer_port = engine.getPeerPort();
    const session = engine.getSession();
    if (session !== null) {
        f.tls_version = str(session.getProtocol());
        f.cipher = str(session.getCipherSuite());
    }
    try {
        f.alpn = str(engine.getApplicationProtocol());
    } catch {
        f.alpn = null;
    }
    return f;
}
