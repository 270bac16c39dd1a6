package io.actorvm.control.api;

import io.actorvm.vmm.actors.cluster.HostPort;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;

/**
 * Where the control API listens. A Unix domain socket is the default (as Firecracker's
 * {@code --api-sock}): only processes that may open the file (mode 0600, the VMM's user) reach it.
 * TCP is for when it is asked for, on loopback unless remote clients are allowed explicitly, and
 * then only with a bearer token.
 */
public sealed interface ApiEndpoint {
    /** A Unix domain socket at {@code path}, created with mode 0600. */
    record UnixSocket(Path path) implements ApiEndpoint {
        @Override
        public String toString() {
            return path.toString();
        }
    }

    /**
     * TCP on {@code host:port}. On a loopback address the Host header must name loopback (so a web
     * page cannot reach the API through DNS rebinding); {@code token}, required elsewhere and
     * optional there, must then come as {@code Authorization: Bearer TOKEN}.
     */
    record Tcp(String host, int port, String token) implements ApiEndpoint {
        /** True when {@code host} is a loopback address (then the Host header is checked). */
        public boolean loopback() {
            try {
                return InetAddress.getByName(host).isLoopbackAddress();
            } catch (UnknownHostException e) {
                return false;
            }
        }

        @Override
        public String toString() {
            return "tcp:" + host + ":" + port;
        }
    }

    /**
     * {@code tcp:HOST:PORT}: a loopback address, or any with {@code allowRemote} and a token.
     * Throws IllegalArgumentException with a one-line message naming what is wrong.
     */
    static Tcp tcp(String spec, boolean allowRemote, String token) {
        if (!spec.startsWith("tcp:")) {
            throw new IllegalArgumentException("bad --api address '" + spec + "' (use tcp:HOST:PORT, e.g. tcp:127.0.0.1:8080; "
                    + "for a Unix socket use --api-sock PATH)");
        }
        HostPort hostPort;
        try {
            hostPort = HostPort.parse(spec.substring(4), "--api");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad --api address '" + spec + "' (use tcp:HOST:PORT, e.g. tcp:127.0.0.1:8080)");
        }
        String host = hostPort.host();
        int port = hostPort.port();
        boolean loopback;
        try {
            loopback = InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("bad --api address '" + spec + "': unknown host " + host);
        }
        if (!loopback && !allowRemote) {
            throw new IllegalArgumentException("--api " + spec + " is not a loopback address: add --api-allow-remote "
                    + "(clients then need the bearer token of --api-token-file)");
        }
        if (!loopback && (token == null || token.isBlank())) {
            throw new IllegalArgumentException("--api-allow-remote needs a bearer token: --api-token-file FILE");
        }
        return new Tcp(host, port, token == null || token.isBlank() ? null : token.strip());
    }
}
