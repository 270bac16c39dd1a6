package io.actorvm.vmm.actors.cluster;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.journal.VmJournal;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
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
        c.sharding.init(Entity.of(VmEntity.KEY, ctx -> VmEntity.create(ctx.getEntityId(), dataDir, node))
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
     * client written for a local {@link Vm} holds to drive a VM of the cluster. One per name.
     */
    public ActorRef<Vm.Command> proxy(String name) {
        return proxies.computeIfAbsent(name, n -> {
            EntityRef<VmEntity.Command> entity = vm(n);
            return system.systemActorOf(Behaviors.receiveMessage((Vm.Command c) -> {
                entity.tell(new VmEntity.Forward(c));
                return Behaviors.same();
            }), "vm-proxy-" + n, Props.empty());
        });
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
