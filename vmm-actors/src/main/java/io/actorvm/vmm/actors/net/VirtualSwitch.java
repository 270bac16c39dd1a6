package io.actorvm.vmm.actors.net;

import com.typesafe.config.Config;
import io.actorvm.persistence.KryoSerializable;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import io.actorvm.vmm.actors.virtio.VirtioRings;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.io.ByteArrayOutputStream;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
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
 *
 * <p><b>Across nodes.</b> In a cluster ({@link #create(String, Policy, boolean)} with {@code spanNodes})
 * the switches of one name on every node are one segment: each registers with the receptionist
 * and links to the others it finds there (a full mesh of trunks). A frame for a MAC behind
 * another node goes there as one {@link Trunk} message (Artery, Kryo); broadcast and unknown
 * destinations flood to the local ports and to every other node, whose switch floods only to its
 * own ports (split horizon: a frame crosses at most one trunk, so the mesh has no loops). A port's
 * MAC is {@link Announce}d to the other nodes when it becomes known there, so a VM that moved in
 * (live migration) is reached on its new node at once, as QEMU's announce after migration does.
 * The other nodes' switches are trusted: they enforce the policy for their own ports.
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

    public sealed interface Command {}

    /** Local to the VM's JVM: never serialized (Pekko's serialize-messages check skips them). */
    public sealed interface Local extends Command, NoSerializationVerificationNeeded {}

    /**
     * Attaches a port: frames for it go to {@code rings} as data for queue {@code queue} (a virtio-net
     * receive queue). {@code mac} is the port's own address (null: the first unicast source it sends).
     * {@code queued} counts the port's frames not yet taken by the switch; the switch decrements it
     * as it takes each one (port and switch share it: both live in this JVM).
     */
    public record Connect(long port, ActorRef<VirtioRings.Command> rings, int queue, byte[] mac, AtomicInteger queued)
            implements Local {}

    public record Disconnect(long port) implements Local {}

    /** A frame entering the switch through {@code port}. */
    public record Frame(long port, byte[] data) implements Local {}

    /** The switch's counters. */
    public record GetStats(ActorRef<Stats> replyTo) implements Local {}

    /**
     * Frames forwarded to one port, flooded, dropped (runts, unknown ports, a unicast frame from
     * another node for a third node), dropped for a foreign source, and sent to other nodes.
     */
    public record Stats(long forwarded, long flooded, long dropped, long spoofed, long trunked) {}

    /** A frame from the switch of the same name on another node (cluster message). */
    public record Trunk(ActorRef<Command> from, byte[] data) implements Command, KryoSerializable {}

    /** MACs of ports behind the sending switch, 6 bytes each (cluster message). */
    public record Announce(ActorRef<Command> from, byte[] macs) implements Command, KryoSerializable {}

    /** The receptionist's list of this segment's switches (this one included). */
    private record PeersChanged(Receptionist.Listing listing) implements Local {}

    /** A local port (a device) or a trunk to another node's switch: where frames for it go, its MAC, how many it learned. */
    private static final class Port {
        final long id;
        final Connect connect;         // a local port's, else null
        final ActorRef<Command> trunk; // a trunk's, else null
        long mac;
        int learned;

        Port(Connect connect) {
            this.id = connect.port();
            this.connect = connect;
            this.trunk = null;
            this.mac = connect.mac() == null ? -1 : mac(connect.mac(), 0);
        }

        Port(long id, ActorRef<Command> trunk) {
            this.id = id;
            this.connect = null;
            this.trunk = trunk;
            this.mac = -1;
        }
    }

    private final String name;
    private final Policy policy;
    private final ServiceKey<Command> segment;
    private final Map<Long, Port> ports = new HashMap<>();
    private final Map<ActorRef<Command>, Port> trunks = new HashMap<>();
    private long nextTrunkId = -1; // trunks have negative ids, local ports (SwitchPort) positive ones
    private final Map<Long, Long> macToPort = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Long> eldest) {
            if (size() <= MAX_LEARNED) return false;
            Port p = ports.get(eldest.getValue());
            if (p != null) p.learned--;
            return true;
        }
    };
    private long forwarded, flooded, dropped, spoofed, trunked;

    public static Behavior<Command> create(String name) {
        return create(name, Policy.DEFAULT);
    }

    public static Behavior<Command> create(String name, Policy policy) {
        return create(name, policy, false);
    }

    /** With {@code spanNodes}: joined with the switches of the same name that the receptionist lists (in a cluster, on every node). */
    public static Behavior<Command> create(String name, Policy policy, boolean spanNodes) {
        return Behaviors.setup(ctx -> new VirtualSwitch(ctx, name, policy, spanNodes));
    }

    private VirtualSwitch(ActorContext<Command> ctx, String name, Policy policy, boolean spanNodes) {
        super(ctx);
        this.name = name;
        this.policy = policy;
        this.segment = ServiceKey.create(Command.class, "actorvm-switch-" + name);
        if (spanNodes) {
            ctx.getSystem().receptionist().tell(Receptionist.register(segment, ctx.getSelf()));
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(segment, ctx.messageAdapter(Receptionist.Listing.class, PeersChanged::new)));
        }
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
                .onMessage(Trunk.class, this::onTrunk)
                .onMessage(Announce.class, a -> {
                    Port from = trunk(a.from());
                    for (int at = 0; at + 6 <= a.macs().length; at += 6) learnBehindTrunk(from, mac(a.macs(), at));
                    return this;
                })
                .onMessage(PeersChanged.class, this::onPeers)
                .onMessage(GetStats.class, g -> {
                    g.replyTo().tell(new Stats(forwarded, flooded, dropped, spoofed, trunked));
                    return this;
                })
                .build();
    }

    private Behavior<Command> onFrame(Frame f) {
        byte[] d = f.data();
        Port from = ports.get(f.port());
        if (from != null && from.connect != null) from.connect.queued().decrementAndGet();
        if (d.length < 14 || from == null || from.connect == null) {
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
                    deliver(to, d);
                    forwarded++;
                }
            }
            return this;
        }
        flooded++;
        ports.forEach((port, p) -> {
            if (port != f.port()) deliver(p, d);
        });
        return this;
    }

    /** A frame from another node: to the local port it is for, or flooded to the local ports only (never on to a third node). */
    private Behavior<Command> onTrunk(Trunk t) {
        byte[] d = t.data();
        Port from = trunk(t.from());
        if (d.length < 14) {
            dropped++;
            return this;
        }
        if ((d[6] & 1) == 0) learnBehindTrunk(from, mac(d, 6));
        Long out = (d[0] & 1) == 0 ? macToPort.get(mac(d, 0)) : null;
        if (out != null) {
            Port to = ports.get(out);
            if (to != null && to.connect != null) {
                deliver(to, d);
                forwarded++;
            } else {
                dropped++; // for a port behind a trunk: its own node's switch has it
            }
            return this;
        }
        flooded++;
        ports.values().forEach(p -> {
            if (p.connect != null) deliver(p, d);
        });
        return this;
    }

    /** The receptionist's list changed: links to switches that appeared (telling them this one's MACs), drops those gone. */
    private Behavior<Command> onPeers(PeersChanged changed) {
        Set<ActorRef<Command>> listed = new HashSet<>(changed.listing().getServiceInstances(segment));
        listed.remove(getContext().getSelf());
        for (ActorRef<Command> peer : listed) {
            if (trunks.containsKey(peer)) continue;
            trunk(peer);
            byte[] macs = localMacs();
            if (macs.length > 0) peer.tell(new Announce(getContext().getSelf(), macs));
        }
        for (var gone : new HashSet<>(trunks.keySet())) {
            if (listed.contains(gone)) continue;
            Port p = trunks.remove(gone);
            ports.remove(p.id);
            macToPort.values().removeIf(id -> id == p.id);
            getContext().getLog().debug("switch {}: the segment's switch {} is gone", name, gone);
        }
        return this;
    }

    /** The trunk to {@code peer}, linked on its first message if the receptionist has not listed it yet. */
    private Port trunk(ActorRef<Command> peer) {
        return trunks.computeIfAbsent(peer, r -> {
            Port p = new Port(nextTrunkId--, r);
            ports.put(p.id, p);
            getContext().getLog().debug("switch {}: linked to the segment's switch {}", name, r);
            return p;
        });
    }

    /** Notes that {@code mac} lives behind local {@code port}, within the port's share of the table; other nodes are told. */
    private void learn(Port port, long mac) {
        Long known = macToPort.get(mac);
        if (known != null && known == port.id) return;
        if (known != null) {
            Port previous = ports.get(known);
            // Another local port owns it; a trunk's entry is stale once a port here claims the MAC.
            if (policy.lockSourceMac() && previous != null && previous.connect != null) return;
            if (previous != null) previous.learned--;
        }
        if (port.learned >= policy.maxLearnedPerPort() && port.mac != mac) return;
        macToPort.put(mac, port.id);
        port.learned++;
        if (!trunks.isEmpty()) {
            byte[] one = new byte[6];
            putMac(one, 0, mac);
            trunks.keySet().forEach(t -> t.tell(new Announce(getContext().getSelf(), one)));
        }
    }

    /**
     * Notes that {@code mac} lives behind a trunk. The other node's switch vouches for it (it
     * enforces the policy for its own ports), so it takes the MAC over even from a port here: that
     * is a VM which has moved to that node, whose old port here is about to disconnect.
     */
    private void learnBehindTrunk(Port trunk, long mac) {
        Long known = macToPort.get(mac);
        if (known != null && known == trunk.id) return;
        if (known != null) {
            Port previous = ports.get(known);
            if (previous != null) previous.learned--;
        }
        macToPort.put(mac, trunk.id);
        trunk.learned++;
    }

    /** The MACs owned by local ports, 6 bytes each. */
    private byte[] localMacs() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] one = new byte[6];
        macToPort.forEach((mac, id) -> {
            Port p = ports.get(id);
            if (p != null && p.connect != null) {
                putMac(one, 0, mac);
                out.writeBytes(one);
            }
        });
        return out.toByteArray();
    }

    private void deliver(Port to, byte[] frame) {
        if (to.connect != null) {
            to.connect.rings().tell(new VirtioRings.Inbound(to.connect.queue(), frame));
        } else {
            to.trunk.tell(new Trunk(getContext().getSelf(), frame));
            trunked++;
        }
    }

    private static long mac(byte[] d, int at) {
        long v = 0;
        for (int i = 0; i < 6; i++) v = (v << 8) | (d[at + i] & 0xFF);
        return v;
    }

    private static void putMac(byte[] d, int at, long mac) {
        for (int i = 5; i >= 0; i--, mac >>>= 8) d[at + i] = (byte) mac;
    }
}
