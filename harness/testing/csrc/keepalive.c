/* Keep-alive HTTPS over loopback at the top rate (harness/testing/keepalive.py drives it for
 * bench/hook_overhead.py and the full-rate capture test).
 *
 *   keepalive server PORT_FILE CERT KEY   serve one connection, then print the bytes
 *                                         received and their SHA-256
 *   keepalive client PORT CA SECONDS BODY_BYTES RESULT_FILE
 *                                         POST in a loop on one connection for SECONDS,
 *                                         then write requests, bytes sent/read and own CPU
 *                                         as JSON to RESULT_FILE (its stdout may be Frida's)
 *
 * Both sides are C (OpenSSL 3) so that what the benchmark measures is the cost of the hooks
 * on SSL_write/SSL_read, not an interpreter's per-request overhead. Each request is one
 * SSL_write (headers and body), each response read until complete with SSL_read. Time is
 * measured inside the client from after the handshake, so Frida's spawn and injection are
 * not counted. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_between(const struct rusage *a, const struct rusage *b) {
  return (b->ru_utime.tv_sec - a->ru_utime.tv_sec) + (b->ru_utime.tv_usec - a->ru_utime.tv_usec) / 1e6 +
         (b->ru_stime.tv_sec - a->ru_stime.tv_sec) + (b->ru_stime.tv_usec - a->ru_stime.tv_usec) / 1e6;
}

static int fail(const char *what) {
  fprintf(stderr, "keepalive: %s\n", what);
  ERR_print_errors_fp(stderr);
  return 1;
}

static int serve(const char *port_file, const char *cert, const char *key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) return fail("cert");
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) return fail("key");
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(0x7f000001);
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0) return fail("bind");
  socklen_t sl = sizeof sa;
  getsockname(ls, (struct sockaddr *)&sa, &sl);
  FILE *pf = fopen(port_file, "w");
  if (pf == NULL) return fail("port file");
  fprintf(pf, "%d\n", ntohs(sa.sin_port));
  fclose(pf);
  int fd = accept(ls, NULL, NULL);
  if (fd < 0) return fail("accept");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) return fail("accept tls");
  static char buf[1 << 17];
  size_t have = 0;
  unsigned long long received = 0, requests = 0;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (;;) {
    int n = SSL_read(ssl, buf + have, (int)(sizeof buf - have));
    if (n <= 0) break;
    received += (unsigned)n;
    EVP_DigestUpdate(md, buf + have, (size_t)n);
    have += (size_t)n;
    for (;;) { /* answer every complete request in the buffer */
      char *end = memmem(buf, have, "\r\n\r\n", 4);
      if (end == NULL) break;
      size_t head = (size_t)(end - buf) + 4;
      char *cl = memmem(buf, head, "Content-Length: ", 16);
      size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
      if (have < head + body) break;
      memmove(buf, buf + head + body, have - head - body);
      have -= head + body;
      requests++;
      if (SSL_write(ssl, RESPONSE, sizeof RESPONSE - 1) != (int)(sizeof RESPONSE - 1))
        return fail("write");
    }
    if (have == sizeof buf) return fail("request too large");
  }
  unsigned char digest[32];
  char hex[65];
  EVP_DigestFinal_ex(md, digest, NULL);
  EVP_MD_CTX_free(md);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  printf("{\"received\": %llu, \"requests\": %llu, \"sha256\": \"%s\"}\n", received, requests,
         hex);
  SSL_free(ssl);
  close(fd);
  close(ls);
  SSL_CTX_free(ctx);
  return 0;
}

static int client(int port, const char *ca, double seconds, size_t body_bytes,
                  const char *result_file) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!SSL_CTX_load_verify_locations(ctx, ca, NULL)) return fail("ca");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(0x7f000001);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return fail("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), "localhost", strlen("localhost"));
  if (SSL_connect(ssl) != 1) return fail("handshake");
  char *req = malloc(body_bytes + 256);
  int head = snprintf(req, 256, "POST /bench HTTP/1.1\r\nHost: localhost\r\n"
                      "Content-Length: %zu\r\n\r\n", body_bytes);
  memset(req + head, 'x', body_bytes);
  int len = head + (int)body_bytes;
  char resp[256];
  const int want = (int)(sizeof RESPONSE - 1);
  unsigned long long requests = 0, sent = 0, read_bytes = 0;
  struct rusage r0, r1, t0, t1;
  getrusage(RUSAGE_SELF, &r0);
  getrusage(RUSAGE_THREAD, &t0);
  double start = now(), end = start + seconds, t = start;
  while (t < end) {
    /* a counter in the body makes each request distinct, so a lost or repeated record shows */
    if (body_bytes >= 20) {
      char counter[21];
      snprintf(counter, sizeof counter, "%020llu", requests);
      memcpy(req + head, counter, 20);
    }
    if (SSL_write(ssl, req, len) != len) return fail("write");
    sent += (unsigned)len;
    int got = 0;
    while (got < want) {
      int n = SSL_read(ssl, resp + got, (int)sizeof resp - got);
      if (n <= 0) return fail("read");
      got += n;
    }
    read_bytes += (unsigned)got;
    requests++;
    if ((requests & 15) == 0) t = now();
  }
  double elapsed = now() - start;
  getrusage(RUSAGE_THREAD, &t1);
  getrusage(RUSAGE_SELF, &r1);
  /* the whole process (with Frida's agent threads when captured) and the loop's thread */
  double cpu = cpu_between(&r0, &r1), thread_cpu = cpu_between(&t0, &t1);
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  free(req);
  FILE *out = fopen(result_file, "w");
  if (out == NULL) return fail("result file");
  fprintf(out, "{\"requests\": %llu, \"seconds\": %.6f, \"sent\": %llu, \"read\": %llu, "
          "\"cpu\": %.6f, \"thread_cpu\": %.6f}\n", requests, elapsed, sent, read_bytes, cpu,
          thread_cpu);
  fclose(out);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "server") == 0) return serve(argv[2], argv[3], argv[4]);
  if (argc == 7 && strcmp(argv[1], "client") == 0)
    return client(atoi(argv[2]), argv[3], atof(argv[4]), (size_t)atol(argv[5]), argv[6]);
  fprintf(stderr, "usage: %s server PORT_FILE CERT KEY | "
          "client PORT CA SECONDS BODY_BYTES RESULT_FILE\n",
          argv[0]);
  return 2;
}
