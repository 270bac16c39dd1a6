package io.actorvm.devices.virtio;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A virtio-mmio device's InterruptStatus register and its interrupt line. Ring actors raise
 * "used buffer" from their threads while the guest reads and acknowledges through the transport
 * on another: the status is an atomic, and the line is edge-triggered (an irqfd signal per raise,
 * as Firecracker does), so raising never waits.
 *
 * <p><b>Why an acknowledge does not simply clear bits.</b> The guest's InterruptACK write is a
 * buffered write: the vCPU goes on at once, and the transport applies it later. Linux's handler
 * reads the status, writes it back as the ack, then walks the used ring. A completion published
 * after that walk raises again (the bit is still set, the edge fires), and then the late ack
 * lands and clears the bit: the guest takes the new edge, reads 0, skips the ring, and the
 * request is never seen (a disk request hung forever this way). On hardware the ack reaches the
 * device before the guest goes on, so the read-ack-walk order covers every raise. Here each cause
 * raised since the guest last read the register is remembered, and an ack leaves those set: they
 * are news the guest has not read, and its next interrupt will find them.
 */
public final class VirtioInterrupt {
    public static final int USED_BUFFER = 1, CONFIG_CHANGE = 2;

    /** Bits 0-7: InterruptStatus. Bits 8-15: the causes raised since the guest last read it. */
    private final AtomicInteger state = new AtomicInteger();
    private static final int STATUS = 0xFF, UNREAD_SHIFT = 8;
    private final Runnable trigger;

    public VirtioInterrupt(Runnable trigger) {
        this.trigger = trigger;
    }

    public void raise(int cause) {
        int c = cause & STATUS;
        // A plain CAS loop, not getAndUpdate with a capturing lambda: this runs per completion and
        // per guest register access, where nothing should be allocated.
        int s;
        do {
            s = state.get();
        } while (!state.compareAndSet(s, s | c | c << UNREAD_SHIFT));
        trigger.run();
    }

    /** The register's value, without the side effect of a guest read (snapshots, metrics). */
    public int status() {
        return state.get() & STATUS;
    }

    /** The guest reads InterruptStatus: from now on an ack may clear what it saw. */
    public int readByGuest() {
        return state.getAndUpdate(s -> s & STATUS) & STATUS;
    }

    /** The guest's InterruptACK: clears {@code bits}, except causes raised after its last read. */
    public void acknowledge(int bits) {
        int s;
        do {
            s = state.get();
        } while (!state.compareAndSet(s, s & ~(bits & STATUS & ~(s >>> UNREAD_SHIFT))));
    }

    void clear() {
        state.set(0);
    }
}
