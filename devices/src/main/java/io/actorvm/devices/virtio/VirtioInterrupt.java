package io.actorvm.devices.virtio;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A virtio-mmio device's InterruptStatus register and its interrupt line. Ring actors raise
 * "used buffer" from their threads while the guest reads and acknowledges through the transport
 * on another: the status is an atomic, and the line is edge-triggered (an irqfd signal per raise,
 * as Firecracker does), so raising never waits.
 */
public final class VirtioInterrupt {
    public static final int USED_BUFFER = 1, CONFIG_CHANGE = 2;

    private final AtomicInteger status = new AtomicInteger();
    private final Runnable trigger;

    public VirtioInterrupt(Runnable trigger) {
        this.trigger = trigger;
    }

    public void raise(int cause) {
        status.getAndUpdate(s -> s | cause);
        trigger.run();
    }

    public int status() {
        return status.get();
    }

    public void acknowledge(int bits) {
        status.getAndUpdate(s -> s & ~bits);
    }

    void clear() {
        status.set(0);
    }
}
