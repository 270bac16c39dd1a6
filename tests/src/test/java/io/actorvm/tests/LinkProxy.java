package io.actorvm.tests;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy of the test's own in front of a migration listener: it relays each connection,
 * the source's bytes at most {@code bytesPerSecond} (so each phase of a migration lasts long
 * enough to act in), counts them, and {@link #cut}s every connection it relays with a reset, as a
 * cut cable or a dead peer's kernel gives.
 */
final class LinkProxy implements AutoCloseable {
    private final ServerSocket server;
    private final InetSocketAddress target;
    private final long bytesPerSecond;
    private final AtomicLong relayed = new AtomicLong();
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    LinkProxy(InetSocketAddress target, long bytesPerSecond) throws IOException {
        this.server = new ServerSocket();
        // A small window: the source's bytes wait in its own buffers, not in this proxy's, so the
        // rate it measures is near the rate relayed.
        server.setReceiveBufferSize(64 << 10);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
        this.target = target;
        this.bytesPerSecond = bytesPerSecond;
        this.acceptor = Thread.ofPlatform().daemon().name("link-proxy").start(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    /** Bytes relayed from sources to the target so far. */
    long relayed() {
        return relayed.get();
    }

    /** Resets every connection relayed now (both sides); later connections are relayed again. */
    void cut() {
        for (Socket s : open) {
            try {
                s.setSoLinger(true, 0);
                s.close();
            } catch (IOException ignored) {
                // closed already
            }
        }
        open.clear();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket in = server.accept();
                Socket out = new Socket(target.getAddress(), target.getPort());
                open.add(in);
                open.add(out);
                Thread.ofPlatform().daemon().start(() -> pump(in, out, true));
                Thread.ofPlatform().daemon().start(() -> pump(out, in, false));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /** Relays {@code from} to {@code to} until {@code from} ends (then half-closes {@code to}) or either fails (then closes both). */
    private void pump(Socket from, Socket to, boolean throttled) {
        byte[] buf = new byte[16 << 10];
        long start = System.nanoTime(), passed = 0;
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
                if (!throttled) continue;
                relayed.addAndGet(n);
                passed += n;
                long wait = start + passed * 1_000_000_000L / bytesPerSecond - System.nanoTime();
                if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
            to.shutdownOutput(); // the source's half-close, passed on: the target answers then
        } catch (IOException | InterruptedException e) {
            // a cut, or the other side's end: what the migration makes of it is the test
            try {
                from.close();
                to.close();
            } catch (IOException ignored) {
                // closed already
            }
        }
    }

    @Override
    public void close() throws IOException {
        cut();
        server.close();
    }
}
