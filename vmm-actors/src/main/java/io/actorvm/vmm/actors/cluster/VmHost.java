package io.actorvm.vmm.actors.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import io.actorvm.devices.HostSources;
import io.actorvm.persistence.KryoSerializable;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.journal.VmJournal;
import org.apache.pekko.Done;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * One per node, found through the receptionist. It defines a new VM from this node, so that the
 * VM's shard is first asked for here and starts here (a shard with no place asked for yet goes to
 * the node that asks for it first; the place asked for through external shard allocation reaches
 * the coordinator only after a moment, and a shard started elsewhere meanwhile would be moved at
 * once). It tells where this node takes live migrations. And it runs a VM that has just arrived
 * by live migration as soon as the source has committed the move ({@link Committed}), before
 * the VM's shard (and so its entity) has followed: the entity adopts that runner when it starts
 * here ({@link Claim}), so the guest's downtime does not wait for the shard's hand-over.
 */
public final class VmHost {
    public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "actorvm-vm-host");

    /** How long an arrived VM runs without its entity before it is taken for lost and stopped. */
    static final Duration UNCLAIMED = Duration.ofSeconds(60);

    public sealed interface Command {}

    /** Defines VM {@code name} (its {@code definition} a protobuf {@code Defined}) through this node; {@code request} as in {@link VmEntity.Define}. */
    public record DefineHere(String name, byte[] definition, String request, ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {}

    /** Where this node takes live migrations ({@code host:port}), or why it takes none. */
    public record GetMigrationEndpoint(ActorRef<StatusReply<String>> replyTo) implements Command, KryoSerializable {}

    /**
     * The source of a live migration to this node has journaled its commit (epoch {@code epoch},
     * snapshot {@code snapshotId} stored here) and stopped its runner: run the VM here now.
     */
    public record Committed(String name, byte[] definition, String snapshotId, long epoch) implements Command, KryoSerializable {}

    /**
     * The entity of VM {@code name}, starting on this node after move {@code epoch}, takes the
     * runner that arrived with it, if one runs (else it restores the VM itself, and a commit that
     * arrives later is ignored). Local.
     */
    record Claim(String name, long epoch, ActorRef<Arrival> replyTo) implements Command, NoSerializationVerificationNeeded {}

    /** {@link Claim}'s answer: the runner and its journal, both null when none arrived. */
    record Arrival(ActorRef<Vm.Command> runner, ActorRef<Object> journal) implements NoSerializationVerificationNeeded {}

    /**
     * VM {@code name}'s entity runs it on another node after move {@code epoch} (its shard did not
     * follow the move here): a runner that arrived here with that move or an older one stops, and a
     * commit of it that comes later starts nothing. Answered once no such runner runs here.
     */
    public record Release(String name, long epoch, ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {}

    /** A runner stopped for a {@link Release}: answer it. */
    private record Released(ActorRef<StatusReply<Done>> replyTo) implements Command, NoSerializationVerificationNeeded {}

    /** Stops a runner this host started (its entity stops, or is done with it). Local. */
    record StopRunner(ActorRef<Vm.Command> runner) implements Command, NoSerializationVerificationNeeded {}

    private record Unclaimed(String name, long epoch) implements Command, NoSerializationVerificationNeeded {}

    /** An arrived runner's start answered ({@code error} null: it runs). */
    private record StartAnswered(String name, long epoch, String error) implements Command, NoSerializationVerificationNeeded {}

    @SuppressWarnings("unchecked")
    private static ActorRef<StatusReply<Done>> typed(ActorRef<StatusReply> r) {
        return (ActorRef<StatusReply<Done>>) (ActorRef<?>) r;
    }

    private record Arrived(long epoch, ActorRef<Vm.Command> runner, ActorRef<Object> journal) {}

    private final ActorContext<Command> ctx;
    private final TimerScheduler<Command> timers;
    private final ClusterSharding sharding;
    private final CompletionStage<java.net.InetSocketAddress> migrations;
    private final Path dataDir;
    private final Map<String, Arrived> arrived = new HashMap<>();
    /** The newest epoch each VM's entity here has claimed: commits of it or older start nothing. */
    private final Map<String, Long> claimed = new HashMap<>();

    private VmHost(ActorContext<Command> ctx, TimerScheduler<Command> timers, ClusterSharding sharding,
                   CompletionStage<java.net.InetSocketAddress> migrations, Path dataDir) {
        this.ctx = ctx;
        this.timers = timers;
        this.sharding = sharding;
        this.migrations = migrations;
        this.dataDir = dataDir;
    }

    /** {@code migrations}: the address this node's migration listener is bound to; VMs keep snapshots in {@code dataDir}. */
    static Behavior<Command> create(ClusterSharding sharding, CompletionStage<java.net.InetSocketAddress> migrations, Path dataDir) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new VmHost(ctx, timers, sharding, migrations, dataDir).behavior()));
    }

    private Behavior<Command> behavior() {
        return Behaviors.receive(Command.class)
                .onMessage(DefineHere.class, d -> {
                    sharding.entityRefFor(VmEntity.KEY, d.name()).tell(new VmEntity.Define(d.definition(), d.request(), d.replyTo()));
                    return Behaviors.same();
                })
                .onMessage(GetMigrationEndpoint.class, g -> {
                    migrations.whenComplete((address, failure) -> g.replyTo().tell(failure != null
                            ? StatusReply.error("no migration listener: " + failure.getMessage())
                            : StatusReply.success(address.getHostString() + ":" + address.getPort())));
                    return Behaviors.same();
                })
                .onMessage(Committed.class, this::onCommitted)
                .onMessage(Claim.class, this::onClaim)
                .onMessage(Unclaimed.class, u -> {
                    Arrived a = arrived.get(u.name());
                    if (a != null && a.epoch() == u.epoch()) {
                        ctx.getLog().error("VM {}: arrived here (move {}) but its entity did not start here within {}: stopped",
                                u.name(), u.epoch(), UNCLAIMED);
                        arrived.remove(u.name());
                        ctx.stop(a.runner());
                        ctx.stop(a.journal());
                    }
                    return Behaviors.same();
                })
                .onMessage(StartAnswered.class, a -> {
                    Arrived arrival = arrived.get(a.name());
                    if (a.error() != null && arrival != null && arrival.epoch() == a.epoch()) {
                        // Its entity will restore it itself (and fall back as a failover does).
                        ctx.getLog().error("VM {}: arrived (move {}) but did not start here: {}", a.name(), a.epoch(), a.error());
                        arrived.remove(a.name());
                        ctx.stop(arrival.runner());
                        ctx.stop(arrival.journal());
                    }
                    return Behaviors.same();
                })
                .onMessage(Release.class, this::onRelease)
                .onMessage(Released.class, r -> {
                    r.replyTo().tell(StatusReply.ack());
                    return Behaviors.same();
                })
                .onMessage(StopRunner.class, s -> {
                    // Only a child of this host can be stopped here; any other is gone already.
                    ctx.getChild(s.runner().path().name()).ifPresent(child -> ctx.stop(child));
                    return Behaviors.same();
                })
                .build();
    }

    private Behavior<Command> onCommitted(Committed c) {
        if (claimed.getOrDefault(c.name(), 0L) >= c.epoch() || arrived.containsKey(c.name())) {
            ctx.getLog().info("VM {}: its entity here restores move {} itself", c.name(), c.epoch());
            return Behaviors.same();
        }
        VmEvent.Defined defined;
        try {
            defined = VmEvent.Defined.parseFrom(c.definition());
        } catch (InvalidProtocolBufferException e) {
            ctx.getLog().error("VM {}: a commit with an unreadable definition: {}", c.name(), e.getMessage());
            return Behaviors.same();
        }
        String base = c.name() + "-" + c.epoch();
        ActorRef<Object> journal = ctx.spawn(JournalBuffer.create(), "arrival-journal-" + base);
        ActorRef<Vm.Command> runner = ctx.spawn(Vm.owned(VmEvents.config(defined, dataDir), c.snapshotId(), HostSources.system(),
                        journal.<VmJournal.Command>narrow()),
                "arrival-" + base);
        runner.tell(new Vm.Start(typed(ctx.messageAdapter(StatusReply.class,
                r -> new StartAnswered(c.name(), c.epoch(), r.isError() ? r.getError().getMessage() : null)))));
        arrived.put(c.name(), new Arrived(c.epoch(), runner, journal));
        timers.startSingleTimer(new Unclaimed(c.name(), c.epoch()), UNCLAIMED);
        ctx.getLog().info("VM {}: arrived (move {}), running from snapshot {} until its entity takes it", c.name(), c.epoch(), c.snapshotId());
        return Behaviors.same();
    }

    private Behavior<Command> onRelease(Release r) {
        claimed.merge(r.name(), r.epoch(), Math::max);
        Arrived a = arrived.get(r.name());
        if (a == null || a.epoch() > r.epoch()) {
            r.replyTo().tell(StatusReply.ack());
            return Behaviors.same();
        }
        ctx.getLog().warn("VM {}: runs on another node after move {}: the runner that arrived here stops", r.name(), r.epoch());
        arrived.remove(r.name());
        timers.cancel(new Unclaimed(r.name(), a.epoch()));
        ctx.watchWith(a.runner(), new Released(r.replyTo()));
        ctx.stop(a.runner());
        ctx.stop(a.journal());
        return Behaviors.same();
    }

    private Behavior<Command> onClaim(Claim c) {
        claimed.merge(c.name(), c.epoch(), Math::max);
        Arrived a = arrived.get(c.name());
        if (a != null && a.epoch() == c.epoch()) {
            arrived.remove(c.name());
            timers.cancel(new Unclaimed(c.name(), c.epoch()));
            c.replyTo().tell(new Arrival(a.runner(), a.journal()));
        } else {
            c.replyTo().tell(new Arrival(null, null));
        }
        return Behaviors.same();
    }
}
