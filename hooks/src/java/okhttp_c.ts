// OkHttp 3/4's request and response read in C: the dozen JNI calls of one request (chain,
// URL, method, headers, body written into an okio.Buffer; code, protocol and headers of the
// response) cost ~15 µs each from JS (argument packing, the exception check, the string
// copy) and ~0.3 µs from C. The facts come back as JSON text (JSON.parse is native code in
// Frida's JS engine; reading a buffer field by field from JS is not cheap either) and the
// body's bytes, in one buffer.
// - On HotSpot the interceptor is entered in C (okhttp_entry_c.ts): request, original,
//   response, then, with the native ring there and the call's path and connection known,
//   one ring record and no JS at all; else one JS callback with both.
// - Elsewhere (ART, or no C entry) the JS hook calls ok_request and ok_response; okhttp.ts
//   keeps a JNI path for when this CModule cannot be built.

import { nativeRingStream } from "../native/index.js";
import { CEntrySpec } from "./centries.js";
import { reportError } from "./errors.js";
import { currentKeyFn, pathSlots, PATH_SLOTS } from "./frames.js";
import { callCounter } from "./http.js";
import { JMethod, withEnv } from "./jni.js";
import { RecentObjects } from "./objects.js";
import { CAP, entrySource } from "./okhttp_entry_c.js";
import { OK_IDS, OK_READ_C } from "./okhttp_read_c.js";

export { OK_IDS };
export { CONN_SLOTS } from "./okhttp_entry_c.js";

/** Out's member offsets and size (LP64). */
const OUT = { failed: 0, step: 4, json: 8, body: 12, connection: 16, bodyRef: 24, throwable: 32, size: 40 };
/** Out.failed */
const THREW = 1;
const TOO_LONG = 2;

export interface OkRequest {
    url: string;
    method: string | null;
    headers: [string, string][];
}

export interface OkResponse {
    code: number;
    headers: [string, string][];
    protocol?: string;
}

/** One read: the facts (null: too long for the buffer, the caller reads them through JNI),
 *  and for a request its connection and body. */
export interface OkRead<T> {
    facts: T | null;
    connection: NativePointer;
    /** The request body: bytes, null (no body, or one not to be consumed, or writeTo threw). */
    body: ArrayBuffer | null;
    /** The request body's byte[] when it did not fit (read it from there), else NULL. */
    bodyRef: NativePointer;
    /** What the body's writeTo threw (cleared: the app's own write goes on), else NULL. */
    throwable: NativePointer;
}

/** What the C entry hands JS, as it came (okCall() reads it). */
export interface OkRaw {
    chain: NativePointer;
    /** The response (NULL when the original threw). */
    resp: NativePointer;
    text: NativePointer;
    textLen: number;
    body: NativePointer;
    bodyLen: number;
    connection: NativePointer;
    known: number;
    knownRef: NativePointer;
    bodyRef: NativePointer;
    throwable: NativePointer;
    /** When the call began (ms since the epoch). */
    t: number;
    /** The call path's key (frames.ts), null where C had none. */
    key: string | null;
}

/** One call as the C entry read it. */
export interface OkCall<C> {
    chain: NativePointer;
    /** The response (NULL when the original threw). */
    resp: NativePointer;
    request: OkRead<OkRequest>;
    /** What the caller remembered for the request's connection (`connections`), if any. */
    connection: C | undefined;
    /** null when the original threw. */
    response: OkRead<OkResponse> | null;
    t: number;
    /** The call path's key, null where C had none. */
    key: string | null;
}

/** Reads what the C entry handed over; throws when a JNI call of C's threw. */
export function okCall<C>(raw: OkRaw, connections: RecentObjects<C>): OkCall<C> {
    const o = JSON.parse(raw.text.readUtf8String(raw.textLen) as string) as Combined;
    if (o.qf === THREW) {
        throw threwIn("request", o.qs);
    }
    if (o.rf === THREW) {
        throw threwIn("response", o.rs);
    }
    return {
        chain: raw.chain, resp: raw.resp, t: raw.t, key: raw.key,
        connection: connections.value(raw.known, raw.knownRef),
        request: {
            facts: o.q, connection: raw.connection, bodyRef: raw.bodyRef, throwable: raw.throwable,
            body: raw.bodyLen >= 0 ? raw.body.readByteArray(raw.bodyLen) : null,
        },
        response: raw.resp.isNull() ? null
            : { facts: o.r, connection: NULL, body: null, bodyRef: NULL, throwable: NULL },
    };
}

function threwIn(what: string, step: number): Error {
    return new Error(`okhttp3 ${what} not read in C: step ${step} threw`);
}

export class OkReader {
    private readonly cm: CModule;
    private readonly request: NativeFunction<number, any[]>;
    private readonly response: NativeFunction<number, any[]>;
    private readonly ids: NativePointer;
    private readonly classSlot: NativePointer;
    /** Result buffers: a call releases the JS lock, so each call takes its own. */
    private readonly pool: NativePointer[] = [];
    private readonly keep: unknown[] = [];

    /** `methods` resolved, in OK_IDS order (an optional one may be unresolved); the Buffer
     *  class as a global reference. */
    constructor(methods: (JMethod | null)[], private readonly bufferClass: NativePointer) {
        this.cm = new CModule(OK_READ_C);
        this.ids = Memory.alloc(OK_IDS.length * Process.pointerSize);
        methods.forEach((m, i) => this.ids.add(i * Process.pointerSize).writePointer(m?.methodId ?? NULL));
        this.classSlot = Memory.alloc(Process.pointerSize);
        this.classSlot.writePointer(bufferClass);
        // Runs app code (writeTo, toString): release the JS lock meanwhile.
        this.request = new NativeFunction(this.cm.ok_request, "int",
            ["pointer", "pointer", "pointer", "pointer", "pointer", "int"], { exceptions: "propagate" });
        this.response = new NativeFunction(this.cm.ok_response, "int",
            ["pointer", "pointer", "pointer", "int", "pointer", "int"], { exceptions: "propagate" });
    }

    readRequest(env: NativePointer, chain: NativePointer): OkRead<OkRequest> {
        return this.read((out) => this.request(env, chain, this.ids, this.bufferClass, out, CAP), "request");
    }

    readResponse(env: NativePointer, resp: NativePointer, wantProtocol: boolean): OkRead<OkResponse> {
        return this.read((out) => this.response(env, resp, this.ids, wantProtocol ? 1 : 0, out, CAP), "response");
    }

    /** The C entry of intercept(Chain) (see okhttp_entry_c.ts); `record` gets what it read
     *  (see okCall()) with `env` as the thread's JNIEnv, and must not throw. `connections`
     *  holds the connections it has seen (JS fills it, with the connection's number for the
     *  ring); `cells.hookIndex` holds the hook's report index, `cells.jsOnly` non-zero
     *  while every call must go through JS. */
    entry<C>(spec: CEntrySpec, connections: RecentObjects<C>, cells: { hookIndex: NativePointer; jsOnly: NativePointer },
        record: (raw: OkRaw) => void): NativePointer {
        const cb = new NativeCallback(((env: NativePointer, chain: NativePointer, resp: NativePointer,
            text: NativePointer, textLen: number, body: NativePointer, bodyLen: number, connection: NativePointer,
            known: number, knownRef: NativePointer, bodyRef: NativePointer, throwable: NativePointer, t: Int64,
            key: UInt64) => {
            withEnv(env, () => record({
                chain, resp, text, textLen, body, bodyLen, connection, known, knownRef, bodyRef, throwable,
                t: t.toNumber(), key: key.equals(0) ? null : key.toString(),
            }));
        }) as any, "void", ["pointer", "pointer", "pointer", "pointer", "int", "pointer", "int", "pointer", "int",
            "pointer", "pointer", "pointer", "int64", "uint64"]);
        const symbols: { [name: string]: NativePointer } = {
            target: spec.target, forward: spec.forward, buffer_class: this.classSlot, ids: this.ids,
            connections: connections.slots, numbers: connections.numbers, js_only: cells.jsOnly,
            ok_request: this.cm.ok_request, ok_response: this.cm.ok_response, ok_format_int: this.cm.ok_format_int,
            record: cb, libc_malloc: Module.getGlobalExportByName("malloc"),
            libc_free: Module.getGlobalExportByName("free"), libc_memcpy: Module.getGlobalExportByName("memcpy"),
            clock_gettime: Module.getGlobalExportByName("clock_gettime"),
        };
        const key = currentKeyFn();
        if (key !== null) {
            symbols.current_key = key;
            symbols.paths = pathSlots;
        }
        const ring = nativeRingStream();
        if (ring !== null) {
            const cell = Memory.alloc(Process.pointerSize);
            cell.writePointer(ring.ring);
            this.keep.push(cell);
            symbols.ring = cell;
            symbols.ring_stream = ring.write;
            symbols.hook_index = cells.hookIndex;
            symbols.call_counter = callCounter;
        }
        const cm = new CModule(entrySource({
            maxRecord: ring?.maxRecord ?? null, keys: key !== null, pathSlots: PATH_SLOTS,
        }), symbols);
        this.keep.push(cb, cm, cells);
        return cm.entry;
    }

    private read<T>(run: (out: NativePointer) => void, what: string): OkRead<T> {
        const out = this.pool.pop() ?? Memory.alloc(CAP);
        try {
            run(out);
            return parseOut<T>(out, what);
        } finally {
            if (this.pool.length < 4) {
                this.pool.push(out);
            }
        }
    }
}

/** The C entry's JSON text. */
interface Combined {
    q: OkRequest | null;
    qf: number;
    qs: number;
    r: OkResponse | null;
    rf: number;
    rs: number;
}

/** One C read's results (Out, then the JSON text, then the body). */
function parseOut<T>(out: NativePointer, what: string): OkRead<T> {
    const failed = out.readS32();
    if (failed === THREW) {
        throw threwIn(what, out.add(OUT.step).readS32());
    }
    const r: OkRead<T> = {
        facts: null, connection: out.add(OUT.connection).readPointer(), body: null,
        bodyRef: out.add(OUT.bodyRef).readPointer(), throwable: out.add(OUT.throwable).readPointer(),
    };
    if (failed === TOO_LONG) {
        return r;
    }
    const json = out.add(OUT.json).readS32();
    const text = out.add(OUT.size);
    r.facts = JSON.parse(text.readUtf8String(json) as string) as T;
    const body = out.add(OUT.body).readS32();
    if (body >= 0) {
        r.body = text.add(json).readByteArray(body);
    }
    return r;
}

/** The reader, or null where its CModule cannot be built (reported once). */
export function makeOkReader(methods: (JMethod | null)[], bufferClass: NativePointer): OkReader | null {
    try {
        return new OkReader(methods, bufferClass);
    } catch (e) {
        reportError("java.okhttp3.reader", e);
        return null;
    }
}
