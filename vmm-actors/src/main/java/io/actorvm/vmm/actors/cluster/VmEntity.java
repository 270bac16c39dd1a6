package io.actorvm.vmm.actors.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import io.actorvm.devices.HostSources;
import io.actorvm.persistence.KryoSerializable;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.console.ConsoleOutput;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.journal.VmJournal;
import io.actorvm.vmm.actors.migration.IncomingMigration;
import io.actorvm.vmm.actors.migration.PreCopy;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import org.apache.pekko.Done;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A VM as an entity of a cluster (Cluster Sharding, keyed by the VM's name): the single writer of
 * the VM's journal ({@code vm|NAME}, the same events a VM outside a cluster records) and the parent
 * of its runner, the {@link Vm} actor that owns the KVM machine on whichever node the entity lives.
 * Its state is what the journal says: the definition, where the VM's life stands (defined, running,
 * paused, stopped, failed) and its newest snapshot. The runner is not persisted; it writes its
 * events through this entity ({@link Vm#owned}).
 *
 * <p>Commands reach it by name from any node ({@link VmCluster#vm}); the VM's own protocol travels
 * inside {@link Forward}, so a client on another node drives a VM exactly as it drives a local one.
 */
public final class VmEntity extends EventSourcedBehavior<VmEntity.Command, VmEvent, VmEntity.State> {
    public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "vm");

    public sealed interface Command {}

    /**
     * Defines the VM: {@code definition} is a {@link VmEvent.Defined} in protobuf; refused when the
     * name is taken, unless by this same {@code request} (a client's id for its define, sent again
     * when an answer was lost or late: answered as done). An empty request is never taken as a retry.
     */
    public record Define(byte[] definition, String request, ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {}

    /**
     * A command of the VM's own protocol, for its runner. {@link Vm.Start} makes a runner from the
     * definition when there is none; commands that need a running VM are refused without one.
     */
    public record Forward(Vm.Command command) implements Command, KryoSerializable {}

    /**
     * Moves the running VM to node {@code to} ({@code host:port}): answered once the move is asked
     * of sharding; the shard then moves, and the VM with it, as when a node leaves (snapshot here,
     * hand-over, the same guest going on there). Refused for a VM that does not run, an unknown
     * node, or the node it is on.
     */
    public record Migrate(String to, long downtimeMillis, int maxRounds, ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {
        /** With the default downtime target (50 ms) and round limit (30). */
        public Migrate(String to, ActorRef<StatusReply<Done>> replyTo) {
            this(to, PreCopy.Settings.DEFAULT.downtime().toMillis(), PreCopy.Settings.DEFAULT.maxRounds(), replyTo);
        }

        /** How the pre-copy converges; a one-line error for values no migration can use. */
        public PreCopy.Settings settings() {
            if (downtimeMillis < 0 || downtimeMillis > 60_000) throw new IllegalArgumentException("the downtime target must be 0..60000 ms, not " + downtimeMillis);
            if (maxRounds < 1 || maxRounds > 1000) throw new IllegalArgumentException("the round limit must be 1..1000, not " + maxRounds);
            return new PreCopy.Settings(java.time.Duration.ofMillis(downtimeMillis), maxRounds);
        }
    }

    /** What the entity knows: see {@link Info}. */
    public record GetInfo(ActorRef<Info> replyTo) implements Command, KryoSerializable {}

    /**
     * A VM as the cluster sees it: {@code definition} a {@link VmEvent.Defined} in protobuf (empty
     * when the name was never defined), {@code state} as {@code list} shows it, {@code node} the
     * cluster address of the node it lives on, {@code lastSnapshot} its newest snapshot ("" if none),
     * {@code migration} the progress or outcome of its last live migration from this node ("" if none).
     */
    public record Info(String name, byte[] definition, String state, String node, String lastSnapshot, String migration) implements KryoSerializable {
        public boolean defined() {
            return definition.length > 0;
        }
    }

    // Local messages: the runner's journal writes, the runner's end, the shard's stop (hand-off).
    record Journaled(VmJournal.Command command) implements Command, NoSerializationVerificationNeeded {}
    record RunnerEnded(ActorRef<Vm.Command> runner, Vm.Terminated how) implements Command, NoSerializationVerificationNeeded {}
    /** A start the entity made itself (failover) answered; {@code error} null when it ran. */
    record Failed(ActorRef<Vm.Command> runner, String snapshot, String error) implements Command, NoSerializationVerificationNeeded {}
    enum Passivate implements Command, NoSerializationVerificationNeeded { INSTANCE }
    /** The snapshot taken as this node hands the VM over (null info: it failed, {@code error} says why). */
    record HandoffSnapshot(Vm.SnapshotInfo info, String error) implements Command, NoSerializationVerificationNeeded {}
    /** The VM is paused for its hand-over snapshot. */
    record HandoffPaused(ActorRef<Vm.Command> runner) implements Command, NoSerializationVerificationNeeded {}
    /** A live migration's target answered where it takes the VM (null endpoint: {@code error} says why not). */
    record MigrationTarget(ActorRef<Vm.Command> runner, String to, long epoch, PreCopy.Settings settings, java.net.InetSocketAddress endpoint, String error)
            implements Command, NoSerializationVerificationNeeded {}
    /** The runner's answer to {@link Vm.MigrateOut}: null {@code out} on failure ({@code error} says why). */
    record MigrationEnded(ActorRef<Vm.Command> runner, String to, long epoch, Vm.MigratedOut out, String error)
            implements Command, NoSerializationVerificationNeeded {}
    record MigrationProgress(PreCopy.Progress progress) implements Command, NoSerializationVerificationNeeded {}
    /** The answer to the claim of an arrived runner (a null runner: none arrived; restore it here). */
    record ArrivalClaimed(VmHost.Arrival arrival, String from) implements Command, NoSerializationVerificationNeeded {}
    /** The node a move went to did not confirm that its runner stopped ({@code error} says why). */
    record ReleaseFailed(String error) implements Command, NoSerializationVerificationNeeded {}
    /** Recovery found the VM live but no runner here: its node went away (or left); run it here. */
    enum Failover implements Command, NoSerializationVerificationNeeded { INSTANCE }

    /**
     * Where VMs are placed, as the entity sees it: whether a node can take a VM, and asking that
     * a VM's shard live on a node (which moves it there if it lives elsewhere).
     */
    public interface Placement {
        boolean canHost(String node);

        java.util.concurrent.CompletionStage<Done> placeOn(String vm, String node);

        /** Where node {@code node} takes live migrations. */
        java.util.concurrent.CompletionStage<java.net.InetSocketAddress> migrationEndpoint(String node);

        /** Tells node {@code node} that move {@code epoch} of {@code vm} is committed: it may run the VM from {@code snapshotId}. */
        default void committed(String node, String vm, byte[] definition, String snapshotId, long epoch) {}

        /** The runner that arrived here with move {@code epoch} of {@code vm}, if one runs ({@link VmHost.Claim}). */
        default java.util.concurrent.CompletionStage<VmHost.Arrival> claim(String vm, long epoch) {
            return java.util.concurrent.CompletableFuture.completedFuture(new VmHost.Arrival(null, null));
        }

        /** Stops a runner that arrived here (not the entity's child). */
        default void stopArrived(ActorRef<Vm.Command> runner) {}

        /**
         * Tells node {@code node} that VM {@code vm} runs elsewhere after move {@code epoch}: a runner
         * that arrived there with it stops. Completes once none runs there.
         */
        default java.util.concurrent.CompletionStage<Done> release(String node, String vm, long epoch) {
            return java.util.concurrent.CompletableFuture.completedFuture(Done.getInstance());
        }

        /** No cluster: nothing moves. */
        Placement NONE = new Placement() {
            @Override
            public boolean canHost(String node) {
                return false;
            }

            @Override
            public java.util.concurrent.CompletionStage<Done> placeOn(String vm, String node) {
                return java.util.concurrent.CompletableFuture.failedFuture(new IllegalStateException("not in a cluster"));
            }

            @Override
            public java.util.concurrent.CompletionStage<java.net.InetSocketAddress> migrationEndpoint(String node) {
                return java.util.concurrent.CompletableFuture.failedFuture(new IllegalStateException("not in a cluster"));
            }
        };
    }

    /** Where a VM's life stands, as its journal tells it. */
    public enum Lifecycle { NEW, DEFINED, RUNNING, PAUSED, STOPPED, FAILED }

    /**
     * Recovered from the journal: the definition (null before one), the lifecycle, the newest
     * snapshot, the node its last runner was placed on ("" if none).
     */
    public record State(VmEvent.Defined definition, String definedBy, Lifecycle lifecycle, String lastSnapshot, String node, String placedFor,
                        long events, long epoch, String movedTo) {
        /** Whether the VM was meant to be running (running or paused) as the journal last heard. */
        boolean live() {
            return lifecycle == Lifecycle.RUNNING || lifecycle == Lifecycle.PAUSED;
        }

        State apply(VmEvent e) {
            boolean defines = definition == null && e.hasDefined();
            VmEvent.Defined d = defines ? e.getDefined() : definition;
            Lifecycle l = switch (e.getEventCase()) {
                case DEFINED -> lifecycle == Lifecycle.NEW ? Lifecycle.DEFINED : lifecycle;
                case STARTED, RESUMED, RESTORED -> Lifecycle.RUNNING;
                case PAUSED -> Lifecycle.PAUSED;
                case STOPPED -> Lifecycle.STOPPED;
                case FAILED -> Lifecycle.FAILED;
                default -> lifecycle;
            };
            // A placement names the snapshot its runner starts from (a live migration's, on the target).
            String snapshot = e.hasSnapshotTaken() ? e.getSnapshotTaken().getSnapshotId()
                    : e.hasPlaced() && !e.getPlaced().getSnapshotId().isEmpty() ? e.getPlaced().getSnapshotId() : lastSnapshot;
            return new State(d, defines ? e.getRequest() : definedBy, l, snapshot, e.hasPlaced() ? e.getPlaced().getNode() : node,
                    e.hasPlaced() ? e.getPlaced().getReason() : placedFor, events + 1,
                    e.hasPlaced() ? Math.max(epoch, e.getPlaced().getEpoch()) : epoch,
                    e.hasPlaced() ? e.getPlaced().getToNode() : movedTo);
        }
    }

    private final ActorContext<Command> ctx;
    private final String name;
    private final Path dataDir;
    private final String node;
    private final Placement placement;
    private final ActorRef<VmJournal.Command> journal;
    /** The VM actor while there is one (from Start until it has ended). */
    private ActorRef<Vm.Command> runner;
    private int runners;
    /** Console subscribers and termination watchers, handed to every runner this entity makes. */
    private final List<ActorRef<ConsoleOutput>> consoles = new ArrayList<>();
    private final List<ActorRef<Vm.Terminated>> watchers = new ArrayList<>();
    private Vm.Terminated lastEnd;
    /** The runner is one that arrived by live migration ({@link VmHost}'s child, not this entity's). */
    private boolean adopted;
    /** The node a live migration is moving the VM to, null when none is under way. */
    private String migratingTo;
    /** The last migration's progress or outcome, for {@link Info} ("" when none). */
    private String migration = "";

    /**
     * The entity for VM {@code name}: its runners keep snapshots in {@code dataDir}; {@code node}
     * names this node in {@link Info}.
     */
    public static Behavior<Command> create(String name, Path dataDir, String node) {
        return create(name, dataDir, node, Placement.NONE);
    }

    /** As above, in a cluster whose placement {@code placement} moves VMs between nodes. */
    public static Behavior<Command> create(String name, Path dataDir, String node, Placement placement) {
        return Behaviors.setup(ctx -> new VmEntity(ctx, name, dataDir, node, placement));
    }

    private VmEntity(ActorContext<Command> ctx, String name, Path dataDir, String node, Placement placement) {
        // A failed write or recovery restarts the entity after a pause (the database was away).
        super(VmJournal.persistenceId(name), SupervisorStrategy.restartWithBackoff(Duration.ofSeconds(1), Duration.ofSeconds(30), 0.2));
        this.ctx = ctx;
        this.name = name;
        this.dataDir = dataDir;
        this.node = node;
        this.placement = placement;
        this.journal = ctx.messageAdapter(VmJournal.Command.class, Journaled::new);
    }

    @Override
    public State emptyState() {
        return new State(null, "", Lifecycle.NEW, "", "", "", 0, 0, "");
    }

    @Override
    public CommandHandler<Command, VmEvent, State> commandHandler() {
        return newCommandHandlerBuilder().forAnyState()
                .onCommand(Define.class, this::onDefine)
                .onCommand(Forward.class, this::onForward)
                .onCommand(GetInfo.class, (state, g) -> Effect().reply(g.replyTo(), info(state)))
                .onCommand(Journaled.class, this::onJournaled)
                .onCommand(RunnerEnded.class, (state, r) -> {
                    if (r.runner().equals(runner)) {
                        stopRunner(runner);
                        runner = null;
                        lastEnd = r.how();
                    }
                    return Effect().none();
                })
                .onCommand(Passivate.class, this::onPassivate)
                .onCommand(HandoffPaused.class, this::onHandoffPaused)
                .onCommand(HandoffSnapshot.class, this::onHandoffSnapshot)
                .onCommand(Failover.class, this::onFailover)
                .onCommand(Migrate.class, this::onMigrate)
                .onCommand(Failed.class, this::onFailed)
                .onCommand(ArrivalClaimed.class, this::onArrivalClaimed)
                .onCommand(ReleaseFailed.class, this::onReleaseFailed)
                .onCommand(MigrationTarget.class, this::onMigrationTarget)
                .onCommand(MigrationEnded.class, this::onMigrationEnded)
                .onCommand(MigrationProgress.class, p -> {
                    migration = describe(p.progress());
                    return Effect().none();
                })
                .build();
    }

    @Override
    public org.apache.pekko.persistence.typed.javadsl.SignalHandler<State> signalHandler() {
        return newSignalHandlerBuilder().onSignal(org.apache.pekko.persistence.typed.RecoveryCompleted.instance(), state -> {
            // Remembered entities are started again on a surviving node when theirs goes away.
            if (state.live() && state.definition() != null && runner == null) ctx.getSelf().tell(Failover.INSTANCE);
        }).onSignal(org.apache.pekko.actor.typed.PostStop.instance(), state -> {
            // A runner this entity adopted is not its child: it does not stop with it by itself.
            if (runner != null && adopted) placement.stopArrived(runner);
        }).build();
    }

    /**
     * Runs the VM here again: from its newest snapshot (the guest goes on from there), or from its
     * definition when it was never snapshotted. The journal records where and why first.
     */
    private Effect<VmEvent, State> onFailover(State state, Failover f) {
        if (runner != null || !state.live() || migratingTo != null) return Effect().none();
        String from = state.node().isEmpty() || state.node().equals(node) ? "restarted"
                : state.placedFor().equals(LEAVING) ? "moved from " + state.node() : "failover from " + state.node();
        if (state.placedFor().equals(LEAVING) && state.epoch() > 0 && !state.node().equals(node)) {
            if (state.movedTo().isEmpty() || state.movedTo().equals(node)) {
                // A live migration's commit: the VM may run here already (VmHost started it on the commit).
                placement.claim(name, state.epoch()).whenComplete((arrival, failure) ->
                        ctx.getSelf().tell(new ArrivalClaimed(arrival != null ? arrival : new VmHost.Arrival(null, null), from)));
                return Effect().none();
            }
            // The move went to another node, whose VmHost may run the VM since the commit: that
            // runner stops before this one starts (never two). Until that node answers, or is no
            // longer up (downed: it runs nothing then), nothing runs here.
            return releaseElsewhere(state, from);
        }
        return restoreHere(state, from);
    }

    /** How long before the node a move went to is asked again to release the VM. */
    private static final Duration RELEASE_RETRY = Duration.ofSeconds(2);

    private Effect<VmEvent, State> releaseElsewhere(State state, String from) {
        String target = state.movedTo();
        if (!placement.canHost(target)) {
            ctx.getLog().info("VM {}: moved to {} (move {}), which is not up: runs here", name, target, state.epoch());
            return restoreHere(state, from);
        }
        placement.release(target, name, state.epoch()).whenComplete((done, failure) -> ctx.getSelf().tell(failure == null
                ? new ArrivalClaimed(new VmHost.Arrival(null, null), from) : new ReleaseFailed(failure.getMessage())));
        return Effect().none();
    }

    private Effect<VmEvent, State> onReleaseFailed(State state, ReleaseFailed f) {
        if (runner != null || !state.live()) return Effect().none();
        ctx.getLog().warn("VM {}: node {} did not confirm that the VM of move {} runs no more there ({}); asking again",
                name, state.movedTo(), state.epoch(), f.error());
        ctx.scheduleOnce(RELEASE_RETRY, ctx.getSelf(), Failover.INSTANCE); // decides again, from the state then
        return Effect().none();
    }

    private Effect<VmEvent, State> onArrivalClaimed(State state, ArrivalClaimed a) {
        if (runner != null || !state.live()) {
            if (a.arrival().runner() != null) placement.stopArrived(a.arrival().runner());
            return Effect().none();
        }
        if (a.arrival().runner() == null) return restoreHere(state, a.from());
        ActorRef<Vm.Command> r = a.arrival().runner();
        ctx.getLog().info("VM {}: {} on {}: adopts the runner that arrived with move {}", name, a.from(), node, state.epoch());
        return Effect().persist(VmEvents.placed(node, a.from(), state.lastSnapshot())).thenRun(s -> {
            placement.placeOn(name, node);
            runner = r;
            adopted = true;
            lastEnd = null;
            // Its events so far (restored, ...) and every later one go to this journal, after the placement.
            a.arrival().journal().tell(new JournalBuffer.Forward(journal));
            // With what it printed since it started here: the guest ran before this entity took it,
            // and the console subscribers had the source's output up to the pause, none of this.
            for (ActorRef<ConsoleOutput> console : consoles) r.tell(new Vm.AttachConsole(console, true));
            for (ActorRef<Vm.Terminated> w : watchers) r.tell(new Vm.WatchTermination(w));
            watchers.clear();
            r.tell(new Vm.WatchTermination(ctx.messageAdapter(Vm.Terminated.class, t -> new RunnerEnded(r, t))));
        });
    }

    /** Runs the VM here from its newest snapshot (or definition), the journal saying where and why first. */
    private Effect<VmEvent, State> restoreHere(State state, String from) {
        ctx.getLog().warn("VM {}: {} on {}, from {}", name, from, node, state.lastSnapshot().isEmpty() ? "its definition" : "snapshot " + state.lastSnapshot());
        return Effect().persist(VmEvents.placed(node, from, state.lastSnapshot())).thenRun(s -> {
            // Its shard's asked-for place may be the node that went: it is here now.
            placement.placeOn(name, node);
            String snapshot = s.lastSnapshot();
            ActorRef<Vm.Command> r = startRunner(s, snapshot.isEmpty() ? null : snapshot);
            ActorRef<StatusReply<Done>> started = typed(ctx.messageAdapter(StatusReply.class,
                    reply -> new Failed(r, snapshot, reply.isError() ? reply.getError().getMessage() : null)));
            r.tell(new Vm.Start(started));
        });
    }

    private Effect<VmEvent, State> onMigrate(State state, Migrate m) {
        String refusal = runner == null || !state.live() ? "VM " + name + " is not running"
                : m.to().equals(node) ? "VM " + name + " is on " + node + " already"
                : migratingTo != null ? "VM " + name + " is moving to " + migratingTo + " already"
                : !placement.canHost(m.to()) ? "no node " + m.to() + " is up in the cluster" : null;
        if (refusal != null) return Effect().reply(m.replyTo(), StatusReply.error(refusal));
        PreCopy.Settings settings;
        try {
            settings = m.settings();
        } catch (IllegalArgumentException e) {
            return Effect().reply(m.replyTo(), StatusReply.error(e.getMessage()));
        }
        if (state.lifecycle() == Lifecycle.RUNNING) {
            // Live: the guest runs on while its memory goes; the shard follows once the target holds it.
            ctx.getLog().info("VM {}: live migration from {} to {}", name, node, m.to());
            migratingTo = m.to();
            migration = "connecting to " + m.to();
            ActorRef<Vm.Command> r = runner;
            long epoch = state.epoch() + 1;
            placement.migrationEndpoint(m.to()).whenComplete((endpoint, failure) -> ctx.getSelf().tell(
                    new MigrationTarget(r, m.to(), epoch, settings, endpoint, failure == null ? null : failure.getMessage())));
            return Effect().reply(m.replyTo(), StatusReply.ack());
        }
        // A paused guest moves cold: snapshot here, hand-over, restore there.
        ctx.getLog().info("VM {}: moving from {} to {}", name, node, m.to());
        placement.placeOn(name, m.to()).whenComplete((done, failure) -> m.replyTo().tell(failure == null ? StatusReply.ack()
                : StatusReply.error("the move of " + name + " to " + m.to() + " was not taken: " + failure.getMessage())));
        return Effect().none();
    }

    private Effect<VmEvent, State> onMigrationTarget(State state, MigrationTarget t) {
        if (!t.runner().equals(runner)) return migrationOver("the VM stopped before it could move");
        if (t.endpoint() == null) return migrationOver("node " + t.to() + " takes no migration: " + t.error());
        ActorRef<StatusReply> replies = ctx.messageAdapter(StatusReply.class, reply -> reply.isError()
                ? new MigrationEnded(t.runner(), t.to(), t.epoch(), null, reply.getError().getMessage())
                : new MigrationEnded(t.runner(), t.to(), t.epoch(), (Vm.MigratedOut) reply.getValue(), null));
        runner.tell(new Vm.MigrateOut(t.endpoint(), node, t.epoch(), t.settings(), ctx.messageAdapter(PreCopy.Progress.class, MigrationProgress::new),
                typed(replies)));
        return Effect().none();
    }

    /**
     * The target holds the VM and the guest is paused here: the move commits with one event (the
     * migration's epoch, the target's snapshot), then the runner here stops, then the shard moves
     * and the target's entity runs the guest on. Before this event, any failure leaves the guest
     * running here; after it, the journal sends the VM to the target whatever happens here.
     */
    private Effect<VmEvent, State> onMigrationEnded(State state, MigrationEnded e) {
        if (e.out() == null || !e.runner().equals(runner)) {
            ctx.getLog().warn("VM {}: live migration to {} failed, it runs on here: {}", name, e.to(), e.error());
            return migrationOver("failed: " + e.error());
        }
        Vm.MigratedOut out = e.out();
        ctx.getLog().info("VM {}: migrated to {} in {} rounds, {} MiB; committing epoch {}", name, e.to(), out.rounds(),
                out.bytes() >> 20, e.epoch());
        ActorRef<Vm.Command> r = runner;
        return Effect().persist(VmEvents.migrated(node, LEAVING, out.snapshotId(), e.epoch(), out.pausedAtMillis(), e.to())).thenRun(s -> {
            // The source stops before the target runs guest code: the target is told only now, and
            // its entity (once the shard has followed) adopts the VM it runs from then on.
            stopRunner(r);
            if (r.equals(runner)) runner = null;
            placement.committed(e.to(), name, s.definition().toByteArray(), out.snapshotId(), e.epoch());
            migration = "moved to " + e.to() + " (epoch " + e.epoch() + ", " + out.rounds() + " rounds, " + (out.bytes() >> 20) + " MiB)";
            placement.placeOn(name, e.to()).whenComplete((d, failure) -> {
                if (failure != null) ctx.getLog().error("VM {}: its shard could not be moved to {}: {}", name, e.to(), failure.getMessage());
            });
            deleteEarlierMoves(out.snapshotId());
        });
    }

    /**
     * The snapshots that earlier moves brought the VM here are superseded by the one just committed
     * (a full copy of its memory each: left alone, every move would leave the guest's RAM on disk).
     * Deleted off the actor's thread, after the commit, outside the guest's downtime.
     */
    private void deleteEarlierMoves(String committed) {
        if (dataDir == null) return;
        Path dir = dataDir;
        String vm = name;
        java.util.concurrent.CompletableFuture.runAsync(() -> {
            List<String> deleted = IncomingMigration.deleteEarlierMoves(SnapshotStore.open(dir), vm, committed);
            // Not the context's logger: that one is for the actor's thread only.
            if (!deleted.isEmpty()) org.slf4j.LoggerFactory.getLogger(VmEntity.class).info("VM {}: deleted the snapshots of its earlier moves, superseded by {}: {}", vm, committed, deleted);
        }, ctx.getSystem().dispatchers().lookup(org.apache.pekko.actor.typed.DispatcherSelector.blocking()));
    }

    private Effect<VmEvent, State> migrationOver(String outcome) {
        migratingTo = null;
        migration = outcome;
        return Effect().none();
    }

    private static String describe(PreCopy.Progress p) {
        return (p.paused() ? "stop-and-copy, round " : "round ") + p.round() + ", " + (p.bytes() >> 20) + " MiB sent, "
                + p.pagesLeft() + " pages left, dirtying " + (p.dirtyBytesPerSecond() >> 10) + " KiB/s, link "
                + (p.linkBytesPerSecond() >> 20) + " MiB/s";
    }

    /** The reason a node journals as it hands a running VM over, for the next node to tell a move from a failure. */
    static final String LEAVING = "leaving";
    /** How long a handover snapshot may take before the VM is handed over without it. */
    private static final Duration HANDOFF_SNAPSHOT_TIMEOUT = Duration.ofMinutes(2);

    /**
     * The shard is moving (this node leaves the cluster, or the shard is rebalanced): a running VM
     * is snapshotted first, so the node that takes it over runs it on from this moment, then the
     * entity stops, and its runner with it.
     */
    private Effect<VmEvent, State> onPassivate(State state, Passivate p) {
        if (runner == null || !state.live()) return Effect().stop();
        ctx.getLog().info("VM {}: {} hands it over; pause and snapshot first", name, node);
        // Paused first and left paused: nothing the guest does after the snapshot can be lost or
        // done twice (a snapshot of a running VM resumes it afterwards).
        ActorRef<Vm.Command> r = runner;
        ctx.ask(StatusReply.class, r, HANDOFF_SNAPSHOT_TIMEOUT, reply -> new Vm.Pause(typed(reply)),
                (reply, failure) -> failure != null || reply.isError()
                        ? new HandoffSnapshot(null, failure != null ? failure.getMessage() : reply.getError().getMessage())
                        : new HandoffPaused(r));
        return Effect().none();
    }

    private Effect<VmEvent, State> onHandoffPaused(State state, HandoffPaused p) {
        ctx.ask(StatusReply.class, p.runner(), HANDOFF_SNAPSHOT_TIMEOUT, r -> new Vm.TakeSnapshot(typed(r)), (reply, failure) -> failure != null
                ? new HandoffSnapshot(null, failure.getMessage())
                : reply.isError() ? new HandoffSnapshot(null, reply.getError().getMessage())
                : new HandoffSnapshot((Vm.SnapshotInfo) reply.getValue(), null));
        return Effect().none();
    }

    /**
     * A reference taking the raw {@code StatusReply} (what {@code ask} and {@code messageAdapter}
     * give for a generic class) as the typed one a VM command's {@code replyTo} wants.
     */
    @SuppressWarnings("unchecked")
    private static <T> ActorRef<StatusReply<T>> typed(ActorRef<StatusReply> r) {
        return (ActorRef<StatusReply<T>>) (ActorRef<?>) r;
    }

    private Effect<VmEvent, State> onHandoffSnapshot(State state, HandoffSnapshot h) {
        if (h.info() == null) {
            ctx.getLog().warn("VM {}: no snapshot as {} hands it over ({}): the next node runs it from its newest one", name, node, h.error());
            return Effect().stop();
        }
        return Effect().persist(VmEvents.placed(node, LEAVING, h.info().id())).thenStop();
    }

    /**
     * A failover start that failed: from a snapshot this node cannot read (the nodes do not share
     * a data directory), the VM boots from its definition instead; from the definition, it stays
     * failed (the journal says why).
     */
    private Effect<VmEvent, State> onFailed(State state, Failed f) {
        if (f.error() == null) return Effect().none();
        ctx.getLog().error("VM {}: could not run it again on {}: {}", name, node, f.error());
        if (f.snapshot().isEmpty() || !f.runner().equals(runner)) return Effect().none();
        stopRunner(runner);
        runner = null;
        return Effect().persist(List.of(VmEvents.placed(node, "snapshot " + f.snapshot() + " failed here (" + f.error() + "): from the definition", "")))
                .thenRun(s -> startRunner(s, null).tell(new Vm.Start(ctx.getSystem().ignoreRef())));
    }

    @Override
    public EventHandler<State, VmEvent> eventHandler() {
        return newEventHandlerBuilder().forAnyState().onAnyEvent(State::apply);
    }

    Info info(State state) {
        String shown = runner == null && (state.lifecycle() == Lifecycle.RUNNING || state.lifecycle() == Lifecycle.PAUSED)
                ? "not running" // the journal says it ran, but its runner is gone (its node ended)
                : state.lifecycle().name().toLowerCase();
        return new Info(name, state.definition() == null ? new byte[0] : state.definition().toByteArray(),
                migratingTo != null ? "migrating" : shown, node, state.lastSnapshot(), migration);
    }

    private Effect<VmEvent, State> onDefine(State state, Define d) {
        VmEvent.Defined defined;
        try {
            defined = VmEvent.Defined.parseFrom(d.definition());
        } catch (InvalidProtocolBufferException e) {
            return Effect().reply(d.replyTo(), StatusReply.error("the definition of " + name + " is not readable: " + e.getMessage()));
        }
        if (!defined.getName().equals(name)) {
            return Effect().reply(d.replyTo(), StatusReply.error("a definition named " + defined.getName() + " sent to VM " + name));
        }
        if (state.definition() != null) {
            // The same request again (its first answer was lost or came too late): it did define the VM.
            boolean retry = !d.request().isEmpty() && d.request().equals(state.definedBy()) && defined.equals(state.definition());
            return Effect().reply(d.replyTo(), retry ? StatusReply.ack() : StatusReply.error("a VM named " + name + " exists already"));
        }
        VmEvent event = VmEvent.newBuilder().setTimestampMillis(System.currentTimeMillis()).setRequest(d.request()).setDefined(defined).build();
        return Effect().persist(event).thenReply(d.replyTo(), s -> StatusReply.ack());
    }

    private Effect<VmEvent, State> onJournaled(State state, Journaled j) {
        return switch (j.command()) {
            case VmJournal.Record r -> Effect().persist(r.event()).thenRun(s -> {
                if (r.replyTo() != null) r.replyTo().tell(Done.getInstance());
            });
            case VmJournal.Define d -> state.definition() != null ? Effect().none() : Effect().persist(d.defined());
            case VmJournal.GetState g -> Effect().reply(g.replyTo(), new VmJournal.State(state.events(), state.definition() != null, state.lastSnapshot()));
        };
    }

    private Effect<VmEvent, State> onForward(State state, Forward f) {
        Vm.Command c = f.command();
        switch (c) {
            case Vm.AttachConsole a -> {
                // Proxies attach again now and then (this entity may be new after a failover): once is enough.
                if (consoles.contains(a.subscriber())) return Effect().none();
                consoles.add(a.subscriber());
            }
            case Vm.DetachConsole d -> consoles.remove(d.subscriber());
            default -> {}
        }
        if (runner != null) {
            runner.tell(c);
            return Effect().none();
        }
        switch (c) {
            case Vm.Start s -> {
                if (migratingTo != null) {
                    s.replyTo().tell(StatusReply.error("VM " + name + " has moved to " + migratingTo));
                    return Effect().none();
                }
                if (state.definition() == null) {
                    s.replyTo().tell(StatusReply.error("no VM named " + name));
                    return Effect().none();
                }
                return Effect().persist(VmEvents.placed(node, "started", "")).thenRun(st -> startRunner(st, null).tell(s));
            }
            case Vm.GetStatus g -> g.replyTo().tell(new Vm.Status(name,
                    state.lifecycle() == Lifecycle.STOPPED || state.lifecycle() == Lifecycle.FAILED ? Vm.State.STOPPED : Vm.State.CREATED, lastEnd));
            case Vm.WatchTermination w -> {
                if (lastEnd != null) w.replyTo().tell(lastEnd);
                else watchers.add(w.replyTo());
            }
            // Collections Kryo can carry to another node (Map.of() cannot be rebuilt there).
            case Vm.GetStats g -> g.replyTo().tell(new Vm.Stats(new java.util.LinkedHashMap<>(), new ArrayList<>()));
            case Vm.Stop s -> {
                // Nothing runs here; a VM the journal still calls live (its node went away) stays stopped from now on.
                if (state.live()) return Effect().persist(VmEvents.stopped(s.reason(), 0)).thenRun(st -> s.replyTo().tell(StatusReply.ack()));
                s.replyTo().tell(StatusReply.ack());
            }
            case Vm.Pause p -> p.replyTo().tell(notRunning());
            case Vm.Resume r -> r.replyTo().tell(notRunning());
            case Vm.SendCtrlAltDel k -> k.replyTo().tell(notRunning());
            case Vm.TakeSnapshot t -> t.replyTo().tell(StatusReply.error("VM " + name + " is not running"));
            case Vm.AttachDebugger a -> a.replyTo().tell(StatusReply.error("VM " + name + " is not running"));
            default -> {} // console input, console attachment: nothing runs to take them
        }
        return Effect().none();
    }

    private StatusReply<Done> notRunning() {
        return StatusReply.error("VM " + name + " is not running");
    }

    /** Stops runner {@code r}: this entity's child, or one it adopted. */
    private void stopRunner(ActorRef<Vm.Command> r) {
        if (adopted) placement.stopArrived(r);
        else ctx.stop(r);
        adopted = false;
    }

    /**
     * A new runner from the definition (or from {@code snapshot} when not null), with this entity's
     * console subscribers and watchers.
     */
    private ActorRef<Vm.Command> startRunner(State state, String snapshot) {
        VmConfig config = VmEvents.config(state.definition(), dataDir);
        ActorRef<Vm.Command> r = ctx.spawn(Vm.owned(config, snapshot, HostSources.system(), journal), "runner-" + (++runners));
        for (ActorRef<ConsoleOutput> console : consoles) r.tell(new Vm.AttachConsole(console));
        for (ActorRef<Vm.Terminated> w : watchers) r.tell(new Vm.WatchTermination(w));
        watchers.clear();
        r.tell(new Vm.WatchTermination(ctx.messageAdapter(Vm.Terminated.class, t -> new RunnerEnded(r, t))));
        runner = r;
        adopted = false;
        lastEnd = null;
        return r;
    }
}
