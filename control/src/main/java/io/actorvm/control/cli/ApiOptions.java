package io.actorvm.control.cli;

import io.actorvm.control.api.ApiEndpoint;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the control API is served ({@code run}, {@code restore}) or reached ({@code snapshot}):
 * a Unix domain socket by default, TCP only when asked.
 */
final class ApiOptions {
    @Option(names = "--api-sock", paramLabel = "PATH", description = "the control API's Unix domain socket (created with mode 0600)")
    Path socket;

    @Option(names = "--api", paramLabel = "tcp:HOST:PORT", description = "the control API on TCP instead, e.g. tcp:127.0.0.1:8080 (loopback unless --api-allow-remote)")
    String tcp;

    @Option(names = "--api-allow-remote", description = "let --api listen on a non-loopback address (clients need the token of --api-token-file)")
    boolean allowRemote;

    /** Set by the commands that run a VM and offer {@code --web-console}; no option of its own here. */
    boolean webConsole;

    @Option(names = "--api-token-file", paramLabel = "FILE", description = "a bearer token the API requires (and the client sends), first line of FILE")
    Path tokenFile;

    /** The endpoint asked for, or null for none; IllegalArgumentException (one line) for a bad one. */
    ApiEndpoint endpoint() {
        if (socket != null && tcp != null) throw new IllegalArgumentException("give --api-sock or --api, not both");
        if (socket != null) return new ApiEndpoint.UnixSocket(socket);
        if (tcp != null) return ApiEndpoint.tcp(tcp, allowRemote, token());
        if (allowRemote || tokenFile != null) throw new IllegalArgumentException("--api-allow-remote and --api-token-file go with --api tcp:HOST:PORT");
        return null;
    }

    String token() {
        if (tokenFile == null) return null;
        try {
            String token = Files.readAllLines(tokenFile).stream().findFirst().orElse("").strip();
            if (token.isEmpty()) throw new IllegalArgumentException("--api-token-file " + tokenFile + " holds no token");
            return token;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read --api-token-file " + tokenFile + ": " + e.getMessage());
        }
    }
}
