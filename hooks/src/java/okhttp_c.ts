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
import { JMethod, JNI_C, withEnv } from "./jni.js";
import { RecentObjects } from "./objects.js";
import { OK_IDS, OK_READ_C } from "./okhttp_read_c.js";

export { OK_IDS };

/** Out's member offsets and size (LP64). */
const OUT = { failed: 0, step: 4, json: 8, body: 12, connection: 16, bodyRef: 24, throwable: 32, size: 40 };
/** Bytes per result buffer (under glibc's mmap threshold: malloc stays cheap); a longer
 *  body is read through its byte[] reference. */
const CAP = 64 * 1024;
/** Connections the C entry recognises (okhttp.ts keeps their facts). */
export const CONN_SLOTS = 16;
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
 *  original, reads the response, then calls JS once with both, as one JSON text
 *  ({"q": request or null, "qf": its Out.failed, "qs": its step, "r": response or null,
 *  "rf", "rs"}) and the body, and with the connection's slot among `connections` (JNI
 *  IsSameObject against global references, so JS makes no JNI call for it). A Java
 *  exception of the original is taken aside meanwhile and thrown again after: the app gets
 *  it unchanged, and the request is still recorded. Without memory for its buffers it
 *  forwards to the bridge's entry (the JS hook). */
const ENTRY_SOURCE = `
#include <glib.h>

${JNI_C}

typedef union { guint8 z; gint32 i; gint64 j; gpointer l; } JValue;
typedef gpointer (* CallObject) (gpointer env, gpointer obj, gpointer id, const JValue * args);
typedef guint8 (* Check) (gpointer env);
typedef gpointer (* Occurred) (gpointer env);
typedef void (* Clear) (gpointer env);
typedef gint32 (* Throw) (gpointer env, gpointer throwable);
typedef guint8 (* IsSame) (gpointer env, gpointer a, gpointer b);

/* Out (okhttp_read_c.ts) */
typedef struct {
  gint32 failed;
  gint32 step;
  gint32 json;
  gint32 body;
  gpointer connection;
  gpointer body_ref;
  gpointer throwable;
} Out;

extern gpointer target;
extern gpointer buffer_class;
extern gpointer ids[];
extern gpointer connections[];
extern gpointer forward (gpointer env, gpointer self, gpointer chain);
extern int ok_request (gpointer env, gpointer chain, gpointer * ids, gpointer buffer_class, Out * out,
    gint32 cap);
extern int ok_response (gpointer env, gpointer resp, gpointer * ids, gint32 want_protocol, Out * out,
    gint32 cap);
extern void record (gpointer env, gpointer chain, gpointer resp, gchar * text, gint32 text_len,
    gpointer body, gint32 body_len, gpointer connection, gint32 known, gpointer known_ref,
    gpointer body_ref, gpointer throwable, gint64 t);
extern gpointer libc_malloc (gsize n);
extern void libc_free (gpointer p);
extern gpointer libc_memcpy (gpointer dst, gconstpointer src, gsize n);
extern int clock_gettime (int clk, gpointer ts);
extern gint32 ok_format_int (gchar * text, gint32 v);

static gint32 put (gchar * text, gint32 at, const gchar * s, gint32 n)
{
  libc_memcpy (text + at, s, n);
  return at + n;
}

static gint32 put_int (gchar * text, gint32 at, gint32 v)
{
  return at + ok_format_int (text + at, v);
}

/* "name":{...} or "name":null, then "nf":failed,"ns":step */
static gint32 put_read (gchar * text, gint32 at, const gchar * name, Out * out, gboolean present)
{
  at = put (text, at, "\\"", 1);
  at = put (text, at, name, 1);
  at = put (text, at, "\\":", 2);
  if (present && out->failed == 0)
    at = put (text, at, (const gchar *) (out + 1), out->json);
  else
    at = put (text, at, "null", 4);
  at = put (text, at, ",\\"", 2);
  at = put (text, at, name, 1);
  at = put (text, at, "f\\":", 3);
  at = put_int (text, at, present ? out->failed : 0);
  at = put (text, at, ",\\"", 2);
  at = put (text, at, name, 1);
  at = put (text, at, "s\\":", 3);
  return put_int (text, at, present ? out->step : 0);
}

gpointer
entry (gpointer env, gpointer self, gpointer chain)
{
  gpointer id = target;
  gpointer * fns = *(gpointer **) env;
  if (id == NULL)
    return forward (env, self, chain);
  Out * request = (Out *) libc_malloc (${CAP});
  Out * response = (Out *) libc_malloc (${CAP});
  gchar * text = (gchar *) libc_malloc (2 * ${CAP} + 128);
  if (request == NULL || response == NULL || text == NULL)
  {
    libc_free (request);
    libc_free (response);
    libc_free (text);
    return forward (env, self, chain);
  }
  struct { gint64 s; gint64 ns; } ts;
  clock_gettime (0, &ts);
  ok_request (env, chain, ids, buffer_class, request, ${CAP});
  JValue arg;
  arg.l = chain;
  gpointer r = ((CallObject) fns[JNI_CALL_OBJECT_A]) (env, self, id, &arg);
  gpointer exc = ((Occurred) fns[JNI_EXCEPTION_OCCURRED]) (env);
  if (exc != NULL)
    ((Clear) fns[JNI_EXCEPTION_CLEAR]) (env);
  gboolean got = exc == NULL && r != NULL;
  if (got)
    ok_response (env, r, ids, 1, response, ${CAP});
  gint32 at = put (text, 0, "{", 1);
  at = put_read (text, at, "q", request, TRUE);
  at = put (text, at, ",", 1);
  at = put_read (text, at, "r", response, got);
  at = put (text, at, "}", 1);
  gint32 known = -1;
  gpointer connection = (request->failed == 0) ? request->connection : NULL;
  for (gint32 i = 0; i != ${CONN_SLOTS} && connection != NULL; i++)
  {
    gpointer ref = connections[i];
    if (ref != NULL && ((IsSame) fns[JNI_IS_SAME_OBJECT]) (env, connection, ref))
    {
      known = i;
      break;
    }
  }
  gboolean with_body = request->failed == 0 && request->body >= 0;
  record (env, chain, got ? r : NULL, text, at,
      with_body ? ((gchar *) (request + 1)) + request->json : NULL, with_body ? request->body : -1,
      connection, known, (known >= 0) ? connections[known] : NULL,
      (request->failed == 0) ? request->body_ref : NULL, (request->failed == 0) ? request->throwable : NULL,
      ts.s * 1000 + ts.ns / 1000000);
  if (((Check) fns[JNI_EXCEPTION_CHECK]) (env))
    ((Clear) fns[JNI_EXCEPTION_CLEAR]) (env);
  libc_free (request);
  libc_free (response);
  libc_free (text);
  if (exc != NULL)
    ((Throw) fns[JNI_THROW]) (env, exc);
  return r;
}
`;
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
        chain: raw.chain, resp: raw.resp, t: raw.t,
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

    /** The C entry of intercept(Chain) (see ENTRY_SOURCE); `record` gets what it read (see
     *  okCall()) with `env` as the thread's JNIEnv, and must not throw. `connections` holds
     *  the connections it has seen (JS fills it). */
    entry<C>(spec: CEntrySpec, connections: RecentObjects<C>, record: (raw: OkRaw) => void): NativePointer {
        const cb = new NativeCallback(((env: NativePointer, chain: NativePointer, resp: NativePointer,
            text: NativePointer, textLen: number, body: NativePointer, bodyLen: number, connection: NativePointer,
            known: number, knownRef: NativePointer, bodyRef: NativePointer, throwable: NativePointer, t: Int64) => {
            withEnv(env, () => record({
                chain, resp, text, textLen, body, bodyLen, connection, known, knownRef, bodyRef, throwable,
                t: t.toNumber(),
            }));
        }) as any, "void", ["pointer", "pointer", "pointer", "pointer", "int", "pointer", "int", "pointer", "int",
            "pointer", "pointer", "pointer", "int64"]);
        const cm = new CModule(ENTRY_SOURCE, {
            target: spec.target, forward: spec.forward, buffer_class: this.classSlot, ids: this.ids,
            connections: connections.slots, ok_request: this.cm.ok_request, ok_response: this.cm.ok_response,
            ok_format_int: this.cm.ok_format_int,
            record: cb, libc_malloc: Module.getGlobalExportByName("malloc"),
            libc_free: Module.getGlobalExportByName("free"), libc_memcpy: Module.getGlobalExportByName("memcpy"),
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
