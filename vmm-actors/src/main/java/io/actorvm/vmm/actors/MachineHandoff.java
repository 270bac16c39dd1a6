package io.actorvm.vmm.actors;

import java.util.concurrent.atomic.AtomicReference;

/**
 * A machine is built on the blocking pool while its VM actor goes on; the actor may stop before
 * the machine is ready (its actor system shuts down, its parent stops it). Then the machine,
 * with its KVM fds, guest memory and taps, would reach no one: here it is closed instead.
 */
final class MachineHandoff {
    private final AtomicReference<Machine> waiting = new AtomicReference<>();
    private volatile boolean abandoned;

    /** On the building thread: hands {@code machine} over, or closes it when the VM is gone. */
    void offer(Machine machine) {
        waiting.set(machine);
        if (abandoned) closeWaiting();
    }

    /** On the VM actor: the machine offered, once (null when there is none). */
    Machine take() {
        return waiting.getAndSet(null);
    }

    /** The VM actor stopped: a machine offered and not taken, now or later, is closed. */
    void abandon() {
        abandoned = true;
        closeWaiting();
    }

    private void closeWaiting() {
        Machine m = waiting.getAndSet(null);
        if (m != null) m.close();
    }
}
