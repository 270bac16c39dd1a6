package io.actorvm.vmm.actors.cluster;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.console.ConsoleOutput;
import io.actorvm.vmm.actors.journal.VmJournal;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The VMs of a cluster, from one node: starts this node's share of the {@link VmEntity} shards and
 * reaches any VM by name, wherever it lives. Every VM ever defined is in the shared journal, so
 * that is where {@link #names} looks.
 */
public final class VmCluster {
    private static final String PREFIX = VmJournal.persistenceId("x").id().replaceFirst("x$", "");

    private final ActorSystem<?> system;
    private final ClusterSharding sharding;
    private final Map<String, ActorRef<Vm.Command>> proxies = new ConcurrentHashMap<>();

    private VmCluster(ActorSystem<?> system) {
        this.system = system;
        this.sharding = ClusterSharding.get(system);
    }

    /**
     * Joins this node to the VM shards: VMs that live here keep their snapshots in {@code dataDir}.
     * The actor system must be a cluster member (provider {@code cluster}).
     */
    public static VmCluster start(ActorSystem<?> system, Path dataDir) {
        VmCluster c = new VmCluster(system);
        String node = nodeName(system);
        // Remembered: when a node goes away, the shards it held start on the others with every
        // entity they had, and an entity whose VM was running runs it again (VmEntity.Failover).
        c.sharding.init(Entity.of(VmEntity.KEY, ctx -> VmEntity.create(ctx.getEntityId(), dataDir, node))
                .withSettings(ClusterShardingSettings.create(system).withRememberEntities(true))
                .withStopMessage(VmEntity.Passivate.INSTANCE));
        return c;
    }

    /** This node as {@code host:port} of its cluster address. */
    public static String nodeName(ActorSystem<?> system) {
        var address = Cluster.get(system).selfMember().address();
        return address.host().getOrElse(() -> "local") + ":" + address.port().getOrElse(() -> 0);
    }

    /** The VM named {@code name}, wherever it lives (the entity starts on some node when first asked). */
    public EntityRef<VmEntity.Command> vm(String name) {
        return sharding.entityRefFor(VmEntity.KEY, name);
    }

    /**
     * A local actor that speaks the VM's own protocol and forwards it to the VM's entity: what a
     * client written for a local {@link Vm} holds to drive a VM of the cluster. One per name. The
     * console subscribers it forwarded are attached again every few seconds: after a failover the
     * VM's entity is a new one, on another node, that has not heard of them.
     */
    public ActorRef<Vm.Command> proxy(String name) {
        return proxies.computeIfAbsent(name, n -> system.systemActorOf(proxyBehavior(vm(n)), "vm-proxy-" + n, Props.empty()));
    }

    private static final Duration REATTACH = Duration.ofSeconds(3);

    /** The proxy's own tick (the VM's protocol is sealed, so the proxy takes Object and is narrowed). */
    private enum Reattach { INSTANCE }

    private static Behavior<Vm.Command> proxyBehavior(EntityRef<VmEntity.Command> entity) {
        Set<ActorRef<ConsoleOutput>> consoles = new LinkedHashSet<>();
        Behavior<Object> proxy = Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Reattach.INSTANCE, REATTACH);
            return Behaviors.receive(Object.class)
                    .onMessageEquals(Reattach.INSTANCE, () -> {
                        // With replay: an entity new after a failover hands the new runner's output so far to it.
                        for (var c : consoles) entity.tell(new VmEntity.Forward(new Vm.AttachConsole(c, true)));
                        return Behaviors.same();
                    })
                    .onMessage(Vm.Command.class, c -> {
                        switch (c) {
                            case Vm.AttachConsole a -> consoles.add(a.subscriber());
                            case Vm.DetachConsole d -> consoles.remove(d.subscriber());
                            default -> {}
                        }
                        entity.tell(new VmEntity.Forward(c));
                        return Behaviors.same();
                    }).build();
        });
        return proxy.narrow();
    }

    /** What the VM's entity knows, or a failure when it does not answer within {@code timeout}. */
    public CompletionStage<VmEntity.Info> info(String name, Duration timeout) {
        return vm(name).ask(VmEntity.GetInfo::new, timeout);
    }

    /** The names of every VM the journal holds (defined ever), sorted. */
    public CompletionStage<List<String>> names() {
        JdbcReadJournal journal = PersistenceQuery.get(system).getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
        return journal.currentPersistenceIds().filter(id -> id.startsWith(PREFIX)).map(id -> id.substring(PREFIX.length()))
                .runWith(Sink.seq(), system).thenApply(ids -> {
                    List<String> sorted = new ArrayList<>(ids);
                    sorted.sort(null);
                    return sorted;
                });
    }

    /** A member of the cluster: its {@code host:port} and membership status ("up", "leaving", ...). */
    public record Node(String address, String status) {}

    /** The members of the cluster as this node sees them. */
    public List<Node> members() {
        List<Node> out = new ArrayList<>();
        for (var m : Cluster.get(system).state().getMembers()) {
            var a = m.address();
            out.add(new Node(a.host().getOrElse(() -> "?") + ":" + a.port().getOrElse(() -> 0), status(m.status())));
        }
        return out;
    }

    private static String status(MemberStatus s) {
        return s.toString().toLowerCase();
    }
}
