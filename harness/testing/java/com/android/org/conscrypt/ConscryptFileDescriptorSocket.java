package com.android.org.conscrypt;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import javax.net.ssl.HandshakeCompletedListener;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/** Stand-in for Conscrypt's ConscryptFileDescriptorSocket: the real class name, its inner
 *  SSLOutputStream/SSLInputStream (write/read(byte[], int, int), outer instance in this$0),
 *  the `ssl` field and getFileDescriptor$(). TLS itself is delegated to a JSSE socket: on a
 *  JVM there is no BoringSSL underneath, only the Java surface the hooks read. */
public class ConscryptFileDescriptorSocket extends SSLSocket {
    private final SSLSocket tls;
    final NativeSsl ssl = new NativeSsl(0x7e57L);
    private final SSLOutputStream out = new SSLOutputStream();
    private final SSLInputStream in = new SSLInputStream();

    public ConscryptFileDescriptorSocket(String host, int port) throws IOException {
        tls = (SSLSocket) SSLSocketFactory.getDefault().createSocket(host, port);
    }

    FileDescriptor getFileDescriptor$() { return FileDescriptor.in; }

    private final class SSLOutputStream extends OutputStream {
        @Override public void write(int b) throws IOException { write(new byte[] {(byte) b}, 0, 1); }

        @Override public void write(byte[] b, int off, int len) throws IOException {
            tls.getOutputStream().write(b, off, len);
        }

        @Override public void flush() throws IOException { tls.getOutputStream().flush(); }
    }

    private final class SSLInputStream extends InputStream {
        @Override public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override public int read(byte[] b, int off, int len) throws IOException {
            return tls.getInputStream().read(b, off, len);
        }
    }

    @Override public OutputStream getOutputStream() { return out; }
    @Override public InputStream getInputStream() { return in; }
    @Override public InetAddress getInetAddress() { return tls.getInetAddress(); }
    @Override public int getPort() { return tls.getPort(); }
    @Override public InetAddress getLocalAddress() { return tls.getLocalAddress(); }
    @Override public int getLocalPort() { return tls.getLocalPort(); }
    @Override public synchronized void close() throws IOException { tls.close(); }
    @Override public String getApplicationProtocol() { return tls.getApplicationProtocol(); }
    @Override public String[] getSupportedCipherSuites() { return tls.getSupportedCipherSuites(); }
    @Override public String[] getEnabledCipherSuites() { return tls.getEnabledCipherSuites(); }
    @Override public void setEnabledCipherSuites(String[] s) { tls.setEnabledCipherSuites(s); }
    @Override public String[] getSupportedProtocols() { return tls.getSupportedProtocols(); }
    @Override public String[] getEnabledProtocols() { return tls.getEnabledProtocols(); }
    @Override public void setEnabledProtocols(String[] p) { tls.setEnabledProtocols(p); }
    @Override public SSLSession getSession() { return tls.getSession(); }
    @Override public void addHandshakeCompletedListener(HandshakeCompletedListener l) { tls.addHandshakeCompletedListener(l); }
    @Override public void removeHandshakeCompletedListener(HandshakeCompletedListener l) { tls.removeHandshakeCompletedListener(l); }
    @Override public void startHandshake() throws IOException { tls.startHandshake(); }
    @Override public void setUseClientMode(boolean m) { tls.setUseClientMode(m); }
    @Override public boolean getUseClientMode() { return tls.getUseClientMode(); }
    @Override public void setNeedClientAuth(boolean n) { tls.setNeedClientAuth(n); }
    @Override public boolean getNeedClientAuth() { return tls.getNeedClientAuth(); }
    @Override public void setWantClientAuth(boolean w) { tls.setWantClientAuth(w); }
    @Override public boolean getWantClientAuth() { return tls.getWantClientAuth(); }
    @Override public void setEnableSessionCreation(boolean f) { tls.setEnableSessionCreation(f); }
    @Override public boolean getEnableSessionCreation() { return tls.getEnableSessionCreation(); }
}
