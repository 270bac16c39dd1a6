package io.actorvm.vmm.actors.net;

import io.actorvm.devices.virtio.net.NetBackend;
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

    @Override
    public void start(Consumer<byte[]> receiver) {
        vswitch.tell(new VirtualSwitch.Connect(port, receiver));
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
