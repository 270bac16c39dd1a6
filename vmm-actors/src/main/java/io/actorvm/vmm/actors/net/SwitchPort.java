package io.actorvm.vmm.actors.net;

import io.actorvm.devices.virtio.net.NetBackend;
import io.actorvm.vmm.actors.virtio.VirtioRings;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * A virtio-net backend that is one port of a {@link VirtualSwitch}. A port has at most
 * {@code maxQueued} frames waiting for the switch; a guest sending faster than the switch takes
 * its frames loses the excess here (counted by {@link #dropped}), as a NIC whose transmit FIFO is
 * full would, instead of growing the switch's mailbox.
 */
public final class SwitchPort implements NetBackend {
    private static final AtomicLong NEXT_PORT = new AtomicLong(1);

    private final ActorRef<VirtualSwitch.Command> vswitch;
    private final long port = NEXT_PORT.getAndIncrement();
    private final int maxQueued;
    private final AtomicInteger queued = new AtomicInteger();
    private final LongAdder dropped = new LongAdder();

    public SwitchPort(ActorRef<VirtualSwitch.Command> vswitch, int maxQueued) {
        this.vswitch = vswitch;
        this.maxQueued = maxQueued;
    }

    /** Frames for this port go to {@code rings} as data for its receive queue {@code queue}; {@code mac} is the device's own. */
    public void connect(ActorRef<VirtioRings.Command> rings, int queue, byte[] mac) {
        vswitch.tell(new VirtualSwitch.Connect(port, rings, queue, mac == null ? null : mac.clone(), queued));
    }

    /** A switch port hands frames to an actor, not to a callback: use {@link #connect}. */
    @Override
    public void start(Consumer<byte[]> receiver) {
        throw new UnsupportedOperationException("a switch port delivers frames to a rings actor: connect(rings, queue, mac)");
    }

    @Override
    public void send(byte[] frame) {
        // The switch decrements as it takes each frame (see VirtualSwitch.Connect).
        if (queued.incrementAndGet() > maxQueued) {
            queued.decrementAndGet();
            dropped.increment();
            return;
        }
        vswitch.tell(new VirtualSwitch.Frame(port, frame));
    }

    /** Frames this port dropped because the switch had not taken its earlier ones yet. */
    public long dropped() {
        return dropped.sum();
    }

    @Override
    public void close() {
        vswitch.tell(new VirtualSwitch.Disconnect(port));
    }
}
