/* A minimal TLS client for hook tests: connects to 127.0.0.1:PORT, verifies the server as
 * "localhost" against CA, sends BODY, reads one response. Builds against OpenSSL 3 or
 * Android's BoringSSL (Debian android-libboringssl). Optional: dlopen nothing, plain link. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s PORT CA BODY\n", argv[0]); return 2; }
  int port = atoi(argv[1]);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!SSL_CTX_load_verify_locations(ctx, argv[2], NULL)) { fprintf(stderr, "ca\n"); return 1; }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa; memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET; sa.sin_port = htons(port); sa.sin_addr.s_addr = htonl(0x7f000001);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("connect"); return 1; }
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  /* BoringSSL needs the explicit length here (0 fails verification). */
  X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), "localhost", strlen("localhost"));
  if (SSL_connect(ssl) != 1) { ERR_print_errors_fp(stderr); return 1; }
  const char *body = argv[3];
  char req[8192];
  int n = snprintf(req, sizeof req,
                   "POST /c HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n%s",
                   strlen(body), body);
  if (SSL_write(ssl, req, n) != n) { ERR_print_errors_fp(stderr); return 1; }
  char buf[4096];
  int got = SSL_read(ssl, buf, sizeof buf);
  if (got <= 0) { ERR_print_errors_fp(stderr); return 1; }
  fwrite(buf, 1, got, stdout);
  SSL_shutdown(ssl); SSL_free(ssl); close(fd); SSL_CTX_free(ctx);
  return 0;
}
