package io.actorvm.control.api;

import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.stream.TLSProtocol;
import org.apache.pekko.stream.javadsl.BidiFlow;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.TLSPlacebo;
import org.apache.pekko.util.ByteString;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.Semaphore;
import java.util.function.Supplier;

/**
 * HTTP on a Unix domain socket. pekko-http binds TCP only; its server layer (HTTP/1.1 over bytes)
 * is joined here with the route's flow and run over each accepted connection of a JDK
 * {@link ServerSocketChannel} of the UNIX family.
 *
 * <p>The socket file is private from the start: it is bound inside a fresh 0700 directory, made
 * 0600, and only then renamed to its path, so no other user can connect in between (a umask
 * cannot be set from Java). A socket file left by a VMM that died is replaced; one that a live
 * process still listens on, or a file that is no socket, is a one-line error. At most
 * {@link #MAX_CONNECTIONS} connections are served at once; more are closed as they come.
 */
public final class UnixSocketServer implements AutoCloseable {
    static final int MAX_CONNECTIONS = 16;

    private final Path path;
    private final ServerSocketChannel server;
    private final Thread acceptor;

    private UnixSocketServer(Path path, ServerSocketChannel server, Thread acceptor) {
        this.path = path;
        this.server = server;
        this.acceptor = acceptor;
    }

    /** Serves {@code handler} on a new socket at {@code path}; throws IOException with a one-line message. */
    public static UnixSocketServer bind(ActorSystem<?> system, Path path, Supplier<Flow<HttpRequest, HttpResponse, ?>> handler,
                                        ServerSettings settings) throws IOException {
        path = path.toAbsolutePath();
        removeIfStale(path);
        Path dir = Files.createTempDirectory(path.getParent(), ".actorvm-api-", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            Path staging = dir.resolve("api.sock");
            server.bind(UnixDomainSocketAddress.of(staging));
            Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString("rw-------"));
            Files.move(staging, path, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        } finally {
            Files.deleteIfExists(dir.resolve("api.sock"));
            Files.deleteIfExists(dir);
        }
        Semaphore slots = new Semaphore(MAX_CONNECTIONS);
        Thread acceptor = Thread.ofPlatform().daemon().name("api-accept-" + path.getFileName()).start(() -> {
            while (server.isOpen()) {
                SocketChannel ch;
                try {
                    ch = server.accept();
                } catch (ClosedChannelException closed) {
                    return;
                } catch (IOException e) {
                    system.log().warn("control API socket {}: accept failed: {}", server, e.getMessage());
                    continue;
                }
                if (!slots.tryAcquire()) {
                    closeQuietly(ch);
                    continue;
                }
                // pekko-http's server layer can be materialized once: a new one per connection.
                serve(system, ch, handler.get().join(bytesToHttp(system, settings)), java.time.Duration.ofMillis(settings.getTimeouts().idleTimeout().toMillis())).whenComplete((done, failure) -> {
                    closeQuietly(ch);
                    slots.release();
                });
            }
        });
        return new UnixSocketServer(path, server, acceptor);
    }

    /** The HTTP/1.1 server protocol from the route's side down to bytes (no TLS: the socket is local). */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static BidiFlow<HttpResponse, ByteString, ByteString, HttpRequest, NotUsed> bytesToHttp(ActorSystem<?> system,
                                                                                                    ServerSettings settings) {
        BidiFlow<TLSProtocol.SslTlsOutbound, ByteString, ByteString, TLSProtocol.SslTlsInbound, NotUsed> plain =
                (BidiFlow) TLSPlacebo.getInstance();
        return Http.get(system).serverLayer(settings).atop(plain);
    }

    /**
     * One connection: a reader thread of its own takes bytes off the channel into a bounded queue
     * that feeds the HTTP flow; the flow's output is written back from the sink. A read that waits
     * inside a stream stage would hold up the HTTP stages fused with it (a response completing
     * later would wait for the client's next bytes), so reading stays outside the stream.
     */
    private static java.util.concurrent.CompletionStage<?> serve(ActorSystem<?> system, SocketChannel ch,
                                                                 Flow<ByteString, ByteString, ?> http, java.time.Duration idleTimeout) {
        Sink<ByteString, java.util.concurrent.CompletionStage<Done>> out = Sink.<ByteString>foreach(bytes -> {
            ByteBuffer b = bytes.toByteBuffer();
            while (b.hasRemaining()) ch.write(b);
        }).async(BLOCKING_IO);
        // pekko-http answers "Connection: close" and then waits for the client to close (as HTTP
        // clients do once they have read the response); one that never does is dropped after the
        // idle timeout, as on TCP.
        Pair<BoundedSourceQueue<ByteString>, java.util.concurrent.CompletionStage<Done>> running =
                Source.<ByteString>queue(QUEUED_READS).idleTimeout(idleTimeout).via(http).toMat(out, Keep.both()).run(system);
        BoundedSourceQueue<ByteString> queue = running.first();
        Thread.ofVirtual().name("api-read").start(() -> {
            ByteBuffer buf = ByteBuffer.allocate(8192);
            try {
                while (ch.read(buf.clear()) >= 0) {
                    ByteString bytes = ByteString.fromArray(buf.array(), 0, buf.position());
                    while (queue.offer(bytes) instanceof QueueOfferResult.Dropped$) Thread.sleep(1); // the flow is behind
                    if (queue.isCompleted()) return;
                }
                queue.complete();
            } catch (IOException | InterruptedException e) {
                queue.fail(e); // the connection went away, or the stream ended and closed it
            }
        });
        return running.second();
    }

    /** Chunks read ahead of the HTTP parser, per connection. */
    static final int QUEUED_READS = 16;
    private static final String BLOCKING_IO = "pekko.actor.default-blocking-io-dispatcher";

    private static void removeIfStale(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) return;
        if (!"socket".equals(fileType(path))) {
            throw new IOException(path + " exists and is not a socket");
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            throw new IOException(path + " is in use by a running process");
        } catch (java.net.ConnectException refused) {
            Files.delete(path); // left by a process that died
        }
    }

    private static String fileType(Path path) throws IOException {
        var attrs = Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        return attrs.isOther() ? "socket" : attrs.isRegularFile() ? "file" : attrs.isDirectory() ? "directory" : "link";
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // closing a connection the peer already dropped
        }
    }

    public Path path() {
        return path;
    }

    /** Stops accepting and removes the socket file; connections being served finish on their own. */
    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(path);
        acceptor.interrupt();
    }
}
