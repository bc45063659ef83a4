// The C entry of OkHttp's CallServerInterceptor.intercept(Chain) (okhttp_c.ts builds it).

import { HTTP_CALL_HEADER_SIZE, NativeKind } from "../protocol.js";
import { JNI_C } from "./jni.js";

/** Bytes per result buffer (under glibc's mmap threshold: malloc stays cheap); a longer
 *  body is read through its byte[] reference. */
export const CAP = 64 * 1024;
/** Connections the C entry recognises (okhttp.ts keeps their facts). */
export const CONN_SLOTS = 16;

/** What the entry is built with: `ring`, the native ring's record size cap, where the
 *  native hooks run (else null); `keys`, whether JVMTI gives call path keys (frames.ts);
 *  `pathSlots`, the size of frames.ts's table of announced paths. */
export interface EntryOptions {
    maxRecord: number | null;
    keys: boolean;
    pathSlots: number;
}

/** Reads the request, calls the original, reads the response. Then, in the common case,
 *  writes the whole call into the native ring as one HTTP_CALL record and returns without
 *  entering JS: when the native ring is there, no enqueued call is pending (`js_only`, whose
 *  attribution JS holds), both reads succeeded with everything in the buffers, the
 *  connection is one JS has seen (its number in `numbers`), and the thread's call path key
 *  is one JS has announced (`paths`, frames.ts). Otherwise it calls JS once with both reads,
 *  as one JSON text ({"q": request or null, "qf": its Out.failed, "qs": its step, "r":
 *  response or null, "rf", "rs"}), the body, the connection's slot among `connections`
 *  (JNI IsSameObject against global references, so JS makes no JNI call for it) and the
 *  path key. A Java exception of the original is taken aside meanwhile and thrown again
 *  after: the app gets it unchanged, and the request is still recorded. Without memory for
 *  its buffers it forwards to the bridge's entry (the JS hook). */
export function entrySource(o: EntryOptions): string {
    const ring = o.maxRecord !== null;
    return `
#include <glib.h>

${JNI_C}
#define HAVE_RING ${ring ? 1 : 0}
#define HAVE_KEYS ${o.keys ? 1 : 0}
#define HDR ${HTTP_CALL_HEADER_SIZE}
#define TEXT_CAP (2 * ${CAP} + 128)
#define MAX_RECORD ${o.maxRecord ?? 0}
#define PATH_MASK ${o.pathSlots - 1}

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

/* harness.protocol.HTTP_CALL_FORMAT */
typedef struct {
  guint64 key;
  guint64 call;
  gint64 t;
  guint32 json;
  gint32 body;
} CallHeader;

extern gpointer target;
extern gpointer buffer_class;
extern gpointer ids[];
extern gpointer connections[];
extern guint64 numbers[];
extern guint32 js_only;
extern gpointer forward (gpointer env, gpointer self, gpointer chain);
extern int ok_request (gpointer env, gpointer chain, gpointer * ids, gpointer buffer_class, Out * out,
    gint32 cap);
extern int ok_response (gpointer env, gpointer resp, gpointer * ids, gint32 want_protocol, Out * out,
    gint32 cap);
extern void record (gpointer env, gpointer chain, gpointer resp, gchar * text, gint32 text_len,
    gpointer body, gint32 body_len, gpointer connection, gint32 known, gpointer known_ref,
    gpointer body_ref, gpointer throwable, gint64 t, guint64 key);
extern gpointer libc_malloc (gsize n);
extern void libc_free (gpointer p);
extern gpointer libc_memcpy (gpointer dst, gconstpointer src, gsize n);
extern int clock_gettime (int clk, gpointer ts);
extern gint32 ok_format_int (gchar * text, gint32 v);
#if HAVE_KEYS
extern guint64 current_key (void);
extern guint64 paths[];
#endif
#if HAVE_RING
extern gpointer ring;
extern guint32 hook_index;
extern gssize call_counter;
extern void ring_stream (gpointer ring, guint32 kind, guint64 number, guint32 hook, const guint8 * buf,
    gsize n);
#endif

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

#if HAVE_RING
/* The call as one HTTP_CALL record, if it can be: TRUE when written. */
static gboolean to_ring (gchar * text, gint32 json_len, Out * request, gint32 known, gpointer known_ref,
    guint64 key, gint64 t)
{
  gint32 body = request->body;
  if (ring == NULL || known < 0 || request->body_ref != NULL || request->throwable != NULL || body < -1)
    return FALSE;
  gint32 total = HDR + json_len + MAX (body, 0);
  if (total > TEXT_CAP + HDR || total > MAX_RECORD)
    return FALSE;
  guint64 number = numbers[known];
  /* JS gives a slot to another connection by clearing it first, then the number, then the
     new reference (objects.ts): the reference still there means the number is its own
     (x86-64 keeps stores and loads in order). */
  if (connections[known] != known_ref)
    return FALSE;
  if (body > 0)
    libc_memcpy (text + HDR + json_len, ((gchar *) (request + 1)) + request->json, body);
  CallHeader * h = (CallHeader *) text;
  h->key = key;
  h->call = (guint64) g_atomic_pointer_add (&call_counter, 1);
  h->t = t;
  h->json = (guint32) json_len;
  h->body = body;
  ring_stream (ring, ${NativeKind.HTTP_CALL}, number, hook_index, (const guint8 *) text, total);
  return TRUE;
}
#endif

gpointer
entry (gpointer env, gpointer self, gpointer chain)
{
  gpointer id = target;
  gpointer * fns = *(gpointer **) env;
  if (id == NULL)
    return forward (env, self, chain);
  Out * request = (Out *) libc_malloc (${CAP});
  Out * response = (Out *) libc_malloc (${CAP});
  gchar * text = (gchar *) libc_malloc (HDR + TEXT_CAP);
  if (request == NULL || response == NULL || text == NULL)
  {
    libc_free (request);
    libc_free (response);
    libc_free (text);
    return forward (env, self, chain);
  }
  struct { gint64 s; gint64 ns; } ts;
  clock_gettime (0, &ts);
  gint64 t = ts.s * 1000 + ts.ns / 1000000;
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
  gchar * json = text + HDR;
  gint32 at = put (json, 0, "{", 1);
  at = put_read (json, at, "q", request, TRUE);
  at = put (json, at, ",", 1);
  at = put_read (json, at, "r", response, got);
  at = put (json, at, "}", 1);
  gint32 known = -1;
  gpointer known_ref = NULL;
  gpointer connection = (request->failed == 0) ? request->connection : NULL;
  for (gint32 i = 0; i != ${CONN_SLOTS} && connection != NULL; i++)
  {
    gpointer ref = connections[i];
    if (ref != NULL && ((IsSame) fns[JNI_IS_SAME_OBJECT]) (env, connection, ref))
    {
      known = i;
      known_ref = ref;
      break;
    }
  }
  guint64 key = 0;
#if HAVE_KEYS
  if (js_only == 0)
    key = current_key ();
#endif
  gboolean done = FALSE;
#if HAVE_RING && HAVE_KEYS
  if (key != 0 && got && request->failed == 0 && response->failed == 0 && paths[key & PATH_MASK] == key)
    done = to_ring (text, at, request, known, known_ref, key, t);
#endif
  if (!done)
  {
    gboolean with_body = request->failed == 0 && request->body >= 0;
    record (env, chain, got ? r : NULL, json, at,
        with_body ? ((gchar *) (request + 1)) + request->json : NULL, with_body ? request->body : -1,
        connection, known, known_ref,
        (request->failed == 0) ? request->body_ref : NULL, (request->failed == 0) ? request->throwable : NULL,
        t, key);
    if (((Check) fns[JNI_EXCEPTION_CHECK]) (env))
      ((Clear) fns[JNI_EXCEPTION_CLEAR]) (env);
  }
  libc_free (request);
  libc_free (response);
  libc_free (text);
  if (exc != NULL)
    ((Throw) fns[JNI_THROW]) (env, exc);
  return r;
}
`;
}
