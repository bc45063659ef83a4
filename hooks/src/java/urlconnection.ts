// java.net.HttpURLConnection on a desktop JVM (sun.net.www.protocol.http/https): the request
// line, headers and buffered body as sun.net.www.http.HttpClient writes them, streamed body
// bytes (fixed-length or chunked mode), and the parsed response status and headers.
// Android's HttpURLConnection is com.android.okhttp (okhttp.ts). writeRequests(head, poster,
// streaming) only calls writeRequests(head, poster): hooking it too would count twice.

import { javaBytes } from "./bytes.js";
import { connOfSocket, emitHttp, newCall } from "./http.js";
import { ObjectState } from "./objects.js";
import { HookCall, JavaHook } from "./table.js";

const G = "java.urlconnection";
const LIB = ["sun.net.", "java.net."];
const CLIENT = "sun.net.www.http.HttpClient";

/** HttpClient -> the call it is carrying, for body and response records. */
const calls = new ObjectState<{ id: string; url: string; conn: string | null }>();

/** MessageHeader's parallel keys/values arrays: [key|null, value|null] pairs. */
function messageHeader(mh: any): [string | null, string | null][] {
    const n: number = mh.nkeys.value;
    const keys = mh.keys.value;
    const values = mh.values.value;
    const out: [string | null, string | null][] = [];
    for (let i = 0; i < n; i++) {
        const k = keys[i];
        const v = values[i];
        out.push([k === null ? null : String(k), v === null ? null : String(v)]);
    }
    return out;
}

function writeRequests(call: HookCall): void {
    const client = call.self;
    const pairs = messageHeader(call.args[0]);
    const first = pairs.length > 0 ? pairs[0] : [null, null];
    // The request line is the first key with no value: "POST /path HTTP/1.1".
    const requestLine = first[1] === null && first[0] !== null ? first[0] : null;
    const headers = pairs.slice(requestLine !== null ? 1 : 0)
        .filter((p): p is [string, string] => p[0] !== null)
        .map(([k, v]) => [k, v ?? ""] as [string, string]);
    const url = String(client.url.value.toString());
    const id = newCall("urlconnection");
    const conn = connOfSocket(client.serverSocket.value, call.hook.name);
    calls.set(client, { id, url, conn });
    const poster = call.args.length > 1 ? call.args[1] : null;
    const body = poster !== null ? javaBytes(poster.toByteArray()) : null;
    emitHttp(call.hook.name, LIB, {
        stack: "urlconnection", phase: "request", call: id, url,
        method: requestLine !== null ? requestLine.split(" ")[0] : null, headers,
        protocol: requestLine !== null ? requestLine.split(" ").slice(-1)[0] : null,
    }, body, conn);
}

export const urlconnectionTable: JavaHook[] = [
    {
        group: G, name: `${G}.HttpClient.writeRequests`, cls: CLIENT, method: "writeRequests",
        args: ["sun.net.www.MessageHeader"], library: LIB,
        before: writeRequests,
    },
    {
        group: G, name: `${G}.HttpClient.writeRequests`, cls: CLIENT, method: "writeRequests",
        args: ["sun.net.www.MessageHeader", "sun.net.www.http.PosterOutputStream"], library: LIB,
        before: writeRequests,
    },
    {
        group: G, name: `${G}.StreamingOutputStream.write`,
        cls: "sun.net.www.protocol.http.HttpURLConnection$StreamingOutputStream", method: "write",
        args: ["[B", "int", "int"], library: LIB,
        after(call) {
            const [b, off, len] = call.args;
            const huc = call.self.this$0.value;
            const c = calls.get(huc.http.value);
            emitHttp(call.hook.name, LIB, {
                stack: "urlconnection", phase: "body", call: c?.id ?? newCall("urlconnection"),
                url: c?.url ?? String(huc.getURL().toString()),
            }, javaBytes(b, off, len), c?.conn ?? null);
        },
    },
    {
        group: G, name: `${G}.HttpClient.parseHTTP`, cls: CLIENT, method: "parseHTTP",
        library: LIB,
        after(call, ok: boolean) {
            if (!ok) {
                return;
            }
            const c = calls.get(call.self);
            const pairs = messageHeader(call.args[0]);
            const statusLine = pairs.length > 0 ? pairs[0][1] : null;
            const parts = statusLine !== null ? statusLine.split(" ") : [];
            emitHttp(call.hook.name, LIB, {
                stack: "urlconnection", phase: "response", call: c?.id ?? newCall("urlconnection"),
                url: c?.url ?? String(call.self.url.value.toString()),
                status: parts.length > 1 ? Number(parts[1]) : null,
                protocol: parts.length > 0 ? parts[0] : null,
                headers: pairs.slice(1).filter((p): p is [string, string] => p[0] !== null)
                    .map(([k, v]) => [k, v ?? ""] as [string, string]),
            }, null, c?.conn ?? null);
        },
    },
];
