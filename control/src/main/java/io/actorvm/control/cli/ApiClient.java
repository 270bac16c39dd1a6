package io.actorvm.control.cli;

import io.actorvm.control.api.ApiEndpoint;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The CLI's side of the control API: one request, one response, on the Unix socket (HTTP/1.1
 * written by hand, as curl --unix-socket does: the JDK's HTTP client has no Unix sockets) or on
 * TCP through the JDK's client, with the bearer token when there is one.
 */
final class ApiClient {
    record Response(int status, String body) {}

    /** What a request may take to be answered over TCP unless it says (the Unix socket waits as long as the API takes). */
    static final Duration ANSWER_WITHIN = Duration.ofSeconds(60);

    private final ApiEndpoint endpoint;
    private final String token;

    ApiClient(ApiEndpoint endpoint, String token) {
        this.endpoint = endpoint;
        this.token = token;
    }

    /** Sends {@code method target} with an empty body; IOException when the API cannot be reached. */
    Response send(String method, String target) throws IOException, InterruptedException {
        return send(method, target, null);
    }

    /** Sends {@code method target} with {@code json} as its body (none when null). */
    Response send(String method, String target, String json) throws IOException, InterruptedException {
        return send(method, target, json, ANSWER_WITHIN);
    }

    /** As {@link #send(String, String, String)}, for a request the API may take up to {@code answerWithin} to answer. */
    Response send(String method, String target, String json, Duration answerWithin) throws IOException, InterruptedException {
        byte[] body = json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
        return switch (endpoint) {
            case ApiEndpoint.UnixSocket u -> overSocket(u, method, target, body);
            case ApiEndpoint.Tcp t -> {
                HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + t.host() + ":" + t.port() + target))
                        .method(method, HttpRequest.BodyPublishers.ofByteArray(body)).timeout(answerWithin);
                if (json != null) b.header("Content-Type", "application/json");
                if (token != null) b.header("Authorization", "Bearer " + token);
                HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()
                        .send(b.build(), HttpResponse.BodyHandlers.ofString());
                yield new Response(r.statusCode(), r.body());
            }
        };
    }

    private Response overSocket(ApiEndpoint.UnixSocket u, String method, String target, byte[] body) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(u.path()));
            String request = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + body.length + "\r\n"
                    + (body.length > 0 ? "Content-Type: application/json\r\n" : "")
                    + (token != null ? "Authorization: Bearer " + token + "\r\n" : "") + "Connection: close\r\n\r\n";
            ByteBuffer head = ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII));
            while (head.hasRemaining()) ch.write(head);
            ByteBuffer out = ByteBuffer.wrap(body);
            while (out.hasRemaining()) ch.write(out);
            return read(ch);
        }
    }

    /**
     * Reads one response: headers, then the body by its Content-Length or chunks. Not "until the
     * connection closes": pekko-http waits for the client to close after a "Connection: close"
     * response, as every HTTP client does once it has the whole response.
     */
    static Response read(SocketChannel ch) throws IOException {
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(8192);
        while (true) {
            String text = in.toString(StandardCharsets.ISO_8859_1);
            int headerEnd = text.indexOf("\r\n\r\n");
            if (headerEnd >= 0) {
                String headers = text.substring(0, headerEnd).toLowerCase();
                int body = headerEnd + 4;
                var length = java.util.regex.Pattern.compile("(?m)^content-length:\\s*(\\d+)").matcher(headers);
                if (length.find() && text.length() - body >= Long.parseLong(length.group(1))) return parse(in.toString(StandardCharsets.UTF_8));
                if (headers.contains("transfer-encoding: chunked") && text.endsWith("\r\n0\r\n\r\n")) return parse(in.toString(StandardCharsets.UTF_8));
            }
            if (ch.read(buf.clear()) < 0) return parse(in.toString(StandardCharsets.UTF_8));
            in.write(buf.array(), 0, buf.position());
        }
    }

    /** A response as pekko-http writes it with Connection: close: status line, headers, body (chunked or not). */
    static Response parse(String raw) throws IOException {
        int headerEnd = raw.indexOf("\r\n\r\n");
        if (!raw.startsWith("HTTP/1.1 ") || headerEnd < 0) throw new IOException("not an HTTP response: " + raw.lines().findFirst().orElse(""));
        int status = Integer.parseInt(raw.substring(9, 12));
        String headers = raw.substring(0, headerEnd).toLowerCase();
        String body = raw.substring(headerEnd + 4);
        if (headers.contains("transfer-encoding: chunked")) {
            StringBuilder b = new StringBuilder();
            int at = 0;
            while (true) {
                int eol = body.indexOf("\r\n", at);
                int size = Integer.parseInt(body.substring(at, eol).split(";")[0].strip(), 16);
                if (size == 0) break;
                b.append(body, eol + 2, eol + 2 + size);
                at = eol + 2 + size + 2;
            }
            body = b.toString();
        }
        return new Response(status, body);
    }
}
