// Shared plumbing of the HTTP stack tables: call numbering, header lists and the `http`
// record, attributed to the code (and SDK) that made the request.

import Java from "frida-java-bridge";

import { emit } from "../emit.js";
import { RecordKind } from "../protocol.js";
import { Attribution, attribute } from "./frames.js";
import { javaConn, socketFacts } from "./tlsconn.js";

let nextCall = 0;

export function newCall(stack: string): string {
    return `${stack}:${Process.id}:${nextCall++}`;
}

export interface HttpFacts {
    stack: string;
    phase: "request" | "response" | "body";
    call: string;
    url?: string | null;
    method?: string | null;
    headers?: [string, string][];
    status?: number | null;
    protocol?: string | null;
    /** When it happened (ms since the epoch), where that is not when it is recorded. */
    t?: number;
}

export function emitHttp(hook: string, library: string[], f: HttpFacts, body: ArrayBuffer | null,
    conn: string | null, known: Attribution | null = null): Attribution {
    const a = known ?? attribute(library);
    emit(RecordKind.HTTP, hook, { ...f, frames: a.frames, sender: a.sender },
        { conn, body, dir: f.phase === "response" ? "in" : "out" });
    return a;
}

let sslSocket: any = null;

/** The Java TLS conn id of a socket when it is an SSLSocket (links http to stream records). */
export function connOfSocket(sock: any, hook: string): string | null {
    if (sock === null || sock === undefined) {
        return null;
    }
    if (sslSocket === null) {
        sslSocket = Java.use("javax.net.ssl.SSLSocket");
    }
    if (!sslSocket.class.isInstance(sock)) {
        return null;
    }
    const s = Java.cast(sock, sslSocket);
    const name = String(sock.getClass().getName());
    const library = name.includes("conscrypt") ? "conscrypt" : "jsse";
    return javaConn(s, hook, () => socketFacts(s, library));
}
