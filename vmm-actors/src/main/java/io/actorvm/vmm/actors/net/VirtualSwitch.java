package io.actorvm.vmm.actors.net;

import com.typesafe.config.Config;
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
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An Ethernet switch inside the actor system: connects the virtio-net devices of VMs with no host
 * networking at all. It learns which port each source MAC lives behind and forwards unicast frames
 * there; broadcast, multicast and unknown destinations are flooded to every other port.
 *
 * <p>The VMs on a switch do not trust each other ({@link Policy}):
 * <ul>
 *   <li><b>No spoofing.</b> A port owns a MAC: the one its device was given at {@link Connect}, or
 *       else the first unicast source it sends. Frames from another source are dropped and
 *       counted, so no VM can take over another's address or poison the table.</li>
 *   <li><b>No sniffing.</b> A port's own MAC is known from the moment it connects, so unicast to
 *       it is never flooded to the others, even before it has sent anything.</li>
 *   <li><b>No flooding the switch.</b> Each port may have at most {@link Policy#maxQueuedPerPort}
 *       frames waiting for the switch; {@link SwitchPort} drops and counts beyond that, so a
 *       flooding VM fills its own queue, not the JVM's heap. Where spoofing is allowed
 *       (a port bridging other hosts), a port learns at most {@link Policy#maxLearnedPerPort}
 *       addresses, so it cannot evict everyone else's.</li>
 * </ul>
 */
public final class VirtualSwitch extends AbstractBehavior<VirtualSwitch.Command> {
    /** Learned addresses kept at most; beyond that the oldest are forgotten (frames then flood). */
    static final int MAX_LEARNED = 4096;

    /**
     * @param lockSourceMac     drop frames whose source is not the port's own MAC (config {@code actorvm.switch.lock-source-mac})
     * @param maxLearnedPerPort addresses one port may own when sources are not locked
     * @param maxQueuedPerPort  frames a port may have waiting for the switch before it drops
     */
    public record Policy(boolean lockSourceMac, int maxLearnedPerPort, int maxQueuedPerPort) {
        public static final Policy DEFAULT = new Policy(true, 64, 256);

        /** From {@code actorvm.switch} in the actor system's configuration. */
        public static Policy of(Config config) {
            Config c = config.getConfig("actorvm.switch");
            return new Policy(c.getBoolean("lock-source-mac"), c.getInt("max-learned-per-port"), c.getInt("max-queued-per-port"));
        }
    }

    /** Local to the VM's JVM: never serialized (Pekko's serialize-messages check skips them). */
    public sealed interface Command extends NoSerializationVerificationNeeded {}

    /**
     * Attaches a port: frames for it go to {@code rings} as data for queue {@code queue} (a virtio-net
     * receive queue). {@code mac} is the port's own address (null: the first unicast source it sends).
     * {@code queued} counts the port's frames not yet taken by the switch; the switch decrements it
     * as it takes each one (port and switch share it: both live in this JVM).
     */
    public record Connect(long port, ActorRef<VirtioRings.Command> rings, int queue, byte[] mac, AtomicInteger queued)
            implements Command {}

    public record Disconnect(long port) implements Command {}

    /** A frame entering the switch through {@code port}. */
    public record Frame(long port, byte[] data) implements Command {}

    /** The switch's counters. */
    public record GetStats(ActorRef<Stats> replyTo) implements Command {}

    /** Frames forwarded to one port, flooded, dropped (runts, unknown ports), and dropped for a foreign source. */
    public record Stats(long forwarded, long flooded, long dropped, long spoofed) {}

    /** A connected port: where its frames go, the MAC it owns (-1 until known), how many it learned. */
    private static final class Port {
        final Connect connect;
        long mac;
        int learned;

        Port(Connect connect) {
            this.connect = connect;
            this.mac = connect.mac() == null ? -1 : mac(connect.mac(), 0);
        }
    }

    private final String name;
    private final Policy policy;
    private final Map<Long, Port> ports = new HashMap<>();
    private final Map<Long, Long> macToPort = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Long> eldest) {
            if (size() <= MAX_LEARNED) return false;
            Port p = ports.get(eldest.getValue());
            if (p != null) p.learned--;
            return true;
        }
    };
    private long forwarded, flooded, dropped, spoofed;

    public static Behavior<Command> create(String name) {
        return create(name, Policy.DEFAULT);
    }

    public static Behavior<Command> create(String name, Policy policy) {
        return Behaviors.setup(ctx -> new VirtualSwitch(ctx, name, policy));
    }

    private VirtualSwitch(ActorContext<Command> ctx, String name, Policy policy) {
        super(ctx);
        this.name = name;
        this.policy = policy;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Connect.class, c -> {
                    Port p = new Port(c);
                    ports.put(c.port(), p);
                    if (p.mac >= 0) learn(p, p.mac);
                    return this;
                })
                .onMessage(Disconnect.class, d -> {
                    ports.remove(d.port());
                    macToPort.values().removeIf(p -> p == d.port());
                    return this;
                })
                .onMessage(Frame.class, this::onFrame)
                .onMessage(GetStats.class, g -> {
                    g.replyTo().tell(new Stats(forwarded, flooded, dropped, spoofed));
                    return this;
                })
                .build();
    }

    private Behavior<Command> onFrame(Frame f) {
        byte[] d = f.data();
        Port from = ports.get(f.port());
        if (from != null) from.connect.queued().decrementAndGet();
        if (d.length < 14 || from == null) {
            dropped++; // runt frame, or a port that left
            return this;
        }
        long destination = mac(d, 0), source = mac(d, 6);
        boolean unicastSource = (d[6] & 1) == 0;
        if (policy.lockSourceMac()) {
            if (from.mac < 0 && unicastSource && !macToPort.containsKey(source)) from.mac = source; // first source sent
            if (source != from.mac) {
                spoofed++;
                return this;
            }
        }
        if (unicastSource) learn(from, source); // never learn a multicast source
        Long out = (d[0] & 1) == 0 ? macToPort.get(destination) : null;
        if (out != null) {
            if (out != f.port()) {
                Port to = ports.get(out);
                if (to != null) {
                    deliver(to.connect, d);
                    forwarded++;
                }
            }
            return this;
        }
        flooded++;
        ports.forEach((port, p) -> {
            if (port != f.port()) deliver(p.connect, d);
        });
        return this;
    }

    /** Notes that {@code mac} lives behind {@code port}, within the port's share of the table. */
    private void learn(Port port, long mac) {
        Long known = macToPort.get(mac);
        if (known != null && known == port.connect.port()) return;
        if (known != null) {
            if (policy.lockSourceMac()) return; // another port owns it
            Port previous = ports.get(known);
            if (previous != null) previous.learned--;
        }
        if (port.learned >= policy.maxLearnedPerPort() && port.mac != mac) return;
        macToPort.put(mac, port.connect.port());
        port.learned++;
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
