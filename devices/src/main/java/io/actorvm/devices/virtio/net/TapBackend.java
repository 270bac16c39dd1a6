package io.actorvm.devices.virtio.net;

import io.actorvm.libc.Libc;
import io.actorvm.libc.SyscallException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_INT;
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
    static final int EPERM = 1;
    static final int IFNAMSIZ = 16, IFREQ_SIZE = 40;
    private static final int POLL_MILLIS = 200;

    private final String name;
    private final int fd;
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
        int fd;
        try {
            fd = Libc.open("/dev/net/tun", Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        } catch (SyscallException e) {
            throw new IOException("cannot open /dev/net/tun: " + Libc.strerror(e.errno()) + " (errno " + e.errno() + ")");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ_SIZE, 8);
            MemorySegment.copy(MemorySegment.ofArray(ifname), 0, ifr, 0, ifname.length);
            ifr.set(JAVA_SHORT, IFNAMSIZ, (short) (IFF_TAP | IFF_NO_PI));
            Libc.ioctl(fd, TUNSETIFF, ifr, "TUNSETIFF");
            return new TapBackend(name, fd);
        } catch (SyscallException e) {
            Libc.close(fd);
            throw new IOException("cannot create tap device '" + name + "': " + Libc.strerror(e.errno()) + " (errno " + e.errno() + ")"
                    + (e.errno() == EPERM ? " (needs CAP_NET_ADMIN, e.g. root)" : ""));
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
            MemorySegment buf = a.allocate(65536);
            MemorySegment pollfd = a.allocate(8, 4);
            while (running) {
                pollfd.set(JAVA_INT, 0, fd);
                pollfd.set(JAVA_SHORT, 4, (short) Libc.POLLIN);
                pollfd.set(JAVA_SHORT, 6, (short) 0);
                if (Libc.poll(pollfd, 1, POLL_MILLIS) <= 0) continue;
                while (running) {
                    long n = Libc.read(fd, buf, buf.byteSize());
                    if (n < 0) break; // EAGAIN: drained
                    if (n == 0) continue;
                    receiver.accept(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
                }
            }
        } catch (RuntimeException e) {
            if (running) throw new IllegalStateException("tap " + name + " reader failed", e);
        }
    }

    @Override
    public void send(byte[] frame) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, frame);
            long n = Libc.write(fd, buf, frame.length);
            if (n == -Libc.EAGAIN) throw new IOException("tap " + name + " is full: frame dropped");
            if (n < 0) throw new IOException("write to tap " + name + ": " + Libc.strerror((int) -n) + " (errno " + -n + ")");
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
        Libc.close(fd);
    }
}
