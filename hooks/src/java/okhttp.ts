// OkHttp 3 and 4 (`okhttp3`): the request as it goes on the wire (after the app's and the
// bridge interceptors: final URL, method, headers, body bytes) and the response status,
// protocol and headers, from CallServerInterceptor.intercept, the last link of the chain
// for every call, synchronous or enqueued, HTTP/1.1 or HTTP/2.

import Java from "frida-java-bridge";

import { connNumber } from "../protocol.js";
import { nativeRingStream } from "../native/index.js";
import { addSender, announcePath, Attribution, attribute } from "./frames.js";
import { byteArray, currentEnv, handle, javaString, JMethod, toJavaString } from "./jni.js";
import { ObjectState, RecentObjects } from "./objects.js";
import { CONN_SLOTS, makeOkReader, OK_IDS, okCall, OkRaw, OkRead, OkReader, OkRequest, OkResponse } from "./okhttp_c.js";
import { connOfSocket, emitHttp, newCall } from "./http.js";
import { hookCallback, JavaHook, reportError } from "./table.js";

const G = "java.okhttp3";
const LIB = ["okhttp3.", "okio."];
addSender("okhttp3.");

export function okHeaders(h: any): [string, string][] {
    const out: [string, string][] = [];
    const n: number = h.size();
    for (let i = 0; i < n; i++) {
        out.push([String(h.name(i)), String(h.value(i))]);
    }
    return out;
}

const M = {
    chainRequest: new JMethod("okhttp3.Interceptor$Chain", "request", "()Lokhttp3/Request;"),
    chainCall: new JMethod("okhttp3.Interceptor$Chain", "call", "()Lokhttp3/Call;"),
    chainConnection: new JMethod("okhttp3.Interceptor$Chain", "connection", "()Lokhttp3/Connection;"),
    url: new JMethod("okhttp3.Request", "url", "()Lokhttp3/HttpUrl;"),
    method: new JMethod("okhttp3.Request", "method", "()Ljava/lang/String;"),
    requestHeaders: new JMethod("okhttp3.Request", "headers", "()Lokhttp3/Headers;"),
    body: new JMethod("okhttp3.Request", "body", "()Lokhttp3/RequestBody;"),
    writeTo: new JMethod("okhttp3.RequestBody", "writeTo", "(Lokio/BufferedSink;)V"),
    connProtocol: new JMethod("okhttp3.Connection", "protocol", "()Lokhttp3/Protocol;"),
    code: new JMethod("okhttp3.Response", "code", "()I"),
    responseHeaders: new JMethod("okhttp3.Response", "headers", "()Lokhttp3/Headers;"),
    responseProtocol: new JMethod("okhttp3.Response", "protocol", "()Lokhttp3/Protocol;"),
    headersSize: new JMethod("okhttp3.Headers", "size", "()I"),
    headerName: new JMethod("okhttp3.Headers", "name", "(I)Ljava/lang/String;"),
    headerValue: new JMethod("okhttp3.Headers", "value", "(I)Ljava/lang/String;"),
    newBuffer: new JMethod("okio.Buffer", "<init>", "()V"),
    readByteArray: new JMethod("okio.Buffer", "readByteArray", "()[B"),
};
/** Newer OkHttp only: a duplex or one-shot body can be written once, never consume it. */
const ONCE_ONLY = [
    new JMethod("okhttp3.RequestBody", "isDuplex", "()Z"),
    new JMethod("okhttp3.RequestBody", "isOneShot", "()Z"),
];
let onceOnly: JMethod[] = [];
/** okhttp3.Connection's wrapper class. */
let connectionClass: any = null;

/** Headers, by raw JNI: one call per name and value (as the C readers read them: a value
 *  OkHttp 4 prints redacted in toString() is read as it is). The fallback path only. */
function headerLines(h: NativePointer): [string, string][] {
    const out: [string, string][] = [];
    if (h.isNull()) {
        return out;
    }
    const n = M.headersSize.call(h) as number;
    for (let i = 0; i < n; i++) {
        out.push([javaString(M.headerName.call(h, i)) ?? "", javaString(M.headerValue.call(h, i)) ?? ""]);
    }
    return out;
}

interface ConnFacts {
    conn: string | null;
    protocol: string;
}

/** RealConnection -> its TLS conn id and protocol: both fixed for the connection's life, so
 *  asked once per connection, not once per request. */
const connections = new RecentObjects<ConnFacts>(CONN_SLOTS);

function connFacts(c: NativePointer, hook: string): ConnFacts {
    const known = connections.find(c);
    if (known !== undefined) {
        return known;
    }
    // Once per connection: the bridge's wrappers are affordable here.
    const wrapper = Java.cast(c, connectionClass);
    const f = { conn: connOfSocket(wrapper.socket(), hook), protocol: toJavaString(M.connProtocol.call(c)) };
    // The number names the connection in the C entry's ring records (0: not TLS).
    connections.add(c, f, f.conn !== null ? connNumber(f.conn) : 0);
    return f;
}

/** The request body's bytes, written into an okio.Buffer of ours. A body whose writeTo()
 *  throws is reported (agent_error, naming the exception) and recorded without its body:
 *  the exception is cleared, the app's own write of the body goes on as if we were not there. */
function requestBody(req: NativePointer, hook: string): ArrayBuffer | null {
    try {
        return readBody(req);
    } catch (e) {
        reportError(`${hook}: request body not read`, e);
        return null;
    }
}

function readBody(req: NativePointer): ArrayBuffer | null {
    const body = M.body.call(req) as NativePointer;
    if (body.isNull()) {
        return null;
    }
    for (const probe of onceOnly) {
        if (probe.call(body) !== 0) {
            return null;
        }
    }
    const buf = M.newBuffer.construct();
    M.writeTo.call(body, buf);
    return byteArray(M.readByteArray.call(buf));
}

/** The request and response read in C (okhttp_c.ts); null: read through jni.ts. */
let reader: OkReader | null = null;
const toStringId = new JMethod("java.lang.Object", "toString", "()Ljava/lang/String;");

interface RequestRead {
    connection: NativePointer;
    url: string;
    method: string | null;
    headers: [string, string][];
    body: ArrayBuffer | null;
}

function readRequest(chain: NativePointer, hook: string): RequestRead {
    return fromC(reader !== null ? reader.readRequest(currentEnv(), chain) : null, chain, hook);
}

/** The request as C read it; through JNI where C could not (no reader, or a URL or header
 *  block longer than its buffer: C then stopped before the body). */
function fromC(r: OkRead<OkRequest> | null, chain: NativePointer, hook: string): RequestRead {
    if (r !== null && r.facts !== null) {
        if (!r.throwable.isNull()) {
            reportError(`${hook}: request body not read`,
                new Error(`okhttp3.RequestBody.writeTo threw ${toJavaString(r.throwable)}`));
        }
        return {
            connection: r.connection, url: r.facts.url, method: r.facts.method,
            headers: r.facts.headers, body: r.bodyRef.isNull() ? r.body : byteArray(r.bodyRef),
        };
    }
    const req = M.chainRequest.call(chain) as NativePointer;
    return {
        connection: M.chainConnection.call(chain) as NativePointer,
        url: toJavaString(M.url.call(req)), method: javaString(M.method.call(req)),
        headers: headerLines(M.requestHeaders.call(req)), body: requestBody(req, hook),
    };
}

/** One call's facts from its request to its response (same thread, same call). */
interface CallState {
    id: string;
    url: string;
    conn: string | null;
    protocol: string | null;
    who: Attribution;
}

/** The request record; `t`: when the call began, where it is recorded later; `known`: the
 *  connection's facts, where the C entry recognised it; `key`: the call path's key, where
 *  the C entry has it (then announced, so the C entry records the path's next calls itself). */
function recordRequest(hook: string, chain: NativePointer, read: RequestRead, t: number | null,
    known: ConnFacts | null = null, key: string | null | undefined = undefined): CallState {
    const id = newCall("okhttp3");
    // An enqueued call runs here on the dispatcher's thread: its app frames are the ones
    // seen at enqueue(). Asked only while such a call is pending.
    let who: Attribution | null = null;
    if (enqueued.size > 0) {
        const rc = M.chainCall.call(chain) as NativePointer;
        who = enqueued.get(rc)?.who ?? null;
        if (who !== null) {
            enqueued.delete(rc);
        }
        // A call that never gets here (its connect failed, it was cancelled) is forgotten
        // after a while, so it does not keep every call on the JS path.
        const now = Date.now();
        enqueued.dropWhile((e) => now - e.at > ENQUEUED_FOR_MS);
        jsOnly.writeU32(enqueued.size > 0 ? 1 : 0);
    }
    if (who === null) {
        who = attribute(LIB, null, key);
        if (key != null && nativeRingStream() !== null) {
            announcePath(hook, key, who);
        }
    }
    const c = read.connection;
    const f = known ?? (!c.isNull() ? connFacts(c, hook) : null);
    const facts = {
        stack: "okhttp3", phase: "request" as const, call: id, url: read.url,
        method: read.method, headers: read.headers, protocol: f?.protocol ?? null,
        ...(t !== null ? { t } : {}),
    };
    const a = emitHttp(hook, LIB, facts, read.body, f?.conn ?? null, who);
    return { id, url: read.url, conn: f?.conn ?? null, protocol: f?.protocol ?? null, who: a };
}

function recordResponse(hook: string, state: CallState, read: ResponseRead): void {
    emitHttp(hook, LIB, {
        stack: "okhttp3", phase: "response", call: state.id, url: state.url, status: read.status,
        protocol: state.protocol ?? read.protocol, headers: read.headers,
    }, null, state.conn, state.who);
}

interface ResponseRead {
    status: number;
    protocol: string | null;
    headers: [string, string][];
}

function readResponse(r: NativePointer, wantProtocol: boolean): ResponseRead {
    if (reader !== null) {
        const got = reader.readResponse(currentEnv(), r, wantProtocol);
        if (got.facts !== null) {
            return responseFrom(got.facts, wantProtocol);
        }
    }
    return {
        status: M.code.call(r) as number,
        protocol: wantProtocol ? toJavaString(M.responseProtocol.call(r)) : null,
        headers: headerLines(M.responseHeaders.call(r)),
    };
}

function responseFrom(facts: OkResponse, wantProtocol: boolean): ResponseRead {
    return {
        status: facts.code, protocol: wantProtocol ? facts.protocol ?? "null" : null, headers: facts.headers,
    };
}

/** RealCall -> who enqueued it (OkHttp 3: okhttp3.RealCall; 4: internal.connection). */
const enqueued = new ObjectState<{ who: Attribution; at: number }>(1024);
/** How long an enqueued call's attribution is kept for it (then its frames are the
 *  dispatcher thread's). */
const ENQUEUED_FOR_MS = 60_000;
/** Non-zero while an enqueued call is pending: its attribution is here, so the C entry hands
 *  every call to JS meanwhile. */
const jsOnly = Memory.alloc(4);
/** The intercept hook's report index (table.ts installed()): names its ring records. */
const hookIndex = Memory.alloc(4);

function enqueueHook(cls: string): JavaHook {
    return {
        group: G, name: `${G}.${cls.split(".").slice(-1)[0]}.enqueue`, cls, method: "enqueue",
        args: ["okhttp3.Callback"], library: LIB,
        before(call) {
            enqueued.set(call.self, { who: attribute(LIB), at: Date.now() });
            jsOnly.writeU32(1);
        },
    };
}

export const okhttpTable: JavaHook[] = [
    enqueueHook("okhttp3.RealCall"),
    {
        ...enqueueHook("okhttp3.internal.connection.RealCall"),
        name: `${G}.internal.connection.RealCall.enqueue`,
    },
    {
        group: G, name: `${G}.CallServerInterceptor.intercept`,
        cls: "okhttp3.internal.http.CallServerInterceptor", method: "intercept",
        args: ["okhttp3.Interceptor$Chain"], library: LIB, raw: true,
        prepare(factory) {
            // Resolved here, outside any app call, with the loader that has OkHttp; okio's
            // Buffer is loaded here too: a hook body touching a class that is not loaded yet
            // fired once only on HotSpot (packages.md).
            for (const m of Object.values(M)) {
                m.resolve(factory);
            }
            onceOnly = ONCE_ONLY.filter((m) => m.tryResolve(factory));
            connectionClass = factory.use("okhttp3.Connection");
            factory.use("okio.Buffer").$new().close();
            toStringId.resolve(factory);
            const byName: { [k: string]: JMethod | undefined } = {
                ...M, toString: toStringId, isDuplex: onceOnly.find((m) => m.name === "isDuplex"),
                isOneShot: onceOnly.find((m) => m.name === "isOneShot"),
            };
            reader = makeOkReader(OK_IDS.map((k) => byName[k] ?? null), M.newBuffer.classRef ?? NULL);
        },
        installed: (index) => hookIndex.writeU32(index),
        entryInC(spec) {
            if (reader === null) {
                throw new Error("no C reader for okhttp3");
            }
            const hook = `${G}.CallServerInterceptor.intercept`;
            return reader.entry(spec, connections, { hookIndex, jsOnly }, hookCallback(hook, (raw: OkRaw) => {
                const call = okCall(raw, connections);
                const state = recordRequest(hook, call.chain, fromC(call.request, call.chain, hook), call.t,
                    call.connection ?? null, call.key ?? undefined);
                if (!call.resp.isNull()) {
                    recordResponse(hook, state, call.response?.facts != null
                        ? responseFrom(call.response.facts, state.protocol === null)
                        : readResponse(call.resp, state.protocol === null));
                }
            }));
        },
        before(call) {
            call.state.call = recordRequest(call.hook.name, handle(call.args[0]),
                readRequest(handle(call.args[0]), call.hook.name), null);
        },
        after(call, resp) {
            const state = call.state.call as CallState;
            recordResponse(call.hook.name, state, readResponse(handle(resp), state.protocol === null));
        },
    },
];

/** Android's bundled OkHttp 2 (`com.android.okhttp`), behind HttpURLConnection on Android. */
const AG = "java.android-okhttp";
const ALIB = ["com.android.okhttp."];

export const androidOkhttpTable: JavaHook[] = [
    {
        group: AG, name: `${AG}.HttpEngine.readResponse`,
        cls: "com.android.okhttp.internal.http.HttpEngine", method: "readResponse", args: [],
        library: ALIB,
        after(call) {
            const self = call.self;
            const req = self.userRequest.value;
            const resp = self.userResponse.value;
            const id = newCall("android-okhttp");
            let conn: string | null = null;
            try {
                const c = self.connection();
                conn = c !== null ? connOfSocket(c.getSocket(), call.hook.name) : null;
            } catch {
                conn = null;
            }
            emitHttp(call.hook.name, ALIB, {
                stack: "com.android.okhttp", phase: "request", call: id,
                url: String(req.urlString()), method: String(req.method()),
                headers: okHeaders(req.headers()),
            }, null, conn);
            if (resp !== null) {
                emitHttp(call.hook.name, ALIB, {
                    stack: "com.android.okhttp", phase: "response", call: id,
                    url: String(req.urlString()), status: resp.code(),
                    protocol: String(resp.protocol().toString()), headers: okHeaders(resp.headers()),
                }, null, conn);
            }
        },
    },
];
