package io.actorvm.vmm.actors.net;

import io.actorvm.devices.virtio.net.NetBackend;
import io.actorvm.vmm.actors.virtio.VirtioRings;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/** A virtio-net backend that is one port of a {@link VirtualSwitch}. */
public final class SwitchPort implements NetBackend {
    private static final AtomicLong NEXT_PORT = new AtomicLong(1);

    private final ActorRef<VirtualSwitch.Command> vswitch;
    private final long port = NEXT_PORT.getAndIncrement();

    public SwitchPort(ActorRef<VirtualSwitch.Command> vswitch) {
        this.vswitch = vswitch;
    }

    /** Frames for this port go to {@code rings} as data for its receive queue {@code queue}. */
    public void connect(ActorRef<VirtioRings.Command> rings, int queue) {
        vswitch.tell(new VirtualSwitch.Connect(port, rings, queue));
    }

    /** A switch port hands frames to an actor, not to a callback: use {@link #connect}. */
    @Override
    public void start(Consumer<byte[]> receiver) {
        throw new UnsupportedOperationException("a switch port delivers frames to a rings actor: connect(rings, queue)");
    }

    @Override
    public void send(byte[] frame) {
        vswitch.tell(new VirtualSwitch.Frame(port, frame));
    }

    @Override
    public void close() {
        vswitch.tell(new VirtualSwitch.Disconnect(port));
    }
}
