package io.actorvm.devices.virtio.net;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A host tap device (opened through {@code /dev/net/tun}, {@code IFF_TAP | IFF_NO_PI}) as a
 * virtio-net backend: frames the guest sends are written to it, frames the host sends to it
 * come back on a reader thread. Creating a tap needs CAP_NET_ADMIN; without it {@link #open}
 * fails with a one-line message.
 */
public final class TapBackend implements NetBackend {
    static final long TUNSETIFF = 0x400454CAL;
    static final short IFF_TAP = 0x0002, IFF_NO_PI = 0x1000;
    static final int O_RDWR = 2, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000, POLLIN = 1, EAGAIN = 11, EINTR = 4;
    static final int IFNAMSIZ = 16, IFREQ_SIZE = 40;
    private static final int POLL_MILLIS = 200;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN = call("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), true);
    private static final MethodHandle IOCTL = call("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), true,
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle READ = call("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), true);
    private static final MethodHandle WRITE = call("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), true);
    private static final MethodHandle POLL = call("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), false);
    private static final MethodHandle CLOSE = call("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), false);
    private static final MethodHandle STRERROR = call("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT), false);

    private static MethodHandle call(String name, FunctionDescriptor fd, boolean errno, Linker.Option... options) {
        Linker.Option[] all = options;
        if (errno) {
            all = new Linker.Option[options.length + 1];
            all[0] = Linker.Option.captureCallState("errno");
            System.arraycopy(options, 0, all, 1, options.length);
        }
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, all);
    }

    private final String name;
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private volatile boolean running = true;
    private Thread reader;

    private TapBackend(String name, int fd) {
        this.name = name;
        this.fd = fd;
    }

    /** Opens (creating if needed) the tap interface {@code name}. */
    public static TapBackend open(String name) throws IOException {
        byte[] ifname = name.getBytes(StandardCharsets.US_ASCII);
        if (ifname.length == 0 || ifname.length >= IFNAMSIZ) throw new IOException("tap name '" + name + "' must be 1 to 15 characters");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(CAPTURE);
            int fd = (int) OPEN.invokeExact(cap, a.allocateFrom("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0) throw new IOException("cannot open /dev/net/tun: " + strerror((int) ERRNO.get(cap, 0L)));
            MemorySegment ifr = a.allocate(IFREQ_SIZE, 8);
            MemorySegment.copy(MemorySegment.ofArray(ifname), 0, ifr, 0, ifname.length);
            ifr.set(JAVA_SHORT, IFNAMSIZ, (short) (IFF_TAP | IFF_NO_PI));
            int r = (int) IOCTL.invokeExact(cap, fd, TUNSETIFF, ifr);
            if (r < 0) {
                int errno = (int) ERRNO.get(cap, 0L);
                int unused = (int) CLOSE.invokeExact(fd);
                throw new IOException("cannot create tap device '" + name + "': " + strerror(errno)
                        + (errno == 1 ? " (needs CAP_NET_ADMIN, e.g. root)" : ""));
            }
            return new TapBackend(name, fd);
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public String name() {
        return name;
    }

    @Override
    public void start(Consumer<byte[]> receiver) {
        reader = Thread.ofPlatform().name("tap-" + name).daemon(true).start(() -> readLoop(receiver));
    }

    private void readLoop(Consumer<byte[]> receiver) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(CAPTURE);
            MemorySegment buf = a.allocate(65536);
            MemorySegment pollfd = a.allocate(8, 4);
            while (running) {
                pollfd.set(JAVA_INT, 0, fd);
                pollfd.set(JAVA_SHORT, 4, (short) POLLIN);
                pollfd.set(JAVA_SHORT, 6, (short) 0);
                int ready = (int) POLL.invokeExact(pollfd, 1L, POLL_MILLIS);
                if (ready <= 0) continue;
                while (running) {
                    long n = (long) READ.invokeExact(cap, fd, buf, buf.byteSize());
                    if (n < 0) break; // EAGAIN: drained
                    if (n == 0) continue;
                    receiver.accept(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
                }
            }
        } catch (Throwable t) {
            if (running) throw new IllegalStateException("tap " + name + " reader failed", t);
        }
    }

    @Override
    public void send(byte[] frame) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(CAPTURE);
            MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, frame);
            long n = (long) WRITE.invokeExact(cap, fd, buf, (long) frame.length);
            if (n < 0) {
                int errno = (int) ERRNO.get(cap, 0L);
                if (errno == EAGAIN) throw new IOException("tap " + name + " is full: frame dropped");
                throw new IOException("write to tap " + name + ": " + strerror(errno));
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @Override
    public void close() {
        running = false;
        if (reader != null) {
            try {
                reader.join(POLL_MILLIS * 3L);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            int unused = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        arena.close();
    }

    private static String strerror(int errno) {
        try {
            return ((MemorySegment) STRERROR.invokeExact(errno)).reinterpret(256).getString(0) + " (errno " + errno + ")";
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }
}
