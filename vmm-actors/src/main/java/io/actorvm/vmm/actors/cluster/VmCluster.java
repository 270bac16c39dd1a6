package io.actorvm.vmm.actors.cluster;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.console.ConsoleOutput;
import io.actorvm.vmm.actors.journal.VmJournal;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.external.ExternalShardAllocation;
import org.apache.pekko.cluster.sharding.external.ExternalShardAllocationStrategy;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.ShardingMessageExtractor;
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
import java.util.concurrent.CompletableFuture;
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
    /** The proxies by VM name, as their own type: they also take {@link ProxyTick}s. */
    private final Map<String, ActorRef<Object>> proxies = new ConcurrentHashMap<>();
    /** This node's {@link VmHost}. */
    private volatile ActorRef<VmHost.Command> localHost;

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
        // One shard per VM, placed where it is asked to be (VmCluster.placeNew, VmEntity.Migrate):
        // moving a shard moves exactly one VM. A shard with no asked-for place, or asked for a node
        // that is gone, goes to the node that asked for it first.
        // Remembered: when a node goes away, the shards it held start on the others with every
        // entity they had, and an entity whose VM was running runs it again (VmEntity.Failover).
        // Live migrations come in on the cluster's host, on a port of their own (VmHost tells which:
        // the one bound, or actorvm.migration.advertise when sources reach it through a proxy or NAT).
        String bindHost = Cluster.get(system).selfMember().address().host().getOrElse(() -> "127.0.0.1");
        com.typesafe.config.Config settings = system.settings().config().getConfig("actorvm.migration");
        String advertise = settings.getString("advertise");
        CompletionStage<java.net.InetSocketAddress> migrations = io.actorvm.vmm.actors.migration.MigrationLink.listen(system, bindHost,
                settings.getInt("port"), io.actorvm.vmm.actors.snapshot.SnapshotStore.open(dataDir)).thenApply(bound -> advertise.isEmpty() ? bound
                : HostPort.parse(advertise, "actorvm.migration.advertise").unresolved());
        c.localHost = system.systemActorOf(VmHost.create(c.sharding, migrations, dataDir), "vm-host", Props.empty());
        c.sharding.init(Entity.of(VmEntity.KEY, ctx -> VmEntity.create(ctx.getEntityId(), dataDir, node, c.placement))
                .withSettings(ClusterShardingSettings.create(system).withRememberEntities(true))
                .withMessageExtractor(new OneShardPerVm())
                .withAllocationStrategy(ExternalShardAllocationStrategy.create(system, VmEntity.KEY.name(), Duration.ofSeconds(5)))
                .withStopMessage(VmEntity.Passivate.INSTANCE));
        // The places asked for are distributed data, read from a majority of nodes: every node's
        // replicator must run, not only the coordinator's (Pekko starts it on first use).
        org.apache.pekko.cluster.ddata.DistributedData.get(system.classicSystem());
        system.receptionist().tell(Receptionist.register(VmHost.KEY, c.localHost));
        // Leaving, the shard region hands its VMs over and waits until it holds no message for a
        // shard without a home. A proxy's console re-attach (every 3 s) would keep one there: a lone
        // node leaving then took the whole region timeout (150 s) to stop. The API is closed by then.
        org.apache.pekko.actor.CoordinatedShutdown.get(system).addTask(org.apache.pekko.actor.CoordinatedShutdown.PhaseBeforeClusterShutdown(),
                "stop-vm-proxies", () -> {
                    c.proxies.values().forEach(p -> p.tell(ProxyTick.LEAVE));
                    return CompletableFuture.completedFuture(Done.getInstance());
                });
        return c;
    }

    /** Each VM is its own shard, named as the VM. */
    private static final class OneShardPerVm extends ShardingMessageExtractor<ShardingEnvelope<VmEntity.Command>, VmEntity.Command> {
        @Override
        public String entityId(ShardingEnvelope<VmEntity.Command> envelope) {
            return envelope.entityId();
        }

        @Override
        public String shardId(String entityId) {
            return entityId;
        }

        @Override
        public VmEntity.Command unwrapMessage(ShardingEnvelope<VmEntity.Command> envelope) {
            return envelope.message();
        }
    }

    /** Placement through Pekko's external shard allocation: a VM's shard lives on the node asked for. */
    private final VmEntity.Placement placement = new VmEntity.Placement() {
        @Override
        public boolean canHost(String node) {
            return up(node) != null;
        }

        @Override
        public CompletionStage<Done> placeOn(String vm, String node) {
            Address address = up(node);
            if (address == null) return CompletableFuture.failedFuture(new IllegalArgumentException("no node " + node + " is up"));
            return ExternalShardAllocation.get(system).getClient(VmEntity.KEY.name()).setShardLocation(vm, address);
        }

        @Override
        public CompletionStage<java.net.InetSocketAddress> migrationEndpoint(String node) {
            return hostOn(node, MIGRATION_ASK, HOST_LISTED_PATIENCE).thenCompose(host -> AskPattern.<VmHost.Command, StatusReply<String>>ask(host,
                    VmHost.GetMigrationEndpoint::new, MIGRATION_ASK, system.scheduler())).thenApply(reply -> {
                if (reply.isError()) throw new IllegalStateException(reply.getError().getMessage());
                HostPort at = HostPort.parse(reply.getValue(), "node " + node + "'s migration endpoint");
                return new java.net.InetSocketAddress(at.host(), at.port());
            });
        }

        @Override
        public void committed(String node, String vm, byte[] definition, String snapshotId, long epoch) {
            hostOn(node, MIGRATION_ASK, HOST_LISTED_PATIENCE).whenComplete((host, failure) -> {
                if (host != null) host.tell(new VmHost.Committed(vm, definition, snapshotId, epoch));
                else system.log().warn("VM {}: node {} was not told of move {} ({}); its entity restores it when it starts there",
                        vm, node, epoch, failure.getMessage());
            });
        }

        @Override
        public CompletionStage<VmHost.Arrival> claim(String vm, long epoch) {
            return AskPattern.<VmHost.Command, VmHost.Arrival>ask(localHost, r -> new VmHost.Claim(vm, epoch, r), MIGRATION_ASK,
                    system.scheduler());
        }

        @Override
        public void stopArrived(ActorRef<Vm.Command> runner) {
            localHost.tell(new VmHost.StopRunner(runner));
        }

        @Override
        public CompletionStage<Done> release(String node, String vm, long epoch) {
            return hostOn(node, MIGRATION_ASK).thenCompose(host -> AskPattern.<VmHost.Command, StatusReply<Done>>ask(host,
                    r -> new VmHost.Release(vm, epoch, r), MIGRATION_ASK, system.scheduler())).thenApply(reply -> {
                if (reply.isError()) throw new IllegalStateException(reply.getError().getMessage());
                return Done.getInstance();
            });
        }
    };

    private static final Duration MIGRATION_ASK = Duration.ofSeconds(10);

    /** The address of member {@code node} ({@code host:port}) if it is up, else null. */
    private Address up(String node) {
        for (Member m : Cluster.get(system).state().getMembers()) {
            if (m.status() == MemberStatus.up() && hostPort(m.address()).equals(node)) return m.address();
        }
        return null;
    }

    private static String hostPort(Address a) {
        return a.host().getOrElse(() -> "?") + ":" + a.port().getOrElse(() -> 0);
    }

    /**
     * Defines a new VM on the node that has the fewest VMs asked to live on it (a member with none
     * counts zero), so VMs spread over the cluster whichever node's API made them: its shard's place
     * is asked for there, and the definition is sent from there ({@link VmHost}), so its shard starts
     * there. Completes with the entity's answer to the definition. Each ask waits {@code timeout};
     * one that is not answered in time is sent again, to the same place, up to {@link #DEFINE_ASKS}
     * asks in all (the first entity of a node that has just joined may take longer than one ask to
     * start and recover): as one request, so a definition that did land is answered as done.
     */
    public CompletionStage<StatusReply<Done>> define(String vm, byte[] definition, Duration timeout) {
        String request = java.util.UUID.randomUUID().toString();
        var allocation = ExternalShardAllocation.get(system).getClient(VmEntity.KEY.name());
        // The places asked for are read from a majority of nodes; a slow cluster that cannot answer
        // in time places the VM by members alone rather than refuse it.
        return allocation.getShardLocations().handle((asked, failure) -> asked).thenCompose(asked -> {
            Map<String, Integer> load = new java.util.LinkedHashMap<>();
            for (Member m : Cluster.get(system).state().getMembers()) if (m.status() == MemberStatus.up()) load.put(hostPort(m.address()), 0);
            if (asked != null) {
                asked.getShardLocations().forEach((shard, location) -> load.computeIfPresent(hostPort(location.address()), (k, n) -> n + 1));
            }
            String chosen = load.entrySet().stream().min(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(nodeName(system));
            // Defined from the chosen node's host; without one (not registered yet), from here.
            return placement.placeOn(vm, chosen).handle((d, failure) -> d)
                    .thenCompose(d -> hostOn(chosen, timeout)).handle((host, failure) -> host)
                    .thenCompose(host -> askDefine(host, vm, definition, request, timeout));
        });
    }

    /** How many times {@link #define} asks before it gives up. */
    static final int DEFINE_ASKS = 4;

    private CompletionStage<StatusReply<Done>> askDefine(ActorRef<VmHost.Command> host, String vm, byte[] definition, String request,
                                                        Duration timeout) {
        return askUntilAnswered(() -> host == null
                ? vm(vm).ask(r -> new VmEntity.Define(definition, request, r), timeout)
                : AskPattern.ask(host, r -> new VmHost.DefineHere(vm, definition, request, r), timeout, system.scheduler()), DEFINE_ASKS,
                asksLeft -> system.log().warn("VM {}: its definition was not answered within {}; asking again ({} more at most)",
                        vm, timeout, asksLeft));
    }

    /**
     * Asks ({@code ask}) until an answer comes, at most {@code asks} times: only an ask that timed
     * out is sent again (a failure that is an answer is not), after telling {@code again} how many
     * asks are left after this one. The ask must be safe to repeat.
     */
    static <T> CompletionStage<T> askUntilAnswered(java.util.function.Supplier<CompletionStage<T>> ask, int asks,
                                                   java.util.function.IntConsumer again) {
        return ask.get().handle((answer, failure) -> {
            if (failure == null) return CompletableFuture.completedFuture(answer);
            Throwable cause = failure instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : failure;
            if (!(cause instanceof java.util.concurrent.TimeoutException) || asks <= 1) return CompletableFuture.<T>failedFuture(cause);
            again.accept(asks - 2);
            return askUntilAnswered(ask, asks - 1, again);
        }).thenCompose(next -> next);
    }

    /** The {@link VmHost} of node {@code node}, from the receptionist, or a failure when it is not listed. */
    private CompletionStage<ActorRef<VmHost.Command>> hostOn(String node, Duration timeout) {
        return hostOn(node, timeout, Duration.ZERO);
    }

    /**
     * As {@link #hostOn(String, Duration)}, but while {@code node} is up and its host is not listed
     * yet, the receptionist is asked again every {@link #LOOK_AGAIN} until {@code patience} has
     * passed: a node registers its host as it starts, and the receptionist's registry reaches the
     * other nodes by gossip, a few seconds after the node is seen up (more on a loaded host). A
     * move asked for as soon as its target is listed up then waits for it instead of failing.
     */
    private CompletionStage<ActorRef<VmHost.Command>> hostOn(String node, Duration timeout, Duration patience) {
        long deadline = System.nanoTime() + patience.toNanos();
        return AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(), r -> Receptionist.find(VmHost.KEY, r),
                timeout, system.scheduler()).thenCompose(listing -> {
            for (ActorRef<VmHost.Command> host : listing.getServiceInstances(VmHost.KEY)) {
                var address = host.path().address();
                if ((address.hasLocalScope() ? nodeName(system) : hostPort(address)).equals(node)) return CompletableFuture.completedFuture(host);
            }
            long left = deadline - System.nanoTime();
            if (left <= LOOK_AGAIN.toNanos() || up(node) == null) {
                return CompletableFuture.failedFuture(new IllegalStateException("node " + node + " has no VM host registered yet"));
            }
            return CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(LOOK_AGAIN.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS))
                    .thenCompose(v -> hostOn(node, timeout, Duration.ofNanos(left - LOOK_AGAIN.toNanos())));
        });
    }

    private static final Duration LOOK_AGAIN = Duration.ofMillis(500);
    /** How long a move waits for the host of a target that is up to be listed (see {@link #hostOn(String, Duration, Duration)}). */
    private static final Duration HOST_LISTED_PATIENCE = Duration.ofSeconds(30);

    /** This node as {@code host:port} of its cluster address. */
    public static String nodeName(ActorSystem<?> system) {
        return hostPort(Cluster.get(system).selfMember().address());
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
        return proxies.computeIfAbsent(name, n -> system.systemActorOf(proxyBehavior(vm(n)), "vm-proxy-" + n, Props.empty())).narrow();
    }

    private static final Duration REATTACH = Duration.ofSeconds(3);

    /**
     * The proxy's own messages (the VM's protocol is sealed, so the proxy takes Object and is
     * narrowed): its re-attach tick, and the node leaving, after which it forwards nothing.
     */
    private enum ProxyTick { REATTACH, LEAVE }

    private static Behavior<Object> proxyBehavior(EntityRef<VmEntity.Command> entity) {
        Set<ActorRef<ConsoleOutput>> consoles = new LinkedHashSet<>();
        Behavior<Object> proxy = Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(ProxyTick.REATTACH, REATTACH);
            return Behaviors.receive(Object.class)
                    .onMessageEquals(ProxyTick.LEAVE, Behaviors::stopped)
                    .onMessageEquals(ProxyTick.REATTACH, () -> {
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
        return proxy;
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
            out.add(new Node(hostPort(m.address()), status(m.status())));
        }
        return out;
    }

    private static String status(MemberStatus s) {
        return s.toString().toLowerCase();
    }
}
