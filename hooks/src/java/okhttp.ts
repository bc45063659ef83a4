// OkHttp 3 and 4 (`okhttp3`): the request as it goes on the wire (after the app's and the
// bridge interceptors: final URL, method, headers, body bytes) and the response status,
// protocol and headers, from CallServerInterceptor.intercept, the last link of the chain
// for every call, synchronous or enqueued, HTTP/1.1 or HTTP/2.

import Java from "frida-java-bridge";

import { javaBytes } from "./bytes.js";
import { addSender, Attribution, attribute } from "./frames.js";
import { ObjectState, RecentObjects } from "./objects.js";
import { connOfSocket, emitHttp, newCall } from "./http.js";
import { JavaHook } from "./table.js";

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

/** OkHttp 3 and 4 print Headers as "name: value\n" lines (values never hold a newline):
 *  one Java call instead of 2n+1. OkHttp 4.x prints sensitive values (Authorization,
 *  Cookie...) as "██": then ask header by header, so nothing is redacted in the record. */
function headerLines(h: any): [string, string][] {
    const text = String(h.toString());
    if (text.includes("\u2588")) {
        return okHeaders(h);
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

function connFacts(c: any, hook: string): ConnFacts {
    const known = connections.find(c);
    if (known !== undefined) {
        return known;
    }
    const f = { conn: connOfSocket(c.socket(), hook), protocol: String(c.protocol().toString()) };
    connections.add(c, f);
    return f;
}

let bufferClass: any = null;

function requestBody(req: any): ArrayBuffer | null {
    const body = req.body();
    if (body === null) {
        return null;
    }
    for (const probe of ["isDuplex", "isOneShot"]) {
        // A duplex or one-shot body can be written once only: never consume the app's.
        if (body[probe] !== undefined && body[probe]()) {
            return null;
        }
    }
    const buf = bufferClass.$new();
    body.writeTo(buf);
    return javaBytes(buf.readByteArray());
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
        args: ["okhttp3.Interceptor$Chain"], library: LIB,
        prepare(factory) {
            // Loaded here, outside any app call: a hook body touching a class that is not
            // loaded yet fired once only on HotSpot (packages.md).
            bufferClass = factory.use("okio.Buffer");
            bufferClass.$new().close();
        },
        before(call) {
            const chain = call.args[0];
            const req = chain.request();
            const id = newCall("okhttp3");
            // An enqueued call runs here on the dispatcher's thread: its app frames are the
            // ones seen at enqueue(). Asked only while such a call is pending.
            let who: Attribution | null = null;
            if (enqueued.size > 0) {
                const rc = chain.call();
                who = enqueued.get(rc) ?? null;
                if (who !== null) {
                    enqueued.delete(rc);
                }
            }
            const c = chain.connection();
            const f = c !== null ? connFacts(c, call.hook.name) : null;
            const url = String(req.url().toString());
            call.state.id = id;
            call.state.url = url;
            call.state.conn = f?.conn ?? null;
            call.state.protocol = f?.protocol ?? null;
            call.state.who = emitHttp(call.hook.name, LIB, {
                stack: "okhttp3", phase: "request", call: id, url,
                method: String(req.method()), headers: headerLines(req.headers()),
                protocol: f?.protocol ?? null,
            }, requestBody(req), f?.conn ?? null, who);
        },
        after(call, resp) {
            // The same call on the same thread: the request's URL, connection and frames.
            emitHttp(call.hook.name, LIB, {
                stack: "okhttp3", phase: "response", call: call.state.id as string,
                url: call.state.url as string, status: resp.code(),
                protocol: (call.state.protocol as string | null)
                    ?? String(resp.protocol().toString()),
                headers: headerLines(resp.headers()),
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
void Java;
