package io.actorvm.vmm.actors.device;

import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;

/**
 * How many guest write messages one device actor may have waiting in its mailbox. A vCPU takes a
 * place before it sends a write and the device actor gives it back when it takes the message; when
 * every place is taken the vCPU waits, as a slow device stalls its writer on hardware. So a guest
 * that writes faster than its device works (a {@code rep outsb} flood, a reset loop) can grow
 * neither the heap nor the time a later read of that device waits behind the backlog.
 *
 * <p>A message holds at most one exit's data (a {@code rep outs} is one message of up to a page),
 * so the backlog is bounded in bytes as well: {@link #CAPACITY} × 4 KiB per device at worst.
 */
public final class DeviceBacklog {
    /** Places per device: deep enough that a device keeping up never stalls its vCPU. */
    public static final int CAPACITY = 256;
    /** Tries before a waiting vCPU parks: the device actor usually frees a place within microseconds. */
    private static final int SPINS = 64;

    private final int capacity;
    private final Semaphore places;
    private final LongAdder stalls = new LongAdder();
    private final LongAdder stalledNanos = new LongAdder();

    public DeviceBacklog() {
        this(CAPACITY);
    }

    public DeviceBacklog(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("a backlog needs at least one place");
        this.capacity = capacity;
        this.places = new Semaphore(capacity);
    }

    /**
     * Takes a place for one message, waiting while the backlog is full. A vCPU interrupted while it
     * waits (its VM is stopping) gets the exception and sends nothing.
     */
    public void enter() throws InterruptedException {
        if (places.tryAcquire()) return;
        long start = System.nanoTime();
        stalls.increment();
        try {
            for (int i = 0; i < SPINS; i++) {
                Thread.onSpinWait();
                if (places.tryAcquire()) return;
            }
            places.acquire();
        } finally {
            stalledNanos.add(System.nanoTime() - start);
        }
    }

    /** The device actor has taken a message off its mailbox (handled, or dropped). */
    public void leave() {
        places.release();
    }

    /** How often a vCPU found the backlog full. */
    public long stalls() {
        return stalls.sum();
    }

    /** How long vCPUs waited for a place, in total. */
    public long stalledNanos() {
        return stalledNanos.sum();
    }

    /** Messages waiting now (approximate while vCPUs run). */
    public int depth() {
        return capacity - places.availablePermits();
    }
}
