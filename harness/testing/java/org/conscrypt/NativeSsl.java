package org.conscrypt;

/** Stand-in for Conscrypt's NativeSsl: the hooks read its `ssl` field (the SSL* address). */
final class NativeSsl {
    final long ssl;

    NativeSsl(long ssl) { this.ssl = ssl; }
}
