// OkHttp 3 and 4 (`okhttp3`): the request as it goes on the wire (after the app's and the
// bridge interceptors: final URL, method, headers, body bytes) and the response status,
// protocol and headers, from CallServerInterceptor.intercept, the last link of the chain
// for every call, synchronous or enqueued, HTTP/1.1 or HTTP/2.

import Java from "frida-java-bridge";

import { addSender, Attribution, attribute } from "./frames.js";
import { byteArray, currentEnv, handle, javaString, JMethod, toJavaString } from "./jni.js";
import { ObjectState, RecentObjects } from "./objects.js";
import { makeOkReader, OK_IDS, OkReader } from "./okhttp_c.js";
import { connOfSocket, emitHttp, newCall } from "./http.js";
import { JavaHook, reportError } from "./table.js";

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

/** Headers, by raw JNI: one call per name and value. */
function rawHeaders(h: NativePointer): [string, string][] {
    const out: [string, string][] = [];
    const n = M.headersSize.call(h) as number;
    for (let i = 0; i < n; i++) {
        out.push([javaString(M.headerName.call(h, i)) ?? "", javaString(M.headerValue.call(h, i)) ?? ""]);
    }
    return out;
}

/** OkHttp 3 and 4 print Headers as "name: value\n" lines (values never hold a newline):
 *  one Java call instead of 2n+1. OkHttp 4.x prints sensitive values (Authorization,
 *  Cookie...) as "██": then ask header by header, so nothing is redacted in the record. */
function headerLines(h: NativePointer): [string, string][] {
    if (h.isNull()) {
        return [];
    }
    return headersOf(toJavaString(h), h);
}

/** Headers from their printed text (h: the Headers, for the redacted case). */
function headersOf(text: string, h: NativePointer): [string, string][] {
    if (text.includes("\u2588")) {
        return rawHeaders(h);
    }
    const out: [string, string][] = [];
    for (const line of text.split("\n")) {
        const colon = line.indexOf(": ");
        if (colon > 0) {
            out.push([line.slice(0, colon), line.slice(colon + 2)]);
        }
    }
    return out;
}

interface ConnFacts {
    conn: string | null;
    protocol: string;
}

/** RealConnection -> its TLS conn id and protocol: both fixed for the connection's life, so
 *  asked once per connection, not once per request. */
const connections = new RecentObjects<ConnFacts>();

function connFacts(c: NativePointer, hook: string): ConnFacts {
    const known = connections.find(c);
    if (known !== undefined) {
        return known;
    }
    // Once per connection: the bridge's wrappers are affordable here.
    const wrapper = Java.cast(c, connectionClass);
    const f = { conn: connOfSocket(wrapper.socket(), hook), protocol: toJavaString(M.connProtocol.call(c)) };
    connections.add(c, f);
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
    let body: ArrayBuffer | null | undefined;
    if (reader !== null) {
        const r = reader.readRequest(currentEnv(), chain);
        if (r.failed !== 0) {
            throw new Error(`okhttp3 request not read in C (step ${r.failed})`);
        }
        if (!r.throwable.isNull()) {
            reportError(`${hook}: request body not read`,
                new Error(`okhttp3.RequestBody.writeTo threw ${toJavaString(r.throwable)}`));
        }
        body = r.body === undefined ? byteArray(r.bodyRef) : r.body;
        const [url, method, headers] = r.strings;
        if (url !== undefined && method !== undefined && headers !== undefined) {
            return {
                connection: r.connection, url: url ?? "null", method,
                headers: headers === null ? [] : headersOf(headers, r.headersRef), body,
            };
        }
        // A URL or header block longer than the C buffer: those again through JNI (the body
        // was read: not written a second time).
    }
    const req = M.chainRequest.call(chain) as NativePointer;
    return {
        connection: M.chainConnection.call(chain) as NativePointer,
        url: toJavaString(M.url.call(req)), method: javaString(M.method.call(req)),
        headers: headerLines(M.requestHeaders.call(req)), body: body !== undefined ? body : requestBody(req, hook),
    };
}

interface ResponseRead {
    status: number;
    protocol: string | null;
    headers: [string, string][];
}

function readResponse(r: NativePointer, wantProtocol: boolean): ResponseRead {
    if (reader !== null) {
        const got = reader.readResponse(currentEnv(), r, wantProtocol);
        if (got.failed !== 0) {
            throw new Error(`okhttp3 response not read in C (step ${got.failed})`);
        }
        const [headers, protocol] = got.strings;
        if (headers !== undefined && (!wantProtocol || protocol !== undefined)) {
            return {
                status: got.code, protocol: wantProtocol ? protocol ?? "null" : null,
                headers: headers === null ? [] : headersOf(headers, got.headersRef),
            };
        }
    }
    return {
        status: M.code.call(r) as number,
        protocol: wantProtocol ? toJavaString(M.responseProtocol.call(r)) : null,
        headers: headerLines(M.responseHeaders.call(r)),
    };
}

/** RealCall -> who enqueued it (OkHttp 3: okhttp3.RealCall; 4: internal.connection). */
const enqueued = new ObjectState<Attribution>(1024);

function enqueueHook(cls: string): JavaHook {
    return {
        group: G, name: `${G}.${cls.split(".").slice(-1)[0]}.enqueue`, cls, method: "enqueue",
        args: ["okhttp3.Callback"], library: LIB,
        before(call) {
            enqueued.set(call.self, attribute(LIB));
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
        before(call) {
            const chain = handle(call.args[0]);
            const read = readRequest(chain, call.hook.name);
            const id = newCall("okhttp3");
            // An enqueued call runs here on the dispatcher's thread: its app frames are the
            // ones seen at enqueue(). Asked only while such a call is pending.
            let who: Attribution | null = null;
            if (enqueued.size > 0) {
                const rc = M.chainCall.call(chain) as NativePointer;
                who = enqueued.get(rc) ?? null;
                if (who !== null) {
                    enqueued.delete(rc);
                }
            }
            const c = read.connection;
            const f = !c.isNull() ? connFacts(c, call.hook.name) : null;
            call.state.id = id;
            call.state.url = read.url;
            call.state.conn = f?.conn ?? null;
            call.state.protocol = f?.protocol ?? null;
            call.state.who = emitHttp(call.hook.name, LIB, {
                stack: "okhttp3", phase: "request", call: id, url: read.url,
                method: read.method, headers: read.headers, protocol: f?.protocol ?? null,
            }, read.body, f?.conn ?? null, who);
        },
        after(call, resp) {
            // The same call on the same thread: the request's URL, connection and frames.
            const r = handle(resp);
            const known = call.state.protocol as string | null;
            const read = readResponse(r, known === null);
            emitHttp(call.hook.name, LIB, {
                stack: "okhttp3", phase: "response", call: call.state.id as string,
                url: call.state.url as string, status: read.status,
                protocol: known ?? read.protocol, headers: read.headers,
            }, null, call.state.conn as string | null, call.state.who as Attribution);
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
