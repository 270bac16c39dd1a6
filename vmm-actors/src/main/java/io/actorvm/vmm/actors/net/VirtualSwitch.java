package io.actorvm.vmm.actors.net;

import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import io.actorvm.vmm.actors.virtio.VirtioRings;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An Ethernet switch inside the actor system: connects the virtio-net devices of VMs with no host
 * networking at all. It learns which port each source MAC lives behind and forwards unicast frames
 * there; broadcast, multicast and unknown destinations are flooded to every other port.
 */
public final class VirtualSwitch extends AbstractBehavior<VirtualSwitch.Command> {
    /** Learned addresses kept at most; beyond that the oldest are forgotten (frames then flood). */
    static final int MAX_LEARNED = 4096;

    /** Local to the VM's JVM: never serialized (Pekko's serialize-messages check skips them). */
    public sealed interface Command extends NoSerializationVerificationNeeded {}

    /** Attaches a port: frames for it go to {@code rings} as data for queue {@code queue} (a virtio-net receive queue). */
    public record Connect(long port, ActorRef<VirtioRings.Command> rings, int queue) implements Command {}

    public record Disconnect(long port) implements Command {}

    /** A frame entering the switch through {@code port}. */
    public record Frame(long port, byte[] data) implements Command {}

    private final String name;
    private final Map<Long, Connect> ports = new HashMap<>();
    private final Map<Long, Long> macToPort = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Long> eldest) {
            return size() > MAX_LEARNED;
        }
    };
    private long forwarded, flooded, dropped;

    public static Behavior<Command> create(String name) {
        return Behaviors.setup(ctx -> new VirtualSwitch(ctx, name));
    }

    private VirtualSwitch(ActorContext<Command> ctx, String name) {
        super(ctx);
        this.name = name;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Connect.class, c -> {
                    ports.put(c.port(), c);
                    return this;
                })
                .onMessage(Disconnect.class, d -> {
                    ports.remove(d.port());
                    macToPort.values().removeIf(p -> p == d.port());
                    return this;
                })
                .onMessage(Frame.class, this::onFrame)
                .build();
    }

    private Behavior<Command> onFrame(Frame f) {
        byte[] d = f.data();
        if (d.length < 14 || !ports.containsKey(f.port())) {
            dropped++; // runt frame, or a port that left
            return this;
        }
        long destination = mac(d, 0), source = mac(d, 6);
        if ((d[6] & 1) == 0) macToPort.put(source, f.port()); // never learn a multicast source
        Long out = (d[0] & 1) == 0 ? macToPort.get(destination) : null;
        if (out != null) {
            if (out != f.port()) {
                Connect r = ports.get(out);
                if (r != null) {
                    deliver(r, d);
                    forwarded++;
                }
            }
            return this;
        }
        flooded++;
        ports.forEach((port, r) -> {
            if (port != f.port()) deliver(r, d);
        });
        return this;
    }

    private static void deliver(Connect to, byte[] frame) {
        to.rings().tell(new VirtioRings.Inbound(to.queue(), frame));
    }

    private static long mac(byte[] d, int at) {
        long v = 0;
        for (int i = 0; i < 6; i++) v = (v << 8) | (d[at + i] & 0xFF);
        return v;
    }
}
