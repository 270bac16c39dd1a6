package io.actorvm.control.gdb;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.debug.GuestDebugger;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code --gdb tcp:127.0.0.1:PORT}: a gdb remote stub for one VM, one gdb at a time, on loopback
 * only (a debugger owns the guest). The VM waits paused until gdb connects and continues it, as
 * QEMU's {@code -s -S}; when gdb detaches the guest runs on without breakpoints.
 */
public final class GdbServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GdbServer.class);

    private final ServerSocket server;
    private final Thread acceptor;

    private GdbServer(ServerSocket server, Thread acceptor) {
        this.server = server;
        this.acceptor = acceptor;
    }

    /** {@code tcp:HOST:PORT} with a loopback HOST; IllegalArgumentException (one line) otherwise. */
    public static InetSocketAddress parse(String spec) {
        if (spec == null || !spec.startsWith("tcp:") || spec.lastIndexOf(':') <= 4) {
            throw new IllegalArgumentException("bad --gdb address '" + spec + "' (use tcp:127.0.0.1:PORT)");
        }
        String host = spec.substring(4, spec.lastIndexOf(':'));
        int port;
        try {
            port = Integer.parseInt(spec.substring(spec.lastIndexOf(':') + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad --gdb port in '" + spec + "'");
        }
        if (port < 0 || port > 65535) throw new IllegalArgumentException("bad --gdb port in '" + spec + "'");
        InetAddress address;
        try {
            address = InetAddress.getByName(host.startsWith("[") ? host.substring(1, host.length() - 1) : host);
        } catch (IOException e) {
            throw new IllegalArgumentException("bad --gdb host '" + host + "'");
        }
        if (!address.isLoopbackAddress()) {
            throw new IllegalArgumentException("--gdb " + spec + " is not a loopback address: a gdb stub gives its client the whole guest");
        }
        return new InetSocketAddress(address, port);
    }

    /** Listens at {@code spec} for gdb sessions against {@code vm}. */
    public static GdbServer start(ActorSystem<?> system, ActorRef<Vm.Command> vm, String spec) throws IOException {
        return start(system, vm, spec, false);
    }

    /** As above; with {@code stepping}, breakpoints and watchpoints are found by single-stepping (see {@link GdbStub}). */
    public static GdbServer start(ActorSystem<?> system, ActorRef<Vm.Command> vm, String spec, boolean stepping) throws IOException {
        ServerSocket server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(parse(spec));
        AtomicInteger sessions = new AtomicInteger();
        Thread acceptor = Thread.ofPlatform().name("gdb-server").daemon(true).start(() -> {
            while (!server.isClosed()) {
                try (Socket socket = server.accept()) {
                    socket.setTcpNoDelay(true);
                    session(system, vm, socket, sessions.incrementAndGet(), stepping);
                } catch (IOException e) {
                    if (!server.isClosed()) LOG.warn("gdb connection: {}", e.toString());
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    LOG.warn("gdb session failed: {}", e.toString());
                }
            }
        });
        return new GdbServer(server, acceptor);
    }

    private static void session(ActorSystem<?> system, ActorRef<Vm.Command> vm, Socket socket, int n, boolean stepping)
            throws IOException, InterruptedException {
        BlockingQueue<GdbStub.Event> events = new LinkedBlockingQueue<>();
        GuestDebugger debugger;
        try {
            StatusReply<GuestDebugger> r = AskPattern.<Vm.Command, StatusReply<GuestDebugger>>ask(vm,
                    replyTo -> new Vm.AttachDebugger(stop -> events.add(new GdbStub.Stopped(stop)), replyTo),
                    GdbStub.COMMAND_TIMEOUT, system.scheduler()).toCompletableFuture().get(GdbStub.COMMAND_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
            if (r.isError()) throw new IOException("cannot debug the VM: " + r.getError().getMessage());
            debugger = r.getValue();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("the VM did not answer the debugger: " + e);
        }
        ActorRef<Vm.Terminated> watcher = system.systemActorOf(Behaviors.<Vm.Terminated>receiveMessage(t -> {
            events.add(new GdbStub.VmEnded(t));
            return Behaviors.stopped();
        }), "gdb-watch-" + n, Props.empty());
        vm.tell(new Vm.WatchTermination(watcher));
        OutputStream out = new BufferedOutputStream(socket.getOutputStream());
        GdbStub.reader(new BufferedInputStream(socket.getInputStream()), out, events);
        GdbStub stub = new GdbStub(system, vm, debugger, events, out, stepping);
        // The guest waits paused for gdb: the session starts stopped.
        try {
            AskPattern.<Vm.Command, StatusReply<org.apache.pekko.Done>>ask(vm, Vm.Pause::new, GdbStub.COMMAND_TIMEOUT, system.scheduler())
                    .toCompletableFuture().get(GdbStub.COMMAND_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("the VM did not pause for the debugger: " + e);
        }
        stub.serve();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Stops listening; a session still running gets a moment to tell gdb how the VM ended. */
    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing a listener cannot fail in a way that matters
        }
        try {
            acceptor.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        acceptor.interrupt();
    }
}
