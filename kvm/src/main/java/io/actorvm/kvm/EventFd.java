package io.actorvm.kvm;

import io.actorvm.libc.Libc;
import io.actorvm.libc.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A Linux eventfd: the doorbell between KVM and us. An ioeventfd is signalled by KVM when the
 * guest writes a registered address (no exit to user space); an irqfd is signalled by us to
 * inject an interrupt. Non-blocking: {@link #drain} never waits.
 */
public final class EventFd implements AutoCloseable {
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer = arena.allocate(8, 8);

    public EventFd() {
        this.fd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
    }

    public int fd() {
        return fd;
    }

    /** Adds one to the counter: wakes whoever waits on it (KVM, for an irqfd). */
    public synchronized void signal() {
        buffer.set(ValueLayout.JAVA_LONG, 0, 1L);
        long r = Libc.write(fd, buffer, 8);
        if (r < 0 && r != -Libc.EAGAIN) throw new SyscallException("write(eventfd)", (int) -r);
    }

    /** Reads and clears the counter; returns how many signals it held (0 if none). */
    public synchronized long drain() {
        long r = Libc.read(fd, buffer, 8);
        if (r == -Libc.EAGAIN) return 0;
        if (r < 0) throw new SyscallException("read(eventfd)", (int) -r);
        return buffer.get(ValueLayout.JAVA_LONG, 0);
    }

    @Override
    public synchronized void close() {
        if (!arena.scope().isAlive()) return;
        Libc.close(fd);
        arena.close();
    }
}
