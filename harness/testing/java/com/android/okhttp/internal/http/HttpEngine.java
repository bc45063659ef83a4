package com.android.okhttp.internal.http;

import com.android.okhttp.Connection;
import com.android.okhttp.Headers;
import com.android.okhttp.Request;
import com.android.okhttp.Response;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/** Stand-in for Android's HttpEngine (what HttpURLConnection runs on Android): the fields
 *  userRequest/userResponse, connection() and readResponse(), which here really sends the
 *  request line and headers on the given socket and parses the status line and headers. */
public final class HttpEngine {
    final Request userRequest;
    private Response userResponse;
    private final Socket socket;

    public HttpEngine(Request request, Socket socket) {
        this.userRequest = request;
        this.socket = socket;
    }

    public Connection connection() { return () -> socket; }

    public Response getResponse() { return userResponse; }

    public void readResponse() throws IOException {
        URI u = URI.create(userRequest.urlString());
        StringBuilder head = new StringBuilder(userRequest.method() + " " + u.getRawPath()
            + " HTTP/1.1\r\n");
        Headers h = userRequest.headers();
        for (int i = 0; i < h.size(); i++) {
            head.append(h.name(i)).append(": ").append(h.value(i)).append("\r\n");
        }
        head.append("\r\n");
        OutputStream out = socket.getOutputStream();
        out.write(head.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
            StandardCharsets.ISO_8859_1));
        String status = in.readLine();
        Headers.Builder got = new Headers.Builder();
        for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
            int colon = line.indexOf(':');
            got.add(line.substring(0, colon), line.substring(colon + 1).trim());
        }
        userResponse = new Response(Integer.parseInt(status.split(" ")[1]), got.build());
    }
}
