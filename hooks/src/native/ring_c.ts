// The ring's C core, compiled into one CModule with the socket and DNS fragments
// (ring.ts): the double buffer and its lock, the record header, the connection table keyed
// by SSL pointer, the fd table, and the TLS record path (tls_record, tls_forget).

import { NATIVE_ALIGN, NATIVE_HEADER_SIZE, NativeKind } from "../protocol.js";

export const RING_C = `
#include <gum/guminterceptor.h>

#include <glib.h>
#include <string.h>

/* A CModule's memcpy/memset are Frida's built-in ones, which copy a byte at a time (seen in
   perf: the ring's copies were its hottest spot, ~0.5 µs a record). The ring and its socket
   and DNS fragments use the process's libc instead (ring.ts passes them in). */
extern void * libc_memcpy (void * dst, const void * src, gsize n);
extern void * libc_memset (void * dst, int c, gsize n);
#define memcpy libc_memcpy
#define memset libc_memset

extern int clock_gettime (int clk, void * ts);
extern int getpeername (int fd, void * addr, unsigned int * len);
extern int getsockname (int fd, void * addr, unsigned int * len);
extern int gettid (void);
extern void * pthread_getspecific (guint32 key);
extern int pthread_setspecific (guint32 key, const void * value);

#define HDR ${NATIVE_HEADER_SIZE}
#define ALIGN ${NATIVE_ALIGN}
#define K_TLS_OUT ${NativeKind.TLS_OUT}
#define K_TLS_IN ${NativeKind.TLS_IN}
#define K_CONN_INFO ${NativeKind.CONN_INFO}
#define TOMBSTONE ((guint64) 1)

typedef struct {
  GMutex lock;
  guint8 * buf[2];
  guint32 cap;
  guint32 len[2];
  guint32 active;
  guint32 max_record;
  guint32 wait_limit_us;
  guint32 table_cap;
  guint64 next_conn;
  guint64 drops;
  guint64 dropped_bytes;
  guint64 waits;
  guint64 records;
  guint64 * keys;
  guint64 * vals;
  guint64 * fds;
  guint32 fd_cap;
  guint32 block_quic;
  guint32 tid_key; /* pthread key caching each thread's id (current_tid) */
  gint inflight; /* threads inside a wrapper (ENTER/LEAVE, ring.ts): dispose waits for 0 */
} Ring;

/* The fd table (sockets.ts): two words per fd, [0] = number << 8 | state, [1] = the
   connected UDP peer's connection (bit 63: refused by blockQuic). */
#define ST_TCP_NEW 1
#define ST_TCP_PLAIN 2
#define ST_TLS 3
#define ST_UDP 4
#define ST_TCP_SEEN 5 /* NEW, but the peer spoke first: announced, still undecided */
#define ST_MASK ((guint64) 0xff)

typedef int (* GetFdFunc) (void * ssl);
typedef const char * (* GetServernameFunc) (void * ssl, int type);
typedef const char * (* GetVersionFunc) (void * ssl);
typedef void * (* GetCipherFunc) (void * ssl);
typedef const char * (* CipherNameFunc) (void * cipher);

typedef struct {
  Ring * ring;
  guint32 hook;
  guint32 kind;
  guint32 ex;
  guint32 pad;
  GetFdFunc get_fd;
  GetServernameFunc get_servername;
  GetVersionFunc get_version;
  GetCipherFunc get_cipher;
  CipherNameFunc cipher_name;
  void * original;
} HookCtx;

/* The calling thread's id, from a thread-specific slot after its first record: gettid() is a
   syscall, once per record it cost ~0.2 µs on the hot path. */
static guint32 current_tid (Ring * r)
{
  gsize t = GPOINTER_TO_SIZE (pthread_getspecific (r->tid_key));
  if (t == 0)
  {
    t = (gsize) (guint32) gettid ();
    pthread_setspecific (r->tid_key, GSIZE_TO_POINTER (t));
  }
  return (guint32) t;
}

static guint64 now_ns (void)
{
  gint64 ts[2];
  clock_gettime (0, ts);
  return (guint64) ts[0] * 1000000000ULL + (guint64) ts[1];
}

/* Reserve size bytes in the active buffer; returns with the lock held, or NULL (unlocked). */
static guint8 * reserve (Ring * r, guint32 size)
{
  guint32 waited = 0;
  for (;;)
  {
    g_mutex_lock (&r->lock);
    guint32 a = r->active;
    if (r->len[a] + size <= r->cap)
    {
      guint8 * p = r->buf[a] + r->len[a];
      r->len[a] += size;
      r->records++;
      return p;
    }
    if (size > r->cap || waited >= r->wait_limit_us)
    {
      r->drops++;
      r->dropped_bytes += size;
      g_mutex_unlock (&r->lock);
      return NULL;
    }
    r->waits++;
    g_mutex_unlock (&r->lock);
    g_usleep (500);
    waited += 500;
  }
}

/* The record header (NATIVE_HEADER_FORMAT); p is NATIVE_ALIGN-aligned, so every field is at
   its natural alignment and is stored directly (no call per field). */
static void put_header (guint8 * p, guint32 size, guint16 kind, guint16 flags, guint32 tid,
    gint32 fd, guint64 handle, guint32 orig_len, guint32 cap_len, guint16 hook)
{
  *(guint32 *) (p + 0) = size;
  *(guint16 *) (p + 4) = kind;
  *(guint16 *) (p + 6) = flags;
  *(guint32 *) (p + 8) = tid;
  *(gint32 *) (p + 12) = fd;
  *(guint64 *) (p + 16) = handle;
  *(guint64 *) (p + 24) = now_ns ();
  *(guint32 *) (p + 32) = orig_len;
  *(guint32 *) (p + 36) = cap_len;
  *(guint16 *) (p + 40) = hook;
  *(guint16 *) (p + 42) = 0;
  *(guint32 *) (p + 44) = 0;
}

static guint32 padded (guint32 n)
{
  return (n + ALIGN - 1) & ~(guint32) (ALIGN - 1);
}

static void write_record (Ring * r, guint16 kind, guint32 tid, gint32 fd, guint64 handle,
    guint16 hook, const guint8 * data, gsize len)
{
  guint32 cap_len = len > r->max_record ? r->max_record : (guint32) len;
  guint32 size = padded (HDR + cap_len);
  guint8 * p = reserve (r, size);
  if (p == NULL)
    return;
  put_header (p, size, kind, cap_len < len ? 1 : 0, tid, fd, handle, (guint32) len, cap_len, hook);
  memcpy (p + HDR, data, cap_len);
  g_mutex_unlock (&r->lock);
}

/* Looks the SSL object up; returns its connection number, 0 when new (then *slot is set). */
static guint64 lookup (Ring * r, guint64 key, guint32 * slot)
{
  guint32 mask = r->table_cap - 1;
  guint32 i = (guint32) ((key >> 4) * 2654435761u) & mask;
  gint64 first_free = -1;
  for (guint32 n = 0; n < r->table_cap; n++, i = (i + 1) & mask)
  {
    guint64 k = r->keys[i];
    if (k == key)
      return r->vals[i];
    if (k == TOMBSTONE && first_free < 0)
      first_free = i;
    if (k == 0)
    {
      *slot = first_free >= 0 ? (guint32) first_free : i;
      return 0;
    }
  }
  *slot = first_free >= 0 ? (guint32) first_free : 0xffffffffu;
  return 0;
}

/* The connection number of key, a new one (fresh) when the key is not known yet; with the
   lock held. A full table still numbers the connection, it only cannot remember it. */
static guint64 intern_conn (Ring * r, guint64 key, gboolean * fresh)
{
  guint32 slot = 0;
  guint64 number = lookup (r, key, &slot);
  *fresh = number == 0;
  if (number == 0)
  {
    number = ++r->next_conn;
    if (slot != 0xffffffffu)
    {
      r->keys[slot] = key;
      r->vals[slot] = number;
    }
  }
  return number;
}

static guint16 be16 (const guint8 * p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

#define LAYER_TLS 0
#define LAYER_TCP 1
#define LAYER_UDP 2
#define SOCK_BODY 44

/* CONN_INFO_FORMAT (SOCK_BODY bytes): family, local port, peer port, layer, fd, local
   address, peer address; the peer is sa, or the socket's peer when sa is NULL. The family
   is the peer's, or the socket's own when it has no peer (yet); each address is copied by
   its own sockaddr's family. Shared by CONN_INFO (TLS, sockets), CONNECT and UDP_BLOCKED. */
static void pack_sock (guint8 * body, guint16 layer, int fd, const guint8 * sa)
{
  guint8 buf[128];
  unsigned int len;
  guint16 family = 0, lfamily = 0, lport = 0, pport = 0;
  memset (body, 0, SOCK_BODY);
  if (sa == NULL && fd >= 0)
  {
    len = sizeof (buf);
    memset (buf, 0, sizeof (buf));
    if (getpeername (fd, buf, &len) == 0)
      sa = buf;
  }
  if (sa != NULL)
  {
    memcpy (&family, sa, 2);
    pport = be16 (sa + 2);
    if (family == 2) memcpy (body + 28, sa + 4, 4);
    else if (family == 10) memcpy (body + 28, sa + 8, 16);
  }
  len = sizeof (buf);
  memset (buf, 0, sizeof (buf));
  if (fd >= 0 && getsockname (fd, buf, &len) == 0)
  {
    memcpy (&lfamily, buf, 2);
    lport = be16 (buf + 2);
    if (lfamily == 2) memcpy (body + 12, buf + 4, 4);
    else if (lfamily == 10) memcpy (body + 12, buf + 8, 16);
    if (family == 0)
      family = lfamily;
  }
  memcpy (body + 0, &family, 2);
  memcpy (body + 2, &lport, 2);
  memcpy (body + 4, &pport, 2);
  memcpy (body + 6, &layer, 2);
  memcpy (body + 8, &fd, 4);
}

/* CONN_INFO body of a TLS connection: CONN_INFO_FORMAT, then NUL-terminated sni, version,
   cipher. */
static void conn_info (HookCtx * c, void * ssl, guint64 number, guint32 tid)
{
  guint8 body[HDR + 512];
  gint32 fd = c->get_fd != NULL ? c->get_fd (ssl) : -1;
  /* An fd an SSL object uses carries TLS: its bytes are never plaintext TCP. */
  if (fd >= 0 && (guint32) fd < c->ring->fd_cap && (c->ring->fds[fd * 2] & ST_MASK) != 0)
    c->ring->fds[fd * 2] = (c->ring->fds[fd * 2] & ~ST_MASK) | ST_TLS;
  pack_sock (body, LAYER_TLS, fd, NULL);
  guint32 pos = SOCK_BODY;
  const char * strs[3];
  strs[0] = c->get_servername != NULL ? c->get_servername (ssl, 0) : NULL;
  strs[1] = c->get_version != NULL ? c->get_version (ssl) : NULL;
  void * cipher = c->get_cipher != NULL ? c->get_cipher (ssl) : NULL;
  strs[2] = (cipher != NULL && c->cipher_name != NULL) ? c->cipher_name (cipher) : NULL;
  for (int s = 0; s < 3; s++)
  {
    const char * v = strs[s];
    if (v != NULL)
    {
      gsize l = strlen (v);
      if (l > 150) l = 150;
      memcpy (body + pos, v, l);
      pos += (guint32) l;
    }
    body[pos++] = 0;
  }
  write_record (c->ring, K_CONN_INFO, tid, fd, number, (guint16) c->hook, body, pos);
}

/* A stream chunk of a connection its caller numbered (Java's TLS streams, java/centries.ts):
   the record tls_record writes, without the SSL table. */
void ring_stream (Ring * r, guint32 kind, guint64 number, guint32 hook, const guint8 * buf, gsize n)
{
  write_record (r, (guint16) kind, current_tid (r), -1, number, (guint16) hook, buf, n);
}

/* Called by the per-function wrappers (see WRAPPER) after the original returned n > 0. */
void tls_record (HookCtx * c, void * ssl, const guint8 * buf, gsize n)
{
  Ring * r = c->ring;
  guint32 tid = current_tid (r);
  gboolean fresh;
  g_mutex_lock (&r->lock);
  guint64 number = intern_conn (r, (guint64) GPOINTER_TO_SIZE (ssl), &fresh);
  if (!fresh)
  {
    /* The common case, a known connection: reserve in the same critical section (one lock
       per record instead of two); the slow path (buffers full: wait or drop) is reserve's. */
    guint32 cap_len = n > r->max_record ? r->max_record : (guint32) n;
    guint32 size = padded (HDR + cap_len);
    guint32 a = r->active;
    if (r->len[a] + size <= r->cap)
    {
      guint8 * p = r->buf[a] + r->len[a];
      r->len[a] += size;
      r->records++;
      put_header (p, size, (guint16) c->kind, cap_len < n ? 1 : 0, tid, -1, number, (guint32) n,
          cap_len, (guint16) c->hook);
      memcpy (p + HDR, buf, cap_len);
      g_mutex_unlock (&r->lock);
      return;
    }
  }
  g_mutex_unlock (&r->lock);
  if (fresh)
    conn_info (c, ssl, number, tid);
  write_record (r, (guint16) c->kind, tid, -1, number, (guint16) c->hook, buf, n);
}

/* SSL_free: forget the object, so a new SSL at the same address is a new connection. */
void tls_forget (HookCtx * c, void * ssl)
{
  Ring * r = c->ring;
  guint64 key = (guint64) GPOINTER_TO_SIZE (ssl);
  guint32 slot = 0;
  g_mutex_lock (&r->lock);
  guint32 mask = r->table_cap - 1;
  guint32 i = (guint32) ((key >> 4) * 2654435761u) & mask;
  for (guint32 n = 0; n < r->table_cap; n++, i = (i + 1) & mask)
  {
    if (r->keys[i] == key) { r->keys[i] = TOMBSTONE; break; }
    if (r->keys[i] == 0) break;
  }
  (void) slot;
  g_mutex_unlock (&r->lock);
}

/* Swap buffers; returns the full one's index in the low bit and its length above it. */
guint64 ring_swap (Ring * r)
{
  g_mutex_lock (&r->lock);
  guint32 a = r->active;
  guint64 n = r->len[a];
  r->active = 1 - a;
  r->len[1 - a] = 0;
  g_mutex_unlock (&r->lock);
  return (n << 1) | a;
}
`;
