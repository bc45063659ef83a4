/* In-process TLS ping-pong over an OpenSSL BIO pair (no sockets, no kernel): per iteration
   the client SSL_writes a request, the server SSL_reads it and SSL_writes a response, the
   client SSL_reads it. Under the agent that is four TLS records and no socket call, so the
   thread CPU per iteration measures the TLS hooks' cost without loopback scheduling noise.

   usage: tls_pingpong CERT KEY ITERATIONS REQUEST_BYTES RESPONSE_BYTES RESULT_JSON */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s (clockid_t id)
{
  struct timespec t;
  clock_gettime (id, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main (int argc, char ** argv)
{
  if (argc != 7)
  {
    fprintf (stderr, "usage: %s CERT KEY ITERATIONS REQUEST_BYTES RESPONSE_BYTES RESULT_JSON\n",
        argv[0]);
    return 2;
  }
  long n = atol (argv[3]);
  int req_len = atoi (argv[4]), resp_len = atoi (argv[5]);
  if (n <= 0 || req_len <= 0 || resp_len <= 0 || req_len > 16384 || resp_len > 16384)
  {
    fprintf (stderr, "bad sizes\n");
    return 2;
  }
  SSL_CTX * sctx = SSL_CTX_new (TLS_server_method ());
  SSL_CTX * cctx = SSL_CTX_new (TLS_client_method ());
  if (SSL_CTX_use_certificate_chain_file (sctx, argv[1]) != 1
      || SSL_CTX_use_PrivateKey_file (sctx, argv[2], SSL_FILETYPE_PEM) != 1)
  {
    ERR_print_errors_fp (stderr);
    return 1;
  }
  SSL * server = SSL_new (sctx);
  SSL * client = SSL_new (cctx);
  BIO * cb;
  BIO * sb;
  BIO_new_bio_pair (&cb, 1 << 16, &sb, 1 << 16);
  SSL_set_bio (client, cb, cb);
  SSL_set_bio (server, sb, sb);
  SSL_set_connect_state (client);
  SSL_set_accept_state (server);
  for (int i = 0; i < 100 && !(SSL_is_init_finished (client) && SSL_is_init_finished (server));
       i++)
  {
    SSL_do_handshake (client);
    SSL_do_handshake (server);
  }
  if (!SSL_is_init_finished (client) || !SSL_is_init_finished (server))
  {
    fprintf (stderr, "handshake did not finish\n");
    ERR_print_errors_fp (stderr);
    return 1;
  }
  static char req[16384], resp[16384], buf[16384];
  memset (req, 'q', sizeof (req));
  memset (resp, 'r', sizeof (resp));
  double w0 = clock_s (CLOCK_MONOTONIC), c0 = clock_s (CLOCK_THREAD_CPUTIME_ID);
  for (long i = 0; i < n; i++)
  {
    if (SSL_write (client, req, req_len) != req_len
        || SSL_read (server, buf, sizeof (buf)) != req_len
        || SSL_write (server, resp, resp_len) != resp_len
        || SSL_read (client, buf, sizeof (buf)) != resp_len)
    {
      fprintf (stderr, "ping-pong failed at %ld\n", i);
      ERR_print_errors_fp (stderr);
      return 1;
    }
  }
  double w1 = clock_s (CLOCK_MONOTONIC), c1 = clock_s (CLOCK_THREAD_CPUTIME_ID);
  FILE * f = fopen (argv[6], "w");
  if (f == NULL)
    return 1;
  fprintf (f, "{\"iterations\": %ld, \"wall\": %.9f, \"thread_cpu\": %.9f}\n", n, w1 - w0,
      c1 - c0);
  fclose (f);
  return 0;
}
