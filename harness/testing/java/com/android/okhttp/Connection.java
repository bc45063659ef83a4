package com.android.okhttp;

import java.net.Socket;

/** Stand-in for com.android.okhttp.Connection: the socket the exchange runs on. */
public interface Connection {
    Socket getSocket();
}
