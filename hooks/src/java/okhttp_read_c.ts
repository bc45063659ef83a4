// The C source of OkHttp's readers (okhttp_c.ts): the JNI calls that read one request or
// response, and the result buffer they fill.

import { JNI_C } from "./jni.js";

/** Method ids, in the order the C code reads them (ids[i]). */
export const OK_IDS = [
    "chainRequest", "chainConnection", "url", "toString", "method", "requestHeaders", "body",
    "isDuplex", "isOneShot", "newBuffer", "writeTo", "readByteArray",
    "code", "responseHeaders", "responseProtocol", "headersSize", "headerName", "headerValue",
    "connProtocol",
] as const;

/** The readers: ok_request(env, chain, ids, buffer_class, out, cap) and ok_response(env,
 *  resp, ids, want_protocol, out, cap), each filling `out` (an Out, then JSON text, then
 *  the body's bytes; okhttp_c.ts parses it). */
export const OK_READ_C = `
#include <glib.h>

${JNI_C}

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
  RESPONSE_PROTOCOL, HEADERS_SIZE, HEADER_NAME, HEADER_VALUE, CONN_PROTOCOL };

enum { OK, THREW, TOO_LONG };

/* The result buffer: Out, the JSON text (ASCII), then the body's bytes. */
typedef struct {
  gint32 failed;      /* OK; THREW (the step in step, exception cleared); TOO_LONG */
  gint32 step;
  gint32 json;        /* bytes of JSON text after Out */
  gint32 body;        /* bytes of body after the JSON; -1: no body; -2: see body_ref */
  gpointer connection;    /* local refs, for the JS side */
  gpointer body_ref;      /* the body's byte[] when it did not fit */
  gpointer throwable;     /* the body's writeTo exception (cleared) */
} Out;

typedef struct {
  gpointer env;
  gpointer * fns;
  gpointer * ids;
  gchar * buf;
  gint32 cap;
  gint32 used;
  gboolean full;
  guint16 units[2048];
} Ctx;

#define F(ctx, i) ((ctx)->fns[i])

static gboolean threw (Ctx * c)
{
  return ((Check) F (c, JNI_EXCEPTION_CHECK)) (c->env);
}

static gpointer call_object (Ctx * c, gpointer obj, int id, const JValue * args)
{
  if (obj == NULL || c->ids[id] == NULL)
    return NULL;
  return ((CallObject) F (c, JNI_CALL_OBJECT_A)) (c->env, obj, c->ids[id], args);
}

static void drop (Ctx * c, gpointer ref)
{
  if (ref != NULL)
    ((DeleteLocal) F (c, JNI_DELETE_LOCAL_REF)) (c->env, ref);
}

static void put (Ctx * c, const gchar * s, gint32 n)
{
  if (c->full || c->used + n > c->cap)
  {
    c->full = TRUE;
    return;
  }
  for (gint32 i = 0; i != n; i++)
    c->buf[c->used + i] = s[i];
  c->used += n;
}

static void put_char (Ctx * c, gchar ch)
{
  put (c, &ch, 1);
}

/* A java.lang.String as a JSON string (null for null): printable ASCII as is, everything
   else as \\uXXXX (UTF-16 units, so surrogate pairs survive). */
static void put_string (Ctx * c, gpointer s)
{
  static const gchar hex[] = "0123456789abcdef";
  if (s == NULL)
  {
    put (c, "null", 4);
    return;
  }
  gint32 n = ((Length) F (c, JNI_GET_STRING_LENGTH)) (c->env, s);
  put_char (c, '"');
  for (gint32 start = 0; start < n && !c->full; start += 2048)
  {
    gint32 k = MIN (n - start, 2048);
    ((StringRegion) F (c, JNI_GET_STRING_REGION)) (c->env, s, start, k, c->units);
    for (gint32 i = 0; i != k; i++)
    {
      guint16 u = c->units[i];
      if (u >= 0x20 && u < 0x7f && u != '"' && u != '\\\\')
        put_char (c, (gchar) u);
      else
      {
        gchar e[6] = { '\\\\', 'u', hex[(u >> 12) & 15], hex[(u >> 8) & 15], hex[(u >> 4) & 15], hex[u & 15] };
        put (c, e, 6);
      }
    }
  }
  put_char (c, '"');
}

/* String.valueOf(obj) as a JSON string. */
static void put_text (Ctx * c, gpointer obj)
{
  gpointer s = call_object (c, obj, TO_STRING, NULL);
  if (s == NULL && obj == NULL)
    put (c, "\\"null\\"", 6);
  else
    put_string (c, s);
  drop (c, s);
}

/* ,"protocol":"..." from obj's method id (a Protocol's text); FALSE when a call threw. */
static gboolean put_protocol (Ctx * c, gpointer obj, int id)
{
  gpointer protocol = call_object (c, obj, id, NULL);
  if (threw (c))
    return FALSE;
  put (c, ",\\"protocol\\":", 12);
  put_text (c, protocol);
  drop (c, protocol);
  return !threw (c);
}

/* v in decimal at text; returns the characters written (at most 11). */
gint32
ok_format_int (gchar * text, gint32 v)
{
  gchar digits[12];
  gint32 n = 0;
  gint32 at = 0;
  guint32 u = (v < 0) ? (guint32) -v : (guint32) v;
  do
  {
    digits[n++] = (gchar) ('0' + u % 10);
    u /= 10;
  }
  while (u != 0);
  if (v < 0)
    text[at++] = '-';
  while (n > 0)
    text[at++] = digits[--n];
  return at;
}

static void put_int (Ctx * c, gint32 v)
{
  gchar digits[12];
  put (c, digits, ok_format_int (digits, v));
}

/* okhttp3.Headers as [["name","value"],...]: one name(i) and value(i) call per header, so a
   value OkHttp 4 prints redacted in toString() is read as it is. */
static gboolean put_headers (Ctx * c, gpointer h)
{
  put_char (c, '[');
  if (h != NULL)
  {
    gint32 n = ((CallInt) F (c, JNI_CALL_INT_A)) (c->env, h, c->ids[HEADERS_SIZE], NULL);
    if (threw (c))
      return FALSE;
    for (gint32 i = 0; i != n && !c->full; i++)
    {
      JValue arg;
      arg.i = i;
      gpointer name = call_object (c, h, HEADER_NAME, &arg);
      gpointer value = call_object (c, h, HEADER_VALUE, &arg);
      if (threw (c))
        return FALSE;
      if (i != 0)
        put_char (c, ',');
      put_char (c, '[');
      put_string (c, name);
      put_char (c, ',');
      put_string (c, value);
      put_char (c, ']');
      drop (c, name);
      drop (c, value);
    }
  }
  put_char (c, ']');
  return TRUE;
}

static int fail (Out * out, int how, int step)
{
  out->failed = how;
  out->step = step;
  return how;
}

/* A call threw: clear it (nothing of ours may reach the app) and say where. */
static int threw_at (Ctx * c, Out * out, int step)
{
  ((Clear) F (c, JNI_EXCEPTION_CLEAR)) (c->env);
  return fail (out, THREW, step);
}

/* An empty result in out, and c writing after it. */
static void begin (Ctx * c, Out * out, gpointer env, gpointer * ids, gint32 cap)
{
  c->env = env;
  c->fns = *(gpointer **) env;
  c->ids = ids;
  c->buf = (gchar *) (out + 1);
  c->cap = cap - (gint32) sizeof (Out);
  c->used = 0;
  c->full = FALSE;
  out->body = -1;
  out->connection = NULL;
  out->body_ref = NULL;
  out->throwable = NULL;
  fail (out, OK, 0);
}

/* {"url":...,"method":...,"headers":[[...]],"protocol":...} then the body ("protocol": the
   connection's, when there is a connection). */
int
ok_request (gpointer env, gpointer chain, gpointer * ids, gpointer buffer_class, Out * out, gint32 cap)
{
  Ctx c;
  begin (&c, out, env, ids, cap);
  gpointer req = call_object (&c, chain, CHAIN_REQUEST, NULL);
  if (threw (&c) || req == NULL)
    return threw_at (&c, out, 1);
  out->connection = call_object (&c, chain, CHAIN_CONNECTION, NULL);
  if (threw (&c))
    return threw_at (&c, out, 2);
  gpointer url = call_object (&c, req, URL, NULL);
  if (threw (&c))
    return threw_at (&c, out, 3);
  put (&c, "{\\"url\\":", 7);
  put_text (&c, url);
  drop (&c, url);
  if (threw (&c))
    return threw_at (&c, out, 3);
  gpointer method = call_object (&c, req, METHOD, NULL);
  if (threw (&c))
    return threw_at (&c, out, 4);
  put (&c, ",\\"method\\":", 10);
  put_string (&c, method);
  drop (&c, method);
  gpointer headers = call_object (&c, req, REQUEST_HEADERS, NULL);
  if (threw (&c))
    return threw_at (&c, out, 5);
  put (&c, ",\\"headers\\":", 11);
  if (!put_headers (&c, headers))
    return threw_at (&c, out, 5);
  drop (&c, headers);
  if (out->connection != NULL && !put_protocol (&c, out->connection, CONN_PROTOCOL))
    return threw_at (&c, out, 10);
  put_char (&c, '}');
  if (c.full)
    return fail (out, TOO_LONG, 0);
  out->json = c.used;
  gpointer body = call_object (&c, req, BODY, NULL);
  if (threw (&c))
    return threw_at (&c, out, 6);
  if (body == NULL)
    return OK;
  for (int i = IS_DUPLEX; i <= IS_ONE_SHOT; i++)
  {
    if (ids[i] != NULL && ((CallBoolean) F (&c, JNI_CALL_BOOLEAN_A)) (env, body, ids[i], NULL))
      return OK;
    if (threw (&c))
      return threw_at (&c, out, 7);
  }
  gpointer sink = ((NewObject) F (&c, JNI_NEW_OBJECT_A)) (env, buffer_class, ids[NEW_BUFFER], NULL);
  if (threw (&c) || sink == NULL)
    return threw_at (&c, out, 8);
  JValue arg;
  arg.l = sink;
  ((CallVoid) F (&c, JNI_CALL_VOID_A)) (env, body, ids[WRITE_TO], &arg);
  if (threw (&c))
  {
    /* The app's own write of the body goes on: clear, and hand the throwable to JS. */
    out->throwable = ((Occurred) F (&c, JNI_EXCEPTION_OCCURRED)) (env);
    ((Clear) F (&c, JNI_EXCEPTION_CLEAR)) (env);
    return OK;
  }
  gpointer array = call_object (&c, sink, READ_BYTE_ARRAY, NULL);
  if (threw (&c))
    return threw_at (&c, out, 9);
  gint32 n = (array == NULL) ? 0 : ((Length) F (&c, JNI_GET_ARRAY_LENGTH)) (env, array);
  if (c.used + n > c.cap)
  {
    out->body = -2;
    out->body_ref = array;
    return OK;
  }
  if (n > 0)
    ((BytesRegion) F (&c, JNI_GET_BYTE_ARRAY_REGION)) (env, array, 0, n, c.buf + c.used);
  out->body = n;
  drop (&c, array);
  return OK;
}

/* {"code":...,"headers":[[...]],"protocol":...} */
int
ok_response (gpointer env, gpointer resp, gpointer * ids, gint32 want_protocol, Out * out, gint32 cap)
{
  Ctx c;
  begin (&c, out, env, ids, cap);
  gint32 code = ((CallInt) F (&c, JNI_CALL_INT_A)) (env, resp, ids[CODE], NULL);
  if (threw (&c))
    return threw_at (&c, out, 1);
  put (&c, "{\\"code\\":", 8);
  put_int (&c, code);
  gpointer headers = call_object (&c, resp, RESPONSE_HEADERS, NULL);
  if (threw (&c))
    return threw_at (&c, out, 2);
  put (&c, ",\\"headers\\":", 11);
  if (!put_headers (&c, headers))
    return threw_at (&c, out, 2);
  drop (&c, headers);
  if (want_protocol && !put_protocol (&c, resp, RESPONSE_PROTOCOL))
    return threw_at (&c, out, 3);
  put_char (&c, '}');
  if (c.full)
    return fail (out, TOO_LONG, 0);
  out->json = c.used;
  return OK;
}
`;
