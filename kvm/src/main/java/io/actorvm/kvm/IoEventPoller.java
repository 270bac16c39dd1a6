package io.actorvm.kvm;

import io.actorvm.libc.Libc;
import io.actorvm.libc.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One thread that waits on many eventfds with epoll and calls a listener when one fires: how
 * guest notifications registered as ioeventfds become messages without a vCPU ever leaving the
 * kernel for them. Listeners run on the poller thread and must only hand the event on (e.g. a
 * {@code tell}); the eventfd is drained before the listener runs.
 */
public final class IoEventPoller implements AutoCloseable {
    private static final int MAX_EVENTS = 64, WAIT_MILLIS = 200;

    private final int epfd = Libc.epollCreate();
    /** Signalled by {@link #close}, so the thread leaves its wait at once (key 0: no registration). */
    private final EventFd wakeUp = new EventFd();
    private final Map<Long, Registration> registrations = new ConcurrentHashMap<>();
    private final AtomicLong nextKey = new AtomicLong(1);
    private final Thread thread;
    private volatile boolean running = true;

    private record Registration(EventFd eventFd, Runnable listener) {}

    public IoEventPoller(String name) {
        Libc.epollCtl(epfd, Libc.EPOLL_CTL_ADD, wakeUp.fd(), 0);
        thread = Thread.ofPlatform().name(name).daemon(true).start(this::loop);
    }

    /** Calls {@code listener} (on the poller thread) each time {@code eventFd} is signalled. Returns a key for {@link #remove}. */
    public long add(EventFd eventFd, Runnable listener) {
        long key = nextKey.getAndIncrement();
        registrations.put(key, new Registration(eventFd, listener));
        Libc.epollCtl(epfd, Libc.EPOLL_CTL_ADD, eventFd.fd(), key);
        return key;
    }

    public void remove(long key) {
        Registration r = registrations.remove(key);
        if (r != null) Libc.epollCtl(epfd, Libc.EPOLL_CTL_DEL, r.eventFd().fd(), key);
    }

    private void loop() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate((long) MAX_EVENTS * Libc.EPOLL_EVENT_SIZE, 8);
            while (running) {
                // Bounded as well, in case a wake-up is ever lost.
                int n = Libc.epollWait(epfd, events, MAX_EVENTS, WAIT_MILLIS);
                if (n == -Libc.EINTR) continue;
                if (n < 0) throw new SyscallException("epoll_wait", -n);
                for (int i = 0; i < n; i++) {
                    long key = events.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) i * Libc.EPOLL_EVENT_SIZE + 4);
                    if (key == 0) continue; // close() woke us: running is false now
                    Registration r = registrations.get(key);
                    if (r == null) continue;
                    if (r.eventFd().drain() > 0) r.listener().run();
                }
            }
        }
    }

    /**
     * Stops the thread (it is woken, so at once; a VM's stop waits for this) and closes the epoll
     * fd; the registered eventfds stay open.
     */
    @Override
    public void close() {
        running = false;
        wakeUp.signal();
        try {
            thread.join(2 * WAIT_MILLIS + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Libc.close(epfd);
        wakeUp.close();
    }
}
