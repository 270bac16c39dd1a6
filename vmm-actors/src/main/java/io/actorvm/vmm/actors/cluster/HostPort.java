package io.actorvm.vmm.actors.cluster;

import java.net.InetSocketAddress;

/**
 * A {@code HOST:PORT} as users and nodes write it: a cluster seed, a node's migration endpoint,
 * an API address. The port is 0 to 65535 (0: any free one, where the address is bound); an IPv6
 * host may be bracketed ({@code [::1]:8080}) and is kept without its brackets. Nothing is
 * resolved here.
 */
public record HostPort(String host, int port) {
    public HostPort {
        if (host == null || host.isEmpty()) throw new IllegalArgumentException("no host");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port " + port + " is not 0 to 65535");
    }

    /**
     * Parses {@code text}; anything else is an {@link IllegalArgumentException} whose message is
     * "{@code what} takes HOST:PORT, not 'text'".
     */
    public static HostPort parse(String text, String what) {
        int colon = text.lastIndexOf(':');
        String port = colon < 0 ? "" : text.substring(colon + 1);
        if (colon <= 0 || !port.matches("\\d{1,5}") || Integer.parseInt(port) > 65535) {
            throw new IllegalArgumentException(what + " takes HOST:PORT, not '" + text + "'");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        if (host.isEmpty()) throw new IllegalArgumentException(what + " takes HOST:PORT, not '" + text + "'");
        return new HostPort(host, Integer.parseInt(port));
    }

    /** The address to connect to, resolved when it is connected to. */
    public InetSocketAddress unresolved() {
        return InetSocketAddress.createUnresolved(host, port);
    }

    /** As written back: {@code host:port}, an IPv6 host in brackets. */
    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
