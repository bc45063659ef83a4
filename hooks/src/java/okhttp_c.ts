// OkHttp 3/4's request and response read in C: the dozen JNI calls of one request (chain,
// URL, method, headers, body written into an okio.Buffer; code, protocol and headers of the
// response) cost ~15 µs each from JS (argument packing, the exception check, the string
// copy) and ~0.3 µs from C. One call from JS per phase; the results come back in one buffer.
// Used on HotSpot and ART alike (plain JNI); okhttp.ts keeps its JS path for when the
// CModule cannot be built.

import { reportError } from "./errors.js";
import { JMethod } from "./jni.js";

/** Method ids, in the order the C code reads them (ids[i]). */
export const OK_IDS = [
    "chainRequest", "chainConnection", "url", "toString", "method", "requestHeaders", "body",
    "isDuplex", "isOneShot", "newBuffer", "writeTo", "readByteArray",
    "code", "responseHeaders", "responseProtocol",
] as const;

const SOURCE = `
#include <glib.h>

typedef union { guint8 z; gint32 i; gint64 j; gpointer l; } JValue;
typedef gpointer (* CallObject) (gpointer env, gpointer obj, gpointer id, const JValue * args);
typedef guint8 (* CallBoolean) (gpointer env, gpointer obj, gpointer id, const JValue * args);
typedef gint32 (* CallInt) (gpointer env, gpointer obj, gpointer id, const JValue * args);
typedef void (* CallVoid) (gpointer env, gpointer obj, gpointer id, const JValue * args);
typedef gpointer (* NewObject) (gpointer env, gpointer cls, gpointer id, const JValue * args);
typedef guint8 (* Check) (gpointer env);
typedef gpointer (* Occurred) (gpointer env);
typedef void (* Clear) (gpointer env);
typedef void (* DeleteLocal) (gpointer env, gpointer obj);
typedef gint32 (* Length) (gpointer env, gpointer obj);
typedef void (* StringRegion) (gpointer env, gpointer s, gint32 start, gint32 n, gpointer buf);
typedef void (* BytesRegion) (gpointer env, gpointer a, gint32 start, gint32 n, gpointer buf);

enum { CHAIN_REQUEST, CHAIN_CONNECTION, URL, TO_STRING, METHOD, REQUEST_HEADERS, BODY,
  IS_DUPLEX, IS_ONE_SHOT, NEW_BUFFER, WRITE_TO, READ_BYTE_ARRAY, CODE, RESPONSE_HEADERS,
  RESPONSE_PROTOCOL };

/* The result buffer: Out, then the strings and bytes, each as a gint32 count (UTF-16 units
   or bytes; -1 for null; -2: did not fit, see the refs) and its data, 4-byte aligned. */
typedef struct {
  gint32 failed;      /* 0, or the step that threw (its exception cleared, in throwable) */
  gint32 used;        /* bytes of the buffer used */
  gint32 code;        /* response code */
  gint32 pad;
  gpointer connection;    /* local refs, for the JS side's rare paths */
  gpointer headers;
  gpointer body;          /* the body's byte[] when it did not fit */
  gpointer throwable;     /* the body's writeTo exception */
} Out;

typedef struct {
  gpointer env;
  gpointer * fns;
  guint8 * buf;
  gint32 cap;
  gint32 used;
} Ctx;

#define F(ctx, i) ((ctx)->fns[i])

static gboolean threw (Ctx * c)
{
  return ((Check) F (c, 228)) (c->env);
}

static gpointer call_object (Ctx * c, gpointer obj, gpointer id, const JValue * args)
{
  if (obj == NULL || id == NULL)
    return NULL;
  return ((CallObject) F (c, 36)) (c->env, obj, id, args);
}

static void drop (Ctx * c, gpointer ref)
{
  if (ref != NULL)
    ((DeleteLocal) F (c, 23)) (c->env, ref);
}

static gint32 * slot (Ctx * c, gint32 n)
{
  gint32 need = 4 + ((n + 3) & ~3);
  if (c->used + need > c->cap)
    return NULL;
  gint32 * p = (gint32 *) (c->buf + c->used);
  c->used += need;
  return p;
}

/* A java.lang.String as UTF-16 (-1 for null, -2 when it does not fit). */
static void put_string (Ctx * c, gpointer s)
{
  gint32 n = (s == NULL) ? -1 : ((Length) F (c, 164)) (c->env, s);
  gint32 * p = slot (c, (n > 0) ? 2 * n : 0);
  if (p == NULL)
  {
    p = slot (c, 0);
    if (p != NULL)
      *p = -2;
    return;
  }
  *p = n;
  if (n > 0)
    ((StringRegion) F (c, 220)) (c->env, s, 0, n, p + 1);
}

/* String.valueOf(obj). */
static void put_text (Ctx * c, gpointer obj, gpointer * ids)
{
  gpointer s = call_object (c, obj, ids[TO_STRING], NULL);
  put_string (c, s);
  drop (c, s);
}

int
ok_request (gpointer env, gpointer chain, gpointer * ids, gpointer buffer_class, Out * out, gint32 cap)
{
  Ctx c = { env, *(gpointer **) env, (guint8 *) (out + 1), cap - (gint32) sizeof (Out), 0 };
  out->failed = 0;
  gpointer req = call_object (&c, chain, ids[CHAIN_REQUEST], NULL);
  if (threw (&c) || req == NULL)
    return out->failed = 1;
  out->connection = call_object (&c, chain, ids[CHAIN_CONNECTION], NULL);
  if (threw (&c))
    return out->failed = 2;
  gpointer url = call_object (&c, req, ids[URL], NULL);
  if (threw (&c))
    return out->failed = 3;
  put_text (&c, url, ids);
  drop (&c, url);
  gpointer method = call_object (&c, req, ids[METHOD], NULL);
  if (threw (&c))
    return out->failed = 4;
  put_string (&c, method);
  drop (&c, method);
  out->headers = call_object (&c, req, ids[REQUEST_HEADERS], NULL);
  if (threw (&c))
    return out->failed = 5;
  put_text (&c, out->headers, ids);
  if (threw (&c))
    return out->failed = 5;
  gpointer body = call_object (&c, req, ids[BODY], NULL);
  if (threw (&c))
    return out->failed = 6;
  gint32 at = c.used;
  gint32 * bytes = slot (&c, 0);
  if (bytes == NULL)
    return out->failed = 7;
  *bytes = -1;
  out->body = NULL;
  out->throwable = NULL;
  if (body != NULL)
  {
    for (int i = IS_DUPLEX; i <= IS_ONE_SHOT; i++)
    {
      if (ids[i] != NULL && ((CallBoolean) F (&c, 39)) (env, body, ids[i], NULL))
        goto done;
      if (threw (&c))
        return out->failed = 8;
    }
    gpointer sink = ((NewObject) F (&c, 30)) (env, buffer_class, ids[NEW_BUFFER], NULL);
    if (threw (&c) || sink == NULL)
      return out->failed = 9;
    JValue arg;
    arg.l = sink;
    ((CallVoid) F (&c, 63)) (env, body, ids[WRITE_TO], &arg);
    if (threw (&c))
    {
      /* The app's own write of the body goes on: clear, and hand the throwable to JS. */
      out->throwable = ((Occurred) F (&c, 15)) (env);
      ((Clear) F (&c, 17)) (env);
      goto done;
    }
    gpointer array = call_object (&c, sink, ids[READ_BYTE_ARRAY], NULL);
    if (threw (&c))
      return out->failed = 10;
    gint32 n = (array == NULL) ? 0 : ((Length) F (&c, 171)) (env, array);
    c.used = at;
    bytes = slot (&c, n);
    if (bytes == NULL)
    {
      c.used = at;
      bytes = slot (&c, 0);
      *bytes = -2;
      out->body = array;
    }
    else
    {
      *bytes = n;
      if (n > 0)
        ((BytesRegion) F (&c, 200)) (env, array, 0, n, bytes + 1);
      drop (&c, array);
    }
  }
done:
  out->used = c.used;
  return 0;
}

int
ok_response (gpointer env, gpointer resp, gpointer * ids, gint32 want_protocol, Out * out, gint32 cap)
{
  Ctx c = { env, *(gpointer **) env, (guint8 *) (out + 1), cap - (gint32) sizeof (Out), 0 };
  out->failed = 0;
  out->code = ((CallInt) F (&c, 51)) (env, resp, ids[CODE], NULL);
  if (threw (&c))
    return out->failed = 1;
  out->headers = call_object (&c, resp, ids[RESPONSE_HEADERS], NULL);
  if (threw (&c))
    return out->failed = 2;
  put_text (&c, out->headers, ids);
  if (threw (&c))
    return out->failed = 2;
  if (want_protocol)
  {
    gpointer protocol = call_object (&c, resp, ids[RESPONSE_PROTOCOL], NULL);
    if (threw (&c))
      return out->failed = 3;
    put_text (&c, protocol, ids);
    drop (&c, protocol);
    if (threw (&c))
      return out->failed = 3;
  }
  out->used = c.used;
  return 0;
}
`;

/** Out's size and member offsets (LP64). */
const OUT = { failed: 0, used: 4, code: 8, connection: 16, headers: 24, body: 32, throwable: 40, size: 48 };
const CAP = 256 * 1024;

/** One read's results: strings (null for Java null; undefined: too long for the buffer, the
 *  caller asks again through JS) and the body. */
export interface OkRead {
    failed: number;
    code: number;
    connection: NativePointer;
    headersRef: NativePointer;
    bodyRef: NativePointer;
    throwable: NativePointer;
    strings: (string | null | undefined)[];
    /** The request body: bytes, null (no body), or undefined (too long: see bodyRef). */
    body: ArrayBuffer | null | undefined;
}

export class OkReader {
    private readonly cm: CModule;
    private readonly request: NativeFunction<number, any[]>;
    private readonly response: NativeFunction<number, any[]>;
    private readonly ids: NativePointer;
    /** Result buffers: a call releases the JS lock, so each call takes its own. */
    private readonly pool: NativePointer[] = [];

    /** `methods` resolved, in OK_IDS order (an optional one may be unresolved); the Buffer
     *  class as a global reference. */
    constructor(methods: (JMethod | null)[], private readonly bufferClass: NativePointer) {
        this.cm = new CModule(SOURCE);
        this.ids = Memory.alloc(OK_IDS.length * Process.pointerSize);
        methods.forEach((m, i) => this.ids.add(i * Process.pointerSize).writePointer(m?.methodId ?? NULL));
        // Runs app code (writeTo, toString): release the JS lock meanwhile.
        this.request = new NativeFunction(this.cm.ok_request, "int",
            ["pointer", "pointer", "pointer", "pointer", "pointer", "int"], { exceptions: "propagate" });
        this.response = new NativeFunction(this.cm.ok_response, "int",
            ["pointer", "pointer", "pointer", "int", "pointer", "int"], { exceptions: "propagate" });
    }

    readRequest(env: NativePointer, chain: NativePointer): OkRead {
        const out = this.pool.pop() ?? Memory.alloc(CAP);
        try {
            this.request(env, chain, this.ids, this.bufferClass, out, CAP);
            return parse(out, 3, true);
        } finally {
            this.give(out);
        }
    }

    readResponse(env: NativePointer, resp: NativePointer, wantProtocol: boolean): OkRead {
        const out = this.pool.pop() ?? Memory.alloc(CAP);
        try {
            this.response(env, resp, this.ids, wantProtocol ? 1 : 0, out, CAP);
            return parse(out, wantProtocol ? 2 : 1, false);
        } finally {
            this.give(out);
        }
    }

    private give(out: NativePointer): void {
        if (this.pool.length < 4) {
            this.pool.push(out);
        }
    }
}

function parse(out: NativePointer, strings: number, withBody: boolean): OkRead {
    const r: OkRead = {
        failed: out.add(OUT.failed).readS32(), code: out.add(OUT.code).readS32(),
        connection: out.add(OUT.connection).readPointer(), headersRef: out.add(OUT.headers).readPointer(),
        bodyRef: withBody ? out.add(OUT.body).readPointer() : NULL,
        throwable: withBody ? out.add(OUT.throwable).readPointer() : NULL,
        strings: [], body: null,
    };
    if (r.failed !== 0) {
        return r;
    }
    let p = out.add(OUT.size);
    const next = (bytes: boolean): string | ArrayBuffer | null | undefined => {
        const n = p.readS32();
        const data = p.add(4);
        const size = n > 0 ? (bytes ? n : 2 * n) : 0;
        p = p.add(4 + ((size + 3) & ~3));
        if (n === -1) {
            return null;
        }
        if (n === -2) {
            return undefined;
        }
        return bytes ? data.readByteArray(n) as ArrayBuffer : (n === 0 ? "" : data.readUtf16String(n));
    };
    for (let i = 0; i < strings; i++) {
        r.strings.push(next(false) as string | null | undefined);
    }
    if (withBody) {
        r.body = next(true) as ArrayBuffer | null | undefined;
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
