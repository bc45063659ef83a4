// The native hot path. Hooks written in C (a CModule) copy what they see into a
// preallocated double buffer in Memory.alloc()'d memory (Frida 17.26 crashes on writes to a
// CModule's own globals), under one mutex; the JS timer in emit.ts swaps the buffers and
// sends the full one as the native slice of a batch. No JS runs per hooked call.
// When both buffers are full the hooking thread waits for the drain (zero loss); only after
// waitLimitMs does it drop, and drops are counted and reported.

import { NATIVE_ALIGN, NATIVE_HEADER_SIZE, NativeKind } from "../protocol.js";

const CSOURCE = `
#include <gum/guminterceptor.h>

#include <glib.h>
#include <string.h>

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
  guint32 pad;
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

static void put_header (guint8 * p, guint32 size, guint16 kind, guint16 flags, guint32 tid,
    gint32 fd, guint64 handle, guint32 orig_len, guint32 cap_len, guint16 hook)
{
  guint64 t = now_ns ();
  guint16 zero16 = 0;
  guint32 zero32 = 0;
  memcpy (p + 0, &size, 4);
  memcpy (p + 4, &kind, 2);
  memcpy (p + 6, &flags, 2);
  memcpy (p + 8, &tid, 4);
  memcpy (p + 12, &fd, 4);
  memcpy (p + 16, &handle, 8);
  memcpy (p + 24, &t, 8);
  memcpy (p + 32, &orig_len, 4);
  memcpy (p + 36, &cap_len, 4);
  memcpy (p + 40, &hook, 2);
  memcpy (p + 42, &zero16, 2);
  memcpy (p + 44, &zero32, 4);
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

static guint16 be16 (const guint8 * p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

/* CONN_INFO body: <HHHHi16s16s family, local_port, peer_port, 0, fd, local, peer> then
   NUL-terminated sni, version, cipher. */
static void conn_info (HookCtx * c, void * ssl, guint64 number, guint32 tid)
{
  guint8 body[HDR + 512];
  guint8 sa[128];
  unsigned int salen;
  memset (body, 0, 48);
  gint32 fd = c->get_fd != NULL ? c->get_fd (ssl) : -1;
  /* An fd an SSL object uses carries TLS: its bytes are never plaintext TCP. */
  if (fd >= 0 && (guint32) fd < c->ring->fd_cap && (c->ring->fds[fd * 2] & ST_MASK) != 0)
    c->ring->fds[fd * 2] = (c->ring->fds[fd * 2] & ~ST_MASK) | ST_TLS;
  guint16 family = 0, lport = 0, pport = 0;
  if (fd >= 0)
  {
    salen = sizeof (sa);
    memset (sa, 0, sizeof (sa));
    if (getsockname (fd, sa, &salen) == 0)
    {
      memcpy (&family, sa, 2);
      lport = be16 (sa + 2);
      if (family == 2) memcpy (body + 12, sa + 4, 4);
      else if (family == 10) memcpy (body + 12, sa + 8, 16);
    }
    salen = sizeof (sa);
    memset (sa, 0, sizeof (sa));
    if (getpeername (fd, sa, &salen) == 0)
    {
      memcpy (&family, sa, 2);
      pport = be16 (sa + 2);
      if (family == 2) memcpy (body + 28, sa + 4, 4);
      else if (family == 10) memcpy (body + 28, sa + 8, 16);
    }
  }
  memcpy (body + 0, &family, 2);
  memcpy (body + 2, &lport, 2);
  memcpy (body + 4, &pport, 2);
  memcpy (body + 8, &fd, 4);
  guint32 pos = 44;
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

/* Called by the per-function wrappers (see WRAPPER) after the original returned n > 0. */
void tls_record (HookCtx * c, void * ssl, const guint8 * buf, gsize n)
{
  Ring * r = c->ring;
  guint32 tid = current_tid (r);
  guint64 key = (guint64) GPOINTER_TO_SIZE (ssl);
  guint32 slot = 0;
  gboolean fresh = FALSE;
  g_mutex_lock (&r->lock);
  guint64 number = lookup (r, key, &slot);
  if (number == 0)
  {
    number = ++r->next_conn;
    if (slot != 0xffffffffu)
    {
      r->keys[slot] = key;
      r->vals[slot] = number;
    }
    fresh = TRUE;
  }
  else
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

/** C source compiled into the ring's CModule (after the ring's own code), with the extra
 * symbols it needs: how sockets.ts and dns.ts keep their hot paths in the same module. */
export interface CFragment {
    source: string;
    symbols: { [name: string]: NativePointer };
}

/** Context of a wrapper made by replaceC: the ring, the hook index, the original. */
export const CTX = { ring: 0, hook: 8, aux: 12, original: 16, size: 24 };

/** Declarations every replaceC wrapper starts with. */
const CTX_PRELUDE = `
#include <glib.h>
extern char hookctx[];
/* NULL until replaceFast returned the trampoline (NativeRing.install): wait for it. */
static void * original (void)
{
  void * volatile * slot = (void * volatile *) (hookctx + ${CTX.original});
  void * p;
  while ((p = *slot) == NULL)
    ;
  return p;
}
`;

/** The replacement of one TLS function: call the original, then record what it moved.
 * Interceptor.replace wrappers rather than attach() listeners: an onLeave listener in a
 * process that forks makes the child crash inside frida-agent under child gating (seen with
 * Frida 17.26). Installed by NativeRing.install (replaceFast or replace); ``original`` is
 * what its slot holds: replaceFast's trampoline, or with replace the target itself, which
 * called from inside its replacement reaches the original implementation. */
function wrapperSource(ex: boolean | "free"): string {
    const call = ex === "free"
        ? `void replacement (void * ssl)
{
  tls_forget (hookctx, ssl);
  ((FreeFn) original ()) (ssl);
}`
        : ex
        ? `int replacement (void * ssl, void * buf, gsize num, gsize * out)
{
  int ret = ((ExFn) original ()) (ssl, buf, num, out);
  if (ret == 1 && out != NULL && *out > 0)
    tls_record (hookctx, ssl, buf, *out);
  return ret;
}`
        : `int replacement (void * ssl, void * buf, int num)
{
  int ret = ((PlainFn) original ()) (ssl, buf, num);
  if (ret > 0)
    tls_record (hookctx, ssl, buf, (gsize) ret);
  return ret;
}`;
    return `
#include <glib.h>
extern char hookctx[];
extern void tls_record (void * ctx, void * ssl, const void * buf, gsize n);
extern void tls_forget (void * ctx, void * ssl);
typedef void (* FreeFn) (void * ssl);
typedef int (* PlainFn) (void * ssl, void * buf, int num);
typedef int (* ExFn) (void * ssl, void * buf, gsize num, gsize * out);
static void * original (void)
{
  void * volatile * slot = (void * volatile *) (hookctx + ${OFF_ORIGINAL});
  void * p;
  while ((p = *slot) == NULL)
    ;
  return p;
}
${call}
`;
}

const OFF_ORIGINAL = 64;

/** Offsets of Ring members (x86_64/arm64 LP64; GMutex is 8 bytes). */
const OFF = {
    buf0: 8, buf1: 16, cap: 24, len0: 28, len1: 32, active: 36, maxRecord: 40,
    waitLimitUs: 44, tableCap: 48, nextConn: 56, drops: 64, droppedBytes: 72, waits: 80,
    records: 88, keys: 96, vals: 104, fds: 112, fdCap: 120, blockQuic: 124, tidKey: 128, size: 136,
};

export const HOOKCTX_SIZE = 72;

export interface RingConfig {
    /** Bytes per buffer (two are allocated). */
    bufferBytes: number;
    maxRecordBytes: number;
    waitLimitMs: number;
    tableSlots: number;
    /** fds below this are tracked by the socket hooks. */
    fdSlots: number;
    /** UDP sends to ports 443 and 80 fail (sockets.ts). */
    blockQuic: boolean;
    /** The process is suspended while hooks install: Interceptor.replaceFast may be used. */
    replaceFast: boolean;
}

export interface RingStats {
    records: number;
    drops: number;
    droppedBytes: number;
    waits: number;
    connections: number;
    /** Hooks installed with Interceptor.replaceFast (the rest with replace). */
    fastHooks: number;
}

export class NativeRing {
    readonly cm: CModule;
    readonly ring: NativePointer;
    private readonly keep: NativePointer[] = [];
    /** Wrapper modules must stay referenced: a collected CModule is unmapped. */
    private readonly modules: CModule[] = [];
    private readonly swap: NativeFunction<UInt64, [NativePointerValue]>;
    private readonly fast: boolean;
    /** How many hooks replaceFast installed (status()). */
    fastCount = 0;
    /** Every patched function, for revert(). */
    private readonly targets: NativePointer[] = [];

    constructor(cfg: RingConfig, fragments: CFragment[] = []) {
        const libc = (name: string): NativePointer => Module.getGlobalExportByName(name);
        const symbols: { [name: string]: NativePointer } = {
            clock_gettime: libc("clock_gettime"),
            getpeername: libc("getpeername"),
            getsockname: libc("getsockname"),
            gettid: libc("gettid"),
            pthread_getspecific: libc("pthread_getspecific"),
            pthread_setspecific: libc("pthread_setspecific"),
        };
        fragments.forEach((f) => Object.assign(symbols, f.symbols));
        this.cm = new CModule([CSOURCE, ...fragments.map((f) => f.source)].join("\n"), symbols);
        this.ring = Memory.alloc(OFF.size);
        const b0 = Memory.alloc(cfg.bufferBytes);
        const b1 = Memory.alloc(cfg.bufferBytes);
        let slots = 1;
        while (slots < cfg.tableSlots) slots <<= 1;
        const keys = Memory.alloc(slots * 8);
        const vals = Memory.alloc(slots * 8);
        const fds = Memory.alloc(cfg.fdSlots * 16);
        this.keep.push(b0, b1, keys, vals, fds);
        const keyOut = Memory.alloc(8);
        const keyCreate = new NativeFunction(libc("pthread_key_create"), "int", ["pointer", "pointer"]);
        if (keyCreate(keyOut, ptr(0)) !== 0) {
            throw new Error("pthread_key_create failed");
        }
        this.ring.add(OFF.tidKey).writeU32(keyOut.readU32());
        this.ring.add(OFF.fds).writePointer(fds);
        this.ring.add(OFF.fdCap).writeU32(cfg.fdSlots);
        this.ring.add(OFF.blockQuic).writeU32(cfg.blockQuic ? 1 : 0);
        this.ring.add(OFF.buf0).writePointer(b0);
        this.ring.add(OFF.buf1).writePointer(b1);
        this.ring.add(OFF.cap).writeU32(cfg.bufferBytes);
        this.ring.add(OFF.maxRecord).writeU32(cfg.maxRecordBytes);
        this.ring.add(OFF.waitLimitUs).writeU32(cfg.waitLimitMs * 1000);
        this.ring.add(OFF.tableCap).writeU32(slots);
        this.ring.add(OFF.keys).writePointer(keys);
        this.ring.add(OFF.vals).writePointer(vals);
        this.swap = new NativeFunction(this.cm.ring_swap, "uint64", ["pointer"]);
        this.fast = cfg.replaceFast;
    }

    /** Take everything written so far (called from the JS timer only). */
    drain(): ArrayBuffer | null {
        const v = this.swap(this.ring);
        const index = v.and(1).toNumber();
        const len = v.shr(1).toNumber();
        if (len === 0) {
            return null;
        }
        const buf = this.ring.add(index === 0 ? OFF.buf0 : OFF.buf1).readPointer();
        return buf.readByteArray(len);
    }

    /** The loss counters alone (read per batch by emit.ts). */
    counters(): { drops: number; droppedBytes: number; waits: number } {
        return {
            drops: this.ring.add(OFF.drops).readU64().toNumber(),
            droppedBytes: this.ring.add(OFF.droppedBytes).readU64().toNumber(),
            waits: this.ring.add(OFF.waits).readU64().toNumber(),
        };
    }

    stats(): RingStats {
        return {
            records: this.ring.add(OFF.records).readU64().toNumber(),
            drops: this.ring.add(OFF.drops).readU64().toNumber(),
            droppedBytes: this.ring.add(OFF.droppedBytes).readU64().toNumber(),
            waits: this.ring.add(OFF.waits).readU64().toNumber(),
            connections: this.ring.add(OFF.nextConn).readU64().toNumber(),
            fastHooks: this.fastCount,
        };
    }

    /** A HookCtx for one hooked function (kept alive as long as the ring). */
    /** Replace one TLS function with a recording wrapper; returns the original's entry. */
    replaceTls(target: NativePointer, hook: number, kind: number, ex: boolean | "free",
               fns: (NativePointer | null)[]): NativePointer {
        const ctx = this.hookContext(hook, kind, ex === true, fns);
        const wrapper = new CModule(wrapperSource(ex), {
            hookctx: ctx, tls_record: this.cm.tls_record, tls_forget: this.cm.tls_forget,
        });
        this.modules.push(wrapper);
        this.install(target, wrapper.replacement, ctx.add(OFF_ORIGINAL));
        return target;
    }

    /** Replace ``target`` with ``replacement`` from a C wrapper whose source follows
     * CTX_PRELUDE (``hookctx``, ``original()``) and calls ``imports`` of the ring's module.
     * ``aux`` is a per-hook number the wrapper's helpers may read (CTX.aux). */
    replaceC(target: NativePointer, body: string, hook: number, imports: string[], aux = 0): void {
        const ctx = Memory.alloc(CTX.size);
        this.keep.push(ctx);
        ctx.writePointer(this.ring);
        ctx.add(CTX.hook).writeU32(hook);
        ctx.add(CTX.aux).writeU32(aux);
        const symbols: { [name: string]: NativePointer } = { hookctx: ctx };
        for (const name of imports) {
            const p = (this.cm as unknown as { [k: string]: NativePointer | undefined })[name];
            if (p === undefined) {
                throw new Error(`ring module has no ${name}`);
            }
            symbols[name] = p;
        }
        const wrapper = new CModule(CTX_PRELUDE + body, symbols);
        this.modules.push(wrapper);
        this.install(target, wrapper.replacement, ctx.add(CTX.original));
    }

    /** Patch ``target`` to jump to ``replacement`` and store where the original is reached
     * in ``slot``. With ``fast`` (the process is suspended: spawned, or a child held by child
     * gating) Interceptor.replaceFast, whose jump goes straight to the wrapper (1.6 µs less
     * per hooked call than replace's per-invocation bookkeeping, measured in bench/README);
     * its original is a trampoline only known once it is installed, so the slot is NULL
     * until then and a wrapper entered in that window waits for it (original() above).
     * Where replaceFast refuses (a function too short or too close to one already patched,
     * e.g. SSL_write_ex right after SSL_write in OpenSSL 3), and when attaching to a running
     * process, Interceptor.replace: inside its replacement a call to the target itself
     * reaches the original. */
    private install(target: NativePointer, replacement: NativePointer, slot: NativePointer): void {
        this.targets.push(target);
        if (this.fast) {
            slot.writePointer(ptr(0));
            try {
                slot.writePointer(Interceptor.replaceFast(target, replacement));
                this.fastCount++;
                return;
            } catch (e) {
                // not patchable this way: the ordinary replace below
            }
        }
        slot.writePointer(target);
        Interceptor.replace(target, replacement);
    }

    /** Put every patched function back (dispose). A thread still blocked inside a wrapper
     * returns through it (the wrapper modules stay mapped), but no new call enters one: the
     * script's unload waits for threads inside replaced functions, and a thread blocked in
     * a hooked read() of an idle socket or of stdin would keep it waiting forever. */
    revert(): void {
        for (const t of this.targets.splice(0)) {
            try {
                Interceptor.revert(t);
            } catch (e) {
                // already reverted, or never fully installed
            }
        }
        Interceptor.flush();
    }

    hookContext(hook: number, kind: number, ex: boolean, fns: (NativePointer | null)[]): NativePointer {
        const ctx = Memory.alloc(HOOKCTX_SIZE);
        this.keep.push(ctx);
        ctx.writePointer(this.ring);
        ctx.add(8).writeU32(hook);
        ctx.add(12).writeU32(kind);
        ctx.add(16).writeU32(ex ? 1 : 0);
        fns.forEach((f, i) => ctx.add(24 + 8 * i).writePointer(f ?? ptr(0)));
        return ctx;
    }
}
