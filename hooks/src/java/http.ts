// Shared plumbing of the HTTP stack tables: call numbering, header lists and the `http`
// record, attributed to the code (and SDK) that made the request.

import Java from "frida-java-bridge";

import { emit } from "../emit.js";
import { idPid } from "../instance.js";
import { RecordKind } from "../protocol.js";
import { Attribution, attribute } from "./frames.js";
import { javaConn, socketFacts } from "./tlsconn.js";

/** The call counter, in native memory: C entries that record a call themselves
 *  (okhttp_c.ts) take their numbers from it too, atomically, on their own threads. */
export const callCounter = Memory.alloc(8);
const NEXT_CALL_C = `
#include <glib.h>

gint64
next_call (gssize * counter)
{
  return g_atomic_pointer_add (counter, 1);
}
`;
let nextCall: { cm: CModule; fn: NativeFunction<Int64, [NativePointer]> } | null = null;

export function newCall(stack: string): string {
    if (nextCall === null) {
        const cm = new CModule(NEXT_CALL_C);
        nextCall = { cm, fn: new NativeFunction(cm.next_call, "int64", ["pointer"], { exceptions: "propagate" }) };
    }
    return `${stack}:${idPid()}:${nextCall.fn(callCounter).toString()}`;
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
