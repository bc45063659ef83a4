// Plain sockets: connect() (IPv4/IPv6), plaintext TCP payloads on connections that never do
// TLS, UDP datagrams with their peer, and blockQuic (UDP to ports 443/80 fails with EPERM,
// as a kernel firewall would make it, so QUIC falls back to TCP; each refusal is recorded).
//
// write()/read() run on every fd of the process, so the filter is C and costs one load: the
// fd table (two words per fd, see ring_c.ts) only holds sockets this agent saw connect or
// send a datagram. A TCP connection starts NEW; its first outgoing bytes decide: a TLS
// record header (0x16 0x03) makes it TLS (never recorded here: the TLS hooks see its
// plaintext), anything else PLAIN; if the peer speaks first, a TLS handshake record from it
// makes it TLS too. An fd an SSL object uses is TLS too (ring_c.ts conn_info).
// A plaintext connection gets its connection row (CONN_INFO, layer tcp) when it is known to
// be one (first bytes out, or the peer speaking first); connect() itself is a CONNECT
// record. close() forgets the fd. UDP peers get one connection per (socket, peer).

import { HookStatus } from "../protocol.js";
import { reportHook } from "../registry.js";
import { CFragment, NativeRing } from "./ring.js";
import { SOCKETS_C } from "./sockets_c.js";

const GROUP = "native.sockets";

export function socketsFragment(): CFragment {
    const errno = Module.findGlobalExportByName("__errno_location")   // glibc
        ?? Module.getGlobalExportByName("__errno");                  // bionic
    return {
        source: SOCKETS_C,
        symbols: { getsockopt: Module.getGlobalExportByName("getsockopt"), errno_loc: errno },
    };
}

const SEND = "if (sock_block (hookctx, fd, NULL, NULL)) { LEAVE (); return -1; }";
/** writev/readv: their iovec array as a struct msghdr without a name (iov at 16, iovlen at
 * 24 on LP64 glibc and bionic), so the sendmsg/recvmsg paths read them. Stored word by
 * word: a CModule's own memset/memcpy copy a byte at a time (ring_c.ts). */
const AS_MSG = `guint64 msg_[7];
  guint8 * msg = (guint8 *) msg_;
  msg_[0] = msg_[1] = msg_[4] = msg_[5] = msg_[6] = 0;
  msg_[2] = (guint64) (gsize) iov;
  msg_[3] = iovcnt > 0 ? (guint64) iovcnt : 0;`;

interface SockFunction {
    name: string;
    /** The wrapper's C: `replacement` calling `original()` and the ring's helpers. */
    body: string;
    /** Bionic routes this function through another one we hook (would record twice). */
    bionicVia?: string;
}

const IMPORTS = ["sock_block", "sock_out", "sock_in", "sock_connect", "sock_close",
    "sock_block_mmsg", "sock_mmsg"];
const DECLS = `
#include <string.h>
extern int sock_block (void * c, int fd, const void * sa, const void * msg);
extern void sock_out (void * c, int fd, const void * buf, const void * msg, gssize n, const void * sa);
extern void sock_in (void * c, int fd, const void * buf, const void * msg, gssize n, const void * sa);
extern void sock_connect (void * c, int fd, const void * sa, int ret);
extern void sock_close (void * c, int fd);
extern int sock_block_mmsg (void * c, int fd, const void * vec, unsigned int vlen);
extern void sock_mmsg (void * c, int fd, const void * vec, int n, gboolean out);
`;

const TABLE: SockFunction[] = [
    { name: "connect", body: `
int replacement (int fd, const void * sa, guint32 len)
{
  ENTER ();
  int ret = ((int (*) (int, const void *, guint32)) original ()) (fd, sa, len);
  sock_connect (hookctx, fd, sa, ret);
  LEAVE ();
  return ret;
}` },
    { name: "send", bionicVia: "sendto", body: `
gssize replacement (int fd, const void * buf, gsize n, int flags)
{
  ENTER ();
  ${SEND}
  gssize ret = ((gssize (*) (int, const void *, gsize, int)) original ()) (fd, buf, n, flags);
  sock_out (hookctx, fd, buf, NULL, ret, NULL);
  LEAVE ();
  return ret;
}` },
    { name: "write", body: `
gssize replacement (int fd, const void * buf, gsize n)
{
  ENTER ();
  ${SEND}
  gssize ret = ((gssize (*) (int, const void *, gsize)) original ()) (fd, buf, n);
  sock_out (hookctx, fd, buf, NULL, ret, NULL);
  LEAVE ();
  return ret;
}` },
    { name: "sendto", body: `
gssize replacement (int fd, const void * buf, gsize n, int flags, const void * sa, guint32 len)
{
  ENTER ();
  if (sock_block (hookctx, fd, sa, NULL)) { LEAVE (); return -1; }
  gssize ret = ((gssize (*) (int, const void *, gsize, int, const void *, guint32)) original ())
      (fd, buf, n, flags, sa, len);
  sock_out (hookctx, fd, buf, NULL, ret, sa);
  LEAVE ();
  return ret;
}` },
    { name: "sendmsg", body: `
gssize replacement (int fd, const void * msg, int flags)
{
  ENTER ();
  if (sock_block (hookctx, fd, NULL, msg)) { LEAVE (); return -1; }
  gssize ret = ((gssize (*) (int, const void *, int)) original ()) (fd, msg, flags);
  sock_out (hookctx, fd, NULL, msg, ret, NULL);
  LEAVE ();
  return ret;
}` },
    { name: "writev", body: `
gssize replacement (int fd, const void * iov, int iovcnt)
{
  ENTER ();
  ${SEND}
  gssize ret = ((gssize (*) (int, const void *, int)) original ()) (fd, iov, iovcnt);
  ${AS_MSG}
  sock_out (hookctx, fd, NULL, msg, ret, NULL);
  LEAVE ();
  return ret;
}` },
    { name: "sendmmsg", body: `
int replacement (int fd, void * vec, unsigned int vlen, int flags)
{
  ENTER ();
  if (sock_block_mmsg (hookctx, fd, vec, vlen)) { LEAVE (); return -1; }
  int ret = ((int (*) (int, void *, unsigned int, int)) original ()) (fd, vec, vlen, flags);
  sock_mmsg (hookctx, fd, vec, ret, TRUE);
  LEAVE ();
  return ret;
}` },
    { name: "recv", bionicVia: "recvfrom", body: `
gssize replacement (int fd, void * buf, gsize n, int flags)
{
  ENTER ();
  gssize ret = ((gssize (*) (int, void *, gsize, int)) original ()) (fd, buf, n, flags);
  sock_in (hookctx, fd, buf, NULL, ret, NULL);
  LEAVE ();
  return ret;
}` },
    { name: "read", body: `
gssize replacement (int fd, void * buf, gsize n)
{
  ENTER ();
  gssize ret = ((gssize (*) (int, void *, gsize)) original ()) (fd, buf, n);
  sock_in (hookctx, fd, buf, NULL, ret, NULL);
  LEAVE ();
  return ret;
}` },
    { name: "readv", body: `
gssize replacement (int fd, const void * iov, int iovcnt)
{
  ENTER ();
  gssize ret = ((gssize (*) (int, const void *, int)) original ()) (fd, iov, iovcnt);
  ${AS_MSG}
  sock_in (hookctx, fd, NULL, msg, ret, NULL);
  LEAVE ();
  return ret;
}` },
    { name: "recvfrom", body: `
gssize replacement (int fd, void * buf, gsize n, int flags, void * sa, guint32 * len)
{
  ENTER ();
  gssize ret = ((gssize (*) (int, void *, gsize, int, void *, guint32 *)) original ())
      (fd, buf, n, flags, sa, len);
  sock_in (hookctx, fd, buf, NULL, ret, (len != NULL && *len >= 4) ? sa : NULL);
  LEAVE ();
  return ret;
}` },
    { name: "recvmsg", body: `
gssize replacement (int fd, void * msg, int flags)
{
  ENTER ();
  gssize ret = ((gssize (*) (int, void *, int)) original ()) (fd, msg, flags);
  sock_in (hookctx, fd, NULL, msg, ret, NULL);
  LEAVE ();
  return ret;
}` },
    { name: "recvmmsg", body: `
int replacement (int fd, void * vec, unsigned int vlen, int flags, void * timeout)
{
  ENTER ();
  int ret = ((int (*) (int, void *, unsigned int, int, void *)) original ())
      (fd, vec, vlen, flags, timeout);
  sock_mmsg (hookctx, fd, vec, ret, FALSE);
  LEAVE ();
  return ret;
}` },
    { name: "close", body: `
int replacement (int fd)
{
  ENTER ();
  sock_close (hookctx, fd);
  int ret = ((int (*) (int)) original ()) (fd);
  LEAVE ();
  return ret;
}` },
];

/** Android's libc is bionic (its send() calls sendto(), recv() calls recvfrom()). */
export function isBionic(): boolean {
    return Process.findModuleByName("libc.so") !== null
        && Process.findModuleByName("libc.so.6") === null;
}

export function installSockets(ring: NativeRing, exclude: Set<string>): void {
    const bionic = isBionic();
    for (const f of TABLE) {
        const name = `${GROUP}.${f.name}`;
        const addr = Module.findGlobalExportByName(f.name);
        const owner = addr !== null ? Process.findModuleByAddress(addr) : null;
        const target = owner !== null ? owner.name : "libc";
        if (exclude.has(name) || exclude.has(GROUP)) {
            reportHook(GROUP, name, HookStatus.SKIPPED, target, "excluded by configuration");
            continue;
        }
        if (addr === null) {
            reportHook(GROUP, name, HookStatus.SKIPPED, target, `${f.name} is not exported`);
            continue;
        }
        if (bionic && f.bionicVia !== undefined) {
            reportHook(GROUP, name, HookStatus.SKIPPED, target,
                `bionic's ${f.name}() calls ${f.bionicVia}(), which is hooked`);
            continue;
        }
        try {
            const index = reportHook(GROUP, name, HookStatus.INSTALLED, target);
            ring.replaceC(addr, DECLS + f.body, index, IMPORTS);
        } catch (e) {
            reportHook(GROUP, name, HookStatus.FAILED, target, String(e));
        }
    }
}
