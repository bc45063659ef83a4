// The socket hooks' C (sockets.ts), compiled into the ring's CModule: the fd states, the
// plaintext TCP and UDP paths, blockQuic's refusals, connect() and close().

import { NativeKind } from "../protocol.js";

export const SOCKETS_C = `
extern int getsockopt (int fd, int level, int name, void * value, unsigned int * len);
extern int * errno_loc (void);

#define K_TCP_OUT ${NativeKind.TCP_OUT}
#define K_TCP_IN ${NativeKind.TCP_IN}
#define K_UDP_OUT ${NativeKind.UDP_OUT}
#define K_UDP_IN ${NativeKind.UDP_IN}
#define K_CONNECT ${NativeKind.CONNECT}
#define K_UDP_BLOCKED ${NativeKind.UDP_BLOCKED}
#define BLOCKED_BIT (((guint64) 1) << 63)
#define EPERM_ 1
#define EINPROGRESS_ 115

typedef struct {
  Ring * ring;
  guint32 hook;
  guint32 aux;
  void * original;
} SockCtx;

static guint64 * fd_slot (Ring * r, int fd)
{
  if (fd < 0 || (guint32) fd >= r->fd_cap)
    return NULL;
  return r->fds + (gsize) fd * 2;
}

/* The port of an IPv4/IPv6 sockaddr, or -1 for anything else. */
static int inet_port (const guint8 * sa)
{
  guint16 family;
  if (sa == NULL)
    return -1;
  memcpy (&family, sa, 2);
  return (family == 2 || family == 10) ? be16 (sa + 2) : -1;
}

static gboolean is_udp (int fd)
{
  int type = 0;
  unsigned int len = sizeof (type);
  return getsockopt (fd, 1 /* SOL_SOCKET */, 3 /* SO_TYPE */, &type, &len) == 0 && type == 2;
}

static guint64 new_number (Ring * r)
{
  g_mutex_lock (&r->lock);
  guint64 n = ++r->next_conn;
  g_mutex_unlock (&r->lock);
  return n;
}

/* The socket's UDP generation (assigned on first sight), or 0 if fd is not a UDP socket. */
static guint64 udp_gen (Ring * r, int fd, guint64 * s)
{
  guint64 st = s[0] & ST_MASK;
  if (st == ST_UDP)
    return s[0] >> 8;
  if (st != 0 || !is_udp (fd))
    return 0;
  guint64 gen = new_number (r);
  s[0] = (gen << 8) | ST_UDP;
  s[1] = 0;
  return gen;
}

/* One connection per (socket generation, peer); announced with a CONN_INFO when new. */
static guint64 udp_conn (SockCtx * c, guint64 gen, int fd, const guint8 * sa, guint32 tid)
{
  Ring * r = c->ring;
  guint16 family;
  memcpy (&family, sa, 2);
  guint32 n = family == 10 ? 24 : 8;
  guint64 h = 14695981039346656037ULL;
  for (int i = 0; i < 8; i++) { h ^= (gen >> (8 * i)) & 0xff; h *= 1099511628211ULL; }
  for (guint32 i = 0; i < n; i++)
  {
    if (family == 10 && i >= 4 && i < 8) continue; /* flowinfo */
    h ^= sa[i]; h *= 1099511628211ULL;
  }
  gboolean fresh;
  g_mutex_lock (&r->lock);
  /* h | BLOCKED_BIT: never an SSL pointer, never 0 or the tombstone */
  guint64 number = intern_conn (r, h | BLOCKED_BIT, &fresh);
  g_mutex_unlock (&r->lock);
  if (fresh)
  {
    guint8 body[SOCK_BODY + 3];
    pack_sock (body, LAYER_UDP, fd, sa);
    body[SOCK_BODY] = body[SOCK_BODY + 1] = body[SOCK_BODY + 2] = 0;
    write_record (r, K_CONN_INFO, tid, fd, number, (guint16) c->hook, body, sizeof (body));
  }
  return number;
}

/* A TCP connection carrying plaintext gets its connection row (CONN_INFO, layer tcp). */
static void tcp_announce (SockCtx * c, int fd, guint64 number)
{
  guint8 body[SOCK_BODY + 3];
  pack_sock (body, LAYER_TCP, fd, NULL);
  body[SOCK_BODY] = body[SOCK_BODY + 1] = body[SOCK_BODY + 2] = 0;
  write_record (c->ring, K_CONN_INFO, (guint32) gettid (), fd, number, (guint16) c->hook, body,
      sizeof (body));
}

static gboolean blocked_port (Ring * r, int port)
{
  return r->block_quic && (port == 443 || port == 80);
}

static void record_blocked (SockCtx * c, int fd, const guint8 * sa)
{
  guint8 body[SOCK_BODY];
  pack_sock (body, LAYER_UDP, fd, sa);
  write_record (c->ring, K_UDP_BLOCKED, (guint32) gettid (), fd, 0, (guint16) c->hook, body,
      SOCK_BODY);
}

static const guint8 * msg_name (const guint8 * msg)
{
  const guint8 * name;
  guint32 len;
  if (msg == NULL)
    return NULL;
  memcpy (&name, msg, 8);
  memcpy (&len, msg + 8, 4);
  return len >= 4 ? name : NULL;
}

/* Before a send: TRUE (errno = EPERM, refusal recorded) when blockQuic refuses it. */
int sock_block (SockCtx * c, int fd, const guint8 * sa, const guint8 * msg)
{
  Ring * r = c->ring;
  if (!r->block_quic)
    return 0;
  guint64 * s = fd_slot (r, fd);
  if (s == NULL)
    return 0;
  if (sa == NULL)
    sa = msg_name (msg);
  if (sa == NULL)
  {
    if ((s[0] & ST_MASK) != ST_UDP || (s[1] & BLOCKED_BIT) == 0)
      return 0;
  }
  else
  {
    if (!blocked_port (r, inet_port (sa)))
      return 0;
    int e = *errno_loc ();
    guint64 gen = udp_gen (r, fd, s);
    *errno_loc () = e;
    if (gen == 0)
      return 0;
  }
  record_blocked (c, fd, sa);
  *errno_loc () = EPERM_;
  return 1;
}

static void write_iov (Ring * r, guint16 kind, guint32 tid, gint32 fd, guint64 handle,
    guint16 hook, const guint8 * msg, gsize len)
{
  guint32 cap_len = len > r->max_record ? r->max_record : (guint32) len;
  guint8 * iov;
  gsize iovlen;
  memcpy (&iov, msg + 16, 8);
  memcpy (&iovlen, msg + 24, 8);
  guint8 * p = reserve (r, padded (HDR + cap_len));
  if (p == NULL)
    return;
  put_header (p, padded (HDR + cap_len), kind, cap_len < len ? 1 : 0, tid, fd, handle,
      (guint32) len, cap_len, hook);
  gsize pos = 0;
  for (gsize i = 0; i < iovlen && pos < cap_len; i++)
  {
    const guint8 * base;
    gsize l;
    memcpy (&base, iov + 16 * i, 8);
    memcpy (&l, iov + 16 * i + 8, 8);
    if (l > cap_len - pos) l = cap_len - pos;
    memcpy (p + HDR + pos, base, l);
    pos += l;
  }
  g_mutex_unlock (&r->lock);
}

static void emit_data (SockCtx * c, guint16 kind, int fd, guint64 handle, const guint8 * buf,
    const guint8 * msg, gssize n)
{
  guint32 tid = current_tid (c->ring);
  if (msg != NULL)
    write_iov (c->ring, kind, tid, fd, handle, (guint16) c->hook, msg, (gsize) n);
  else
    write_record (c->ring, kind, tid, fd, handle, (guint16) c->hook, buf, (gsize) n);
}

/* After a send that moved n > 0 bytes, from buf or from msg's iovecs. */
void sock_out (SockCtx * c, int fd, const guint8 * buf, const guint8 * msg, gssize n,
    const guint8 * sa)
{
  Ring * r = c->ring;
  guint64 * s = fd_slot (r, fd);
  if (n <= 0 || s == NULL)
    return;
  if (sa == NULL)
    sa = msg_name (msg);
  guint64 v = s[0];
  if ((v & ST_MASK) == 0 && inet_port (sa) < 0)
    return; /* the common case for write(): not a socket we know */
  int e = *errno_loc ();
  if (inet_port (sa) >= 0)
  {
    guint64 gen = udp_gen (r, fd, s);
    if (gen != 0)
      emit_data (c, K_UDP_OUT, fd, udp_conn (c, gen, fd, sa, (guint32) gettid ()), buf, msg, n);
    *errno_loc () = e;
    return;
  }
  guint64 st = v & ST_MASK;
  if (st == ST_TCP_NEW || st == ST_TCP_SEEN)
  {
    guint64 was = st;
    guint8 head[2] = { 0, 0 };
    if (msg != NULL)
    {
      guint8 * iov;
      gsize l;
      memcpy (&iov, msg + 16, 8);
      memcpy (&buf, iov, 8);
      memcpy (&l, iov + 8, 8);
      if (l >= 2) memcpy (head, buf, 2);
      buf = NULL;
    }
    else if (n >= 2)
      memcpy (head, buf, 2);
    st = (head[0] == 0x16 && head[1] == 0x03) ? ST_TLS : ST_TCP_PLAIN;
    s[0] = (v & ~ST_MASK) | st;
    if (st == ST_TCP_PLAIN && was == ST_TCP_NEW)
      tcp_announce (c, fd, v >> 8);
  }
  if (st == ST_TCP_PLAIN)
    emit_data (c, K_TCP_OUT, fd, v >> 8, buf, msg, n);
  else if (st == ST_UDP && (s[1] & ~BLOCKED_BIT) != 0)
    emit_data (c, K_UDP_OUT, fd, s[1] & ~BLOCKED_BIT, buf, msg, n);
  *errno_loc () = e;
}

/* After a receive of n > 0 bytes; sa (recvfrom) or msg's name is the sender. */
void sock_in (SockCtx * c, int fd, const guint8 * buf, const guint8 * msg, gssize n,
    const guint8 * sa)
{
  Ring * r = c->ring;
  guint64 * s = fd_slot (r, fd);
  if (n <= 0 || s == NULL)
    return;
  guint64 v = s[0];
  guint64 st = v & ST_MASK;
  if (st == 0 || st == ST_TLS)
    return;
  int e = *errno_loc ();
  if (sa == NULL)
    sa = msg_name (msg);
  if (st == ST_TCP_NEW)
  {
    /* Nothing seen going out yet (an app writing through a function we do not hook) and the
       peer answers with a TLS handshake record: a TLS connection, not plaintext. */
    guint8 head[3] = { 0, 0, 0 };
    if (msg != NULL)
    {
      const guint8 * iov;
      const guint8 * base;
      gsize l;
      memcpy (&iov, msg + 16, 8);
      memcpy (&base, iov, 8);
      memcpy (&l, iov + 8, 8);
      if (l >= 3 && n >= 3) memcpy (head, base, 3);
    }
    else if (n >= 3)
      memcpy (head, buf, 3);
    if (head[0] == 0x16 && head[1] == 0x03 && head[2] <= 0x04)
    {
      s[0] = (v & ~ST_MASK) | ST_TLS;
      *errno_loc () = e;
      return;
    }
    s[0] = (v & ~ST_MASK) | ST_TCP_SEEN;
    tcp_announce (c, fd, v >> 8);
  }
  if (st == ST_TCP_NEW || st == ST_TCP_SEEN || st == ST_TCP_PLAIN)
    emit_data (c, K_TCP_IN, fd, v >> 8, buf, msg, n);
  else if (inet_port (sa) >= 0)
    emit_data (c, K_UDP_IN, fd, udp_conn (c, v >> 8, fd, sa, (guint32) gettid ()), buf, msg, n);
  else if ((s[1] & ~BLOCKED_BIT) != 0)
    emit_data (c, K_UDP_IN, fd, s[1] & ~BLOCKED_BIT, buf, msg, n);
  *errno_loc () = e;
}

/* After connect(): a CONNECT record (result, errno) and the fd's state. */
void sock_connect (SockCtx * c, int fd, const guint8 * sa, int ret)
{
  Ring * r = c->ring;
  int e = *errno_loc ();
  int port = inet_port (sa);
  guint64 * s = fd_slot (r, fd);
  if (port < 0)
  {
    guint16 family = 0;
    if (sa != NULL) memcpy (&family, sa, 2);
    /* AF_UNSPEC dissolves a UDP socket's association */
    if (family == 0 && s != NULL && (s[0] & ST_MASK) == ST_UDP) s[1] = 0;
    return;
  }
  gboolean ok = ret == 0 || e == EINPROGRESS_;
  guint32 tid = (guint32) gettid ();
  guint16 layer = LAYER_TCP;
  guint64 number;
  if (is_udp (fd))
  {
    layer = LAYER_UDP;
    guint64 gen = s != NULL ? udp_gen (r, fd, s) : new_number (r);
    number = udp_conn (c, gen, fd, sa, tid);
    if (s != NULL && ok)
      s[1] = number | (blocked_port (r, port) ? BLOCKED_BIT : 0);
  }
  else
  {
    number = new_number (r);
    if (s != NULL)
    {
      s[0] = ok ? (number << 8) | ST_TCP_NEW : 0;
      s[1] = 0;
    }
  }
  guint8 body[SOCK_BODY + 8];
  pack_sock (body, layer, fd, sa);
  memcpy (body + SOCK_BODY, &ret, 4);
  memcpy (body + SOCK_BODY + 4, ret == 0 ? &ret : &e, 4);
  write_record (r, K_CONNECT, tid, fd, number, (guint16) c->hook, body, sizeof (body));
  *errno_loc () = e;
}

/* sendmmsg/recvmmsg: struct mmsghdr is a msghdr (56 bytes) then msg_len, 64 bytes each on
   LP64. Before a batch: TRUE when blockQuic refuses one of its datagrams (the whole call
   fails, as a firewall dropping the first would make it). */
#define MMSG_SIZE 64
int sock_block_mmsg (SockCtx * c, int fd, const guint8 * vec, unsigned int vlen)
{
  for (unsigned int i = 0; i < vlen; i++)
    if (sock_block (c, fd, NULL, vec + MMSG_SIZE * (gsize) i))
      return 1;
  return 0;
}

/* After a batch moved n messages: each one, with its own length. */
void sock_mmsg (SockCtx * c, int fd, const guint8 * vec, int n, gboolean out)
{
  for (int i = 0; i < n; i++)
  {
    const guint8 * m = vec + MMSG_SIZE * (gsize) i;
    guint32 len;
    memcpy (&len, m + 56, 4);
    if (out)
      sock_out (c, fd, NULL, m, (gssize) len, NULL);
    else
      sock_in (c, fd, NULL, m, (gssize) len, NULL);
  }
}

/* Before close(): the fd number may be reused by anything. */
void sock_close (SockCtx * c, int fd)
{
  guint64 * s = fd_slot (c->ring, fd);
  if (s != NULL && s[0] != 0)
  {
    s[0] = 0;
    s[1] = 0;
  }
}
`;
