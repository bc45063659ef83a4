// OkHttp 3/4's request and response read in C: the dozen JNI calls of one request (chain,
// URL, method, headers, body written into an okio.Buffer; code, protocol and headers of the
// response) cost ~15 µs each from JS (argument packing, the exception check, the string
// copy) and ~0.3 µs from C. The facts come back as JSON text (JSON.parse is native code in
// Frida's JS engine; reading a buffer field by field from JS is not cheap either) and the
// body's bytes, in one buffer.
// - On HotSpot the interceptor is entered in C (ENTRY_SOURCE): request, original, response,
//   then one JS callback with both, so a request costs one JS entry instead of a JS entry,
//   two hook bodies and the original's call from JS.
// - Elsewhere (ART, or no C entry) the JS hook calls ok_request and ok_response; okhttp.ts
//   keeps a JNI path for when this CModule cannot be built.

import { CEntrySpec } from "./centries.js";
import { reportError } from "./errors.js";
import { JMethod, withEnv } from "./jni.js";
import { OK_IDS, OK_READ_C } from "./okhttp_read_c.js";
import { timed } from "./table.js";

export { OK_IDS };

/** Out's member offsets and size (LP64). */
const OUT = { failed: 0, step: 4, json: 8, body: 12, connection: 16, bodyRef: 24, throwable: 32, size: 40 };
/** Bytes per result buffer (under glibc's mmap threshold: malloc stays cheap); a longer
 *  body is read through its byte[] reference. */
const CAP = 64 * 1024;
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

/** The C entry of CallServerInterceptor.intercept(Chain): reads the request, calls the
 *  original, reads the response, then calls JS once with both (a Java exception of the
 *  original is taken aside meanwhile and thrown again after: the app gets it unchanged, and
 *  the request is still recorded). Without memory for its buffers it forwards to the bridge's
 *  entry (the JS hook). */
const ENTRY_SOURCE = `
#include <glib.h>

typedef union { guint8 z; gint32 i; gint64 j; gpointer l; } JValue;
typedef gpointer (* CallObject) (gpointer env, gpointer obj, gpointer id, const JValue * args);
typedef guint8 (* Check) (gpointer env);
typedef gpointer (* Occurred) (gpointer env);
typedef void (* Clear) (gpointer env);
typedef gint32 (* Throw) (gpointer env, gpointer throwable);

extern gpointer target;
extern gpointer buffer_class;
extern gpointer ids[];
extern gpointer forward (gpointer env, gpointer self, gpointer chain);
extern int ok_request (gpointer env, gpointer chain, gpointer * ids, gpointer buffer_class, gpointer out,
    gint32 cap);
extern int ok_response (gpointer env, gpointer resp, gpointer * ids, gint32 want_protocol, gpointer out,
    gint32 cap);
extern void record (gpointer env, gpointer self, gpointer chain, gpointer request, gpointer resp,
    gpointer response, gint64 t);
extern gpointer libc_malloc (gsize n);
extern void libc_free (gpointer p);
extern int clock_gettime (int clk, gpointer ts);

gpointer
entry (gpointer env, gpointer self, gpointer chain)
{
  gpointer id = target;
  gpointer * fns = *(gpointer **) env;
  if (id == NULL)
    return forward (env, self, chain);
  gpointer request = libc_malloc (${CAP});
  gpointer response = libc_malloc (${CAP});
  if (request == NULL || response == NULL)
  {
    libc_free (request);
    libc_free (response);
    return forward (env, self, chain);
  }
  struct { gint64 s; gint64 ns; } ts;
  clock_gettime (0, &ts);
  ok_request (env, chain, ids, buffer_class, request, ${CAP});
  JValue arg;
  arg.l = chain;
  gpointer r = ((CallObject) fns[36]) (env, self, id, &arg);
  gpointer exc = ((Occurred) fns[15]) (env);
  if (exc != NULL)
    ((Clear) fns[17]) (env);
  gboolean got = exc == NULL && r != NULL;
  if (got)
    ok_response (env, r, ids, 1, response, ${CAP});
  record (env, self, chain, request, got ? r : NULL, got ? response : NULL, ts.s * 1000 + ts.ns / 1000000);
  if (((Check) fns[228]) (env))
    ((Clear) fns[17]) (env);
  libc_free (request);
  libc_free (response);
  if (exc != NULL)
    ((Throw) fns[13]) (env, exc);
  return r;
}
`;

/** What the C entry hands JS: the call's references, the request (always) and the response
 *  (null when the original threw), and when the call began (ms since the epoch). */
export type OkRecord = (self: NativePointer, chain: NativePointer, request: OkRead<OkRequest>,
    resp: NativePointer, response: OkRead<OkResponse> | null, t: number) => void;

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

    /** The C entry of intercept(Chain) (see ENTRY_SOURCE), for the hook `name`; `record`
     *  runs with `env` as the thread's JNIEnv and must not throw. */
    entry(spec: CEntrySpec, name: string, record: OkRecord): NativePointer {
        const cb = new NativeCallback(((env: NativePointer, self: NativePointer, chain: NativePointer,
            request: NativePointer, respRef: NativePointer, response: NativePointer, t: Int64) => {
            timed(`${name} callback`, () => withEnv(env, () => {
                let req: OkRead<OkRequest>;
                let resp: OkRead<OkResponse> | null = null;
                const resp_ = respRef;
                try {
                    req = parseOut<OkRequest>(request, "request");
                    resp = response.isNull() ? null : parseOut<OkResponse>(response, "response");
                } catch (e) {
                    reportError(name, e);
                    return;
                }
                record(self, chain, req, resp_, resp, t.toNumber());
            }));
        }) as any, "void", ["pointer", "pointer", "pointer", "pointer", "pointer", "pointer", "int64"]);
        const cm = new CModule(ENTRY_SOURCE, {
            target: spec.target, forward: spec.forward, buffer_class: this.classSlot, ids: this.ids,
            ok_request: this.cm.ok_request, ok_response: this.cm.ok_response, record: cb,
            libc_malloc: Module.getGlobalExportByName("malloc"), libc_free: Module.getGlobalExportByName("free"),
            clock_gettime: Module.getGlobalExportByName("clock_gettime"),
        });
        this.keep.push(cb, cm);
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

/** One C read's results (Out, then the JSON text, then the body). */
function parseOut<T>(out: NativePointer, what: string): OkRead<T> {
    const failed = out.readS32();
    if (failed === THREW) {
        throw new Error(`okhttp3 ${what} not read in C: step ${out.add(OUT.step).readS32()} threw`);
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
