// Name lookups: getaddrinfo (and Android's android_getaddrinfofornet, which bionic's
// getaddrinfo and Java's InetAddress both go through): the name asked and the addresses
// returned, so every peer IP of the capture maps back to a name. The record is packed in C
// after the original returned (DNS_FORMAT, harness.protocol.decode_dns).

import { DNS_ADDRESS_SIZE, DNS_HEADER_SIZE, HookStatus, NativeKind } from "../protocol.js";
import { reportHook } from "../registry.js";
import { CFragment, NativeRing } from "./ring.js";
import { isBionic } from "./sockets.js";

const GROUP = "native.dns";

const DNS_C = `
#define K_DNS ${NativeKind.DNS}
#define DNS_HDR ${DNS_HEADER_SIZE}
#define DNS_ADDR ${DNS_ADDRESS_SIZE}
#define DNS_MAX_ADDRS 32
#define DNS_MAX_NAME 255

typedef struct {
  Ring * ring;
  guint32 hook;
  guint32 ai_addr_offset; /* struct addrinfo: 24 in glibc, 32 in bionic (canonname first) */
  void * original;
} DnsCtx;

/* After getaddrinfo returned ret; res is the list when ret == 0. */
void dns_record (DnsCtx * c, const char * node, int ret, const guint8 * res)
{
  if (node == NULL)
    return;
  int e = *errno_loc ();
  guint8 body[DNS_HDR + DNS_MAX_NAME + 1 + DNS_MAX_ADDRS * DNS_ADDR];
  gsize nlen = strlen (node);
  if (nlen > DNS_MAX_NAME) nlen = DNS_MAX_NAME;
  memcpy (body + DNS_HDR, node, nlen);
  body[DNS_HDR + nlen] = 0;
  guint8 * addrs = body + DNS_HDR + nlen + 1;
  guint16 count = 0;
  const guint8 * ai = ret == 0 ? res : NULL;
  for (int guard = 0; ai != NULL && guard < 256 && count < DNS_MAX_ADDRS; guard++)
  {
    int family;
    const guint8 * sa;
    memcpy (&family, ai + 4, 4);
    memcpy (&sa, ai + c->ai_addr_offset, 8);
    if (sa != NULL && (family == 2 || family == 10))
    {
      guint8 entry[DNS_ADDR];
      guint16 f16 = (guint16) family;
      memset (entry, 0, DNS_ADDR);
      memcpy (entry, &f16, 2);
      memcpy (entry + 2, family == 2 ? sa + 4 : sa + 8, family == 2 ? 4 : 16);
      gboolean dup = FALSE;
      for (guint16 i = 0; i < count && !dup; i++)
      {
        dup = TRUE;
        for (int b = 0; b < DNS_ADDR && dup; b++)
          dup = addrs[i * DNS_ADDR + b] == entry[b];
      }
      if (!dup)
        memcpy (addrs + DNS_ADDR * count++, entry, DNS_ADDR);
    }
    memcpy (&ai, ai + 40, 8);
  }
  guint16 zero = 0;
  memcpy (body, &ret, 4);
  memcpy (body + 4, &count, 2);
  memcpy (body + 6, &zero, 2);
  write_record (c->ring, K_DNS, (guint32) gettid (), -1, 0, (guint16) c->hook, body,
      DNS_HDR + nlen + 1 + (gsize) count * DNS_ADDR);
  *errno_loc () = e;
}
`;

export function dnsFragment(): CFragment {
    return { source: DNS_C, symbols: {} };
}

const DECL = "extern void dns_record (void * c, const char * node, int ret, const void * res);\n";

const TABLE = [
    { name: "android_getaddrinfofornet", body: `
int replacement (const char * node, const char * service, const void * hints, guint32 netid,
    guint32 mark, void ** res)
{
  ENTER ();
  int ret = ((int (*) (const char *, const char *, const void *, guint32, guint32, void **))
      original ()) (node, service, hints, netid, mark, res);
  dns_record (hookctx, node, ret, ret == 0 && res != NULL ? *res : NULL);
  LEAVE ();
  return ret;
}` },
    { name: "getaddrinfo", body: `
int replacement (const char * node, const char * service, const void * hints, void ** res)
{
  ENTER ();
  int ret = ((int (*) (const char *, const char *, const void *, void **)) original ())
      (node, service, hints, res);
  dns_record (hookctx, node, ret, ret == 0 && res != NULL ? *res : NULL);
  LEAVE ();
  return ret;
}` },
];

export function installDns(ring: NativeRing, exclude: Set<string>): void {
    const bionic = isBionic();
    let forNet = false;
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
        if (f.name === "getaddrinfo" && forNet) {
            // bionic: getaddrinfo(...) is android_getaddrinfofornet(..., NETID_UNSET, ...)
            reportHook(GROUP, name, HookStatus.SKIPPED, target,
                "calls android_getaddrinfofornet, which is hooked");
            continue;
        }
        try {
            const index = reportHook(GROUP, name, HookStatus.INSTALLED, target);
            ring.replaceC(addr, DECL + f.body, index, ["dns_record"], bionic ? 32 : 24);
            forNet = forNet || f.name === "android_getaddrinfofornet";
        } catch (e) {
            reportHook(GROUP, name, HookStatus.FAILED, target, String(e));
        }
    }
}
