package io.actorvm.vmm.actors;

import io.actorvm.devices.i8042.I8042;
import io.actorvm.devices.HostSources;
import io.actorvm.vmm.actors.console.ConsoleHub;
import io.actorvm.vmm.actors.jfr.RestoreEvent;
import io.actorvm.vmm.actors.jfr.SnapshotEvent;
import io.actorvm.vmm.actors.journal.JournalWriter;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.io.IoStats;
import io.actorvm.vmm.actors.vcpu.VcpuActor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import io.actorvm.vmm.actors.Vm.*;

/**
 * The state machine behind {@link Vm}'s protocol: created → running ⇄ paused → stopping →
 * stopped, the snapshot and start steps in between, and what each state answers. Built by
 * {@link Vm#create} and {@link Vm#restore}; the protocol's records stay in {@code Vm}.
 */
final class VmBehavior {
    private static final int STASH_CAPACITY = 1000;

    private final ActorContext<Command> ctx;
    private final VmConfig config;
    private final HostSources sources;
    private final IoStats stats = new IoStats();
    private final VmEnd end = new VmEnd();
    private final MachineHandoff handoff = new MachineHandoff();
    /** The guest's console as a stream (a child from the start, so subscribers may attach before {@link Start}). */
    private final ActorRef<ConsoleHub.Command> console;
    /** The machine, devices and vCPUs once started; null before and once released. */
    private VmRuntime runtime;
    private List<DeviceActor.Metrics> finalDeviceMetrics = List.of();
    /** Snapshot and restore durations for {@link Stats}; {@code restoreStart} is when a restore began. */
    private Lifecycle lifecycle = Lifecycle.NONE;
    private long restoreStart;

    private final String restoreFrom;
    private final boolean startPaused;
    /** The VM's journal (an event-sourced child when it has a data directory); set on {@link Start}. */
    private JournalWriter<Command> journal;
    /** Takes the VM's snapshots; null when it has no data directory. */
    private VmSnapshotter snapshots;

    /** Where the VM's events go when its owner keeps its journal (a cluster entity); null: its own child. */
    private final ActorRef<io.actorvm.vmm.actors.journal.VmJournal.Command> ownerJournal;

    VmBehavior(ActorContext<Command> ctx, VmConfig config, HostSources sources, String restoreFrom, boolean startPaused) {
        this(ctx, config, sources, restoreFrom, startPaused, null);
    }

    VmBehavior(ActorContext<Command> ctx, VmConfig config, HostSources sources, String restoreFrom, boolean startPaused,
               ActorRef<io.actorvm.vmm.actors.journal.VmJournal.Command> ownerJournal) {
        this.ctx = ctx;
        this.ownerJournal = ownerJournal;
        this.config = config;
        this.sources = sources;
        this.console = ctx.spawn(ConsoleHub.create(), "console");
        this.restoreFrom = restoreFrom;
        this.startPaused = startPaused;
    }

    private Behavior<Command> onJournaled(Journaled j) {
        if (j.failure() != null) ctx.getLog().error("VM {}: journal write failed: {}", config.name(), j.failure());
        switch (j) {
            case StartJournaled s -> {
                // The guest runs even when its start could not be journaled: the VM's owner asked for it.
                runtime.vcpus.runAll();
                s.replyTo().tell(StatusReply.ack());
            }
            case SnapshotJournaled s -> s.replyTo().tell(s.failure() == null ? StatusReply.success(s.info())
                    : StatusReply.error("snapshot " + s.info().id() + " is stored, but the journal did not record it ("
                    + s.failure() + "): recovery will not find it"));
            case EndJournaled e -> end.announce();
        }
        return Behaviors.same();
    }

    Behavior<Command> created() {
        return notLive(State.CREATED, Behaviors.receive(Command.class)
                .onMessage(Start.class, this::onStart)
                .onMessage(Stop.class, s -> {
                    end.awaitStop(s.replyTo());
                    end.endNow(new Terminated(s.reason(), 0, false));
                    return stopped();
                }));
    }

    /**
     * Building the machine reads the kernel file, maps memory and makes a few dozen ioctls: that is
     * blocking work, so it runs on Pekko's blocking dispatcher while the VM stashes other commands.
     */
    private Behavior<Command> onStart(Start start) {
        journal = ownerJournal != null ? JournalWriter.to(ctx, ownerJournal, config) : JournalWriter.of(ctx, config);
        RestoreEvent restoring = restoreFrom == null ? null : RestoreEvent.begin(config.name(), restoreFrom);
        restoreStart = System.nanoTime();
        ctx.pipeToSelf(CompletableFuture.runAsync(() -> handoff.offer(Machine.create(config, restoreFrom)),
                        ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking())),
                (built, failure) -> new MachineBuilt(start.replyTo(), failure));
        return Behaviors.withStash(STASH_CAPACITY, stash -> Behaviors.receive(Command.class)
                .onSignal(PostStop.class, this::onPostStop)
                .onMessage(MachineBuilt.class, b -> stash.unstashAll(onMachineBuilt(b, restoring)))
                .onMessage(GetStatus.class, g -> reply(g, State.CREATED))
                .onAnyMessage(m -> {
                    if (stash.isFull()) ctx.getLog().warn("VM {} is starting; dropped {}", config.name(), m);
                    else stash.stash(m);
                    return Behaviors.same();
                })
                .build());
    }

    private Behavior<Command> onMachineBuilt(MachineBuilt built, RestoreEvent restoring) {
        Machine machine = handoff.take();
        Throwable failure = built.failure();
        if (failure == null) {
            try {
                runtime = VmRuntime.wire(ctx, config, sources, console, machine, new GuestRequests(ctx.getSelf()), stats,
                        ctx.messageAdapter(VcpuActor.Stopped.class, VcpuStopped::new));
            } catch (RuntimeException e) {
                // Devices half attached (an eventfd refused, a tap that would not start): give back
                // what the machine holds; the device actors spawned so far stop with this VM.
                machine.close();
                failure = e;
            }
        }
        if (restoring != null) restoring.end(failure == null ? null : reason(failure));
        if (restoring != null && failure == null) lifecycle = lifecycle.restored(System.nanoTime() - restoreStart);
        if (failure != null) {
            String reason = reason(failure);
            built.replyTo().tell(StatusReply.error(reason));
            end.endNow(new Terminated("failed to start: " + reason, 1, true));
            return stopped();
        }
        snapshots = VmSnapshotter.of(config, restoreFrom);
        if (startPaused) runtime.vcpus.startPaused();
        if (startPaused) journal.record(restoreFrom != null ? VmEvents.restored(restoreFrom) : VmEvents.started());
        // The journal records that the guest runs before it does: a VMM killed at any moment
        // leaves a journal that knows about every guest execution.
        journal.record(startPaused ? VmEvents.paused() : restoreFrom != null ? VmEvents.restored(restoreFrom) : VmEvents.started(),
                notJournaled -> new StartJournaled(built.replyTo(), notJournaled));
        return startPaused ? paused() : running();
    }

    /**
     * A state without a running guest (created, stopping, stopped): after the state's {@code own}
     * handlers (handlers match in the order they are added), it answers status, takes watchers,
     * refuses start, pause, resume and snapshots, and drops guest requests and input that arrive late.
     */
    private Behavior<Command> notLive(State state, BehaviorBuilder<Command> own) {
        return any(own, state)
                .onMessage(Start.class, s -> notNow(s.replyTo(), state))
                .onMessage(Pause.class, p -> notNow(p.replyTo(), state))
                .onMessage(Resume.class, r -> notNow(r.replyTo(), state))
                .onMessage(TakeSnapshot.class, t -> notNow(t.replyTo(), state))
                .onMessage(MigrateOut.class, m -> notNow(m.replyTo(), state))
                .onMessage(MigrationDone.class, d -> notNow(d.replyTo(), state))
                .onMessage(MigrationPause.class, p -> {
                    p.states().completeExceptionally(new IllegalStateException("VM " + config.name() + " is " + state.name().toLowerCase()));
                    return Behaviors.same();
                })
                .onMessage(AttachDebugger.class, a -> notNow(a.replyTo(), state))
                .onMessage(GetDebugger.class, g -> notNow(g.replyTo(), state))
                .onMessage(SendCtrlAltDel.class, k -> notNow(k.replyTo(), state))
                .onAnyMessage(m -> Behaviors.same())
                .build();
    }

    /**
     * The VM actor stops without having stopped its guest (its actor system terminates, its
     * parent stops it, it failed): the vCPU actors, children, have stopped first and taken their
     * threads out of KVM_RUN; what the machine holds is released here, and a machine still
     * being built is closed when it is ready.
     */
    private Behavior<Command> onPostStop(PostStop signal) {
        handoff.abandon();
        // No migration reads guest memory once it is released below.
        if (migration != null) migration.abort("VM " + config.name() + " stopped", null);
        if (runtime != null) {
            runtime.releaseAfterAbnormalStop();
            runtime = null;
        }
        return Behaviors.same();
    }

    /** What every state answers alike: status, watchers, console subscribers. */
    private BehaviorBuilder<Command> any(BehaviorBuilder<Command> b, State state) {
        return b.onSignal(PostStop.class, this::onPostStop)
                .onMessage(GetStatus.class, g -> reply(g, state))
                .onMessage(WatchTermination.class, w -> { end.watch(w.replyTo()); return Behaviors.same(); })
                .onMessage(AttachConsole.class, a -> { console.tell(new ConsoleHub.Attach(a.subscriber(), a.replay())); return Behaviors.same(); })
                .onMessage(DetachConsole.class, d -> { console.tell(new ConsoleHub.Detach(d.subscriber())); return Behaviors.same(); })
                .onMessage(GetStats.class, g -> { stats(g.replyTo()); return Behaviors.same(); });
    }

    /** Messages every live state handles the same way. */
    private BehaviorBuilder<Command> live(State state) {
        return live(Behaviors.receive(Command.class), state);
    }

    /** As {@link #live(State)}, after {@code own} handlers (which match first). */
    private BehaviorBuilder<Command> live(BehaviorBuilder<Command> own, State state) {
        return any(own, state)
                .onMessage(ConsoleInput.class, i -> { runtime.devices.consoleInput(i.data().clone()); return Behaviors.same(); })
                .onMessage(SendCtrlAltDel.class, k -> {
                    runtime.devices.keyboardInput(I8042.CTRL_ALT_DEL);
                    k.replyTo().tell(StatusReply.ack());
                    return Behaviors.same();
                })
                .onMessage(Start.class, s -> notNow(s.replyTo(), state))
                .onMessage(Stop.class, s -> { end.awaitStop(s.replyTo()); return beginStop(new Terminated(s.reason(), 0, false)); })
                .onMessage(GuestEnded.class, e -> beginStop(e.how()))
                .onMessage(VcpuStopped.class, this::onVcpuStopped)
                .onMessage(AttachDebugger.class, a -> {
                    runtime.debugger.attach(a.listener());
                    a.replyTo().tell(StatusReply.success(runtime.debugger));
                    return Behaviors.same();
                })
                .onMessage(GetDebugger.class, g -> {
                    g.replyTo().tell(StatusReply.success(runtime.debugger));
                    return Behaviors.same();
                })
                .onMessage(Journaled.class, this::onJournaled)
                // A migration's pause asked for after it ended (it was aborted meanwhile).
                .onMessage(MigrationPause.class, p -> {
                    p.states().completeExceptionally(new IllegalStateException("no migration is under way"));
                    return Behaviors.same();
                });
    }

    private Behavior<Command> running() {
        return live(State.RUNNING)
                .onMessage(Pause.class, p -> {
                    ctx.pipeToSelf(runtime.vcpus.pauseAll(), (ok, e) -> new PauseDone(p.replyTo(), e));
                    return Behaviors.same();
                })
                .onMessage(PauseDone.class, d -> {
                    if (d.failure() != null) {
                        d.replyTo().tell(StatusReply.error("pause failed: " + reason(d.failure())));
                        return Behaviors.same();
                    }
                    d.replyTo().tell(StatusReply.ack());
                    journal.record(VmEvents.paused());
                    return paused();
                })
                .onMessage(Resume.class, r -> { r.replyTo().tell(StatusReply.ack()); return Behaviors.same(); })
                .onMessage(TakeSnapshot.class, t -> startSnapshot(t, true))
                .onMessage(MigrateOut.class, this::startMigration)
                .build();
    }

    private Behavior<Command> paused() {
        return live(State.PAUSED)
                .onMessage(Pause.class, p -> { p.replyTo().tell(StatusReply.ack()); return Behaviors.same(); })
                .onMessage(PauseDone.class, d -> { d.replyTo().tell(StatusReply.ack()); return Behaviors.same(); })
                .onMessage(Resume.class, r -> {
                    runtime.vcpus.resumeAll();
                    r.replyTo().tell(StatusReply.ack());
                    journal.record(VmEvents.resumed());
                    return running();
                })
                .onMessage(TakeSnapshot.class, t -> startSnapshot(t, false))
                .onMessage(MigrateOut.class, m -> notNow(m.replyTo(), State.PAUSED))
                .build();
    }

    /** The live migration under way (null when none): see {@link OutgoingMigration}. */
    private OutgoingMigration migration;

    /** Starts a live migration; the guest runs on while its pages go ({@link #migrating}). */
    private Behavior<Command> startMigration(MigrateOut m) {
        if (snapshots == null) {
            m.replyTo().tell(StatusReply.error("VM " + config.name() + " has no data directory: migration needs its dirty-page log"));
            return Behaviors.same();
        }
        migration = OutgoingMigration.start(ctx, config, runtime.machine, m);
        // The migration reads (and so clears) the dirty-page log: the next snapshot cannot build on the last one.
        snapshots.dirtyLogTaken();
        return migrating();
    }

    /**
     * The guest runs while its pages stream out. Pause, snapshots and another migration wait for
     * no one: they are refused. A stop aborts the migration first.
     */
    private Behavior<Command> migrating() {
        BehaviorBuilder<Command> own = Behaviors.receive(Command.class)
                .onMessage(MigrationPause.class, p -> {
                    migration.pause(runtime, ctx.getSystem().scheduler(), p.states());
                    return Behaviors.same();
                })
                .onMessage(MigrationDone.class, this::onMigrationDone)
                .onMessage(MigrationReleased.class, r -> {
                    // The guest was paused for the last round; the migration failed: it goes on here.
                    VmSnapshotter.release(runtime, true);
                    return afterMigration();
                })
                .onMessage(Stop.class, s -> {
                    migration.abort("VM " + config.name() + " was asked to stop", s);
                    return Behaviors.same();
                })
                .onMessage(Pause.class, p -> notNow(p.replyTo(), "migrating"))
                .onMessage(TakeSnapshot.class, t -> notNow(t.replyTo(), "migrating"))
                .onMessage(MigrateOut.class, m -> notNow(m.replyTo(), "migrating"))
                .onMessage(Resume.class, r -> { r.replyTo().tell(StatusReply.ack()); return Behaviors.same(); });
        return live(own, State.RUNNING).build();
    }

    private Behavior<Command> onMigrationDone(MigrationDone d) {
        migration.close();
        if (d.failure() == null) {
            d.replyTo().tell(StatusReply.success(migration.result(d.snapshotId())));
            ctx.getLog().info("VM {}: migrated out to snapshot {}; paused here until the move is committed", config.name(), d.snapshotId());
            migration = null;
            return migratedOut();
        }
        String why = reason(d.failure());
        ctx.getLog().warn("VM {}: migration failed, the guest goes on here: {}", config.name(), why);
        d.replyTo().tell(StatusReply.error("migration failed: " + why));
        if (migration.pausedForLastRound()) {
            migration.whenPaused(() -> ctx.getSelf().tell(MigrationReleased.INSTANCE));
            return Behaviors.same();
        }
        return afterMigration();
    }

    /** Back to running after a failed migration; a stop that aborted it goes on now. */
    private Behavior<Command> afterMigration() {
        Stop pending = migration.pendingStop();
        migration = null;
        if (pending != null) ctx.getSelf().tell(pending);
        return running();
    }

    /**
     * Migrated out: paused, rings quiesced, the target holds the VM. The owner commits the move
     * and stops this actor, or resumes the guest here ({@link Resume}) when the commit failed.
     */
    private Behavior<Command> migratedOut() {
        BehaviorBuilder<Command> own = Behaviors.receive(Command.class)
                .onMessage(Resume.class, r -> {
                    VmSnapshotter.release(runtime, true);
                    r.replyTo().tell(StatusReply.ack());
                    return running();
                })
                .onMessage(Stop.class, s -> {
                    end.awaitStop(s.replyTo());
                    runtime.devices.resumeRings();
                    return beginStop(new Terminated(s.reason(), 0, false));
                })
                .onMessage(Pause.class, p -> { p.replyTo().tell(StatusReply.ack()); return Behaviors.same(); })
                .onMessage(TakeSnapshot.class, t -> notNow(t.replyTo(), "migrated out"))
                .onMessage(MigrateOut.class, m -> notNow(m.replyTo(), "migrated out"));
        return live(own, State.PAUSED).build();
    }

    /** Takes a snapshot ({@link VmSnapshotter}) while other commands wait in a stash. */
    private Behavior<Command> startSnapshot(TakeSnapshot t, boolean wasRunning) {
        if (snapshots == null) {
            t.replyTo().tell(StatusReply.error("VM " + config.name() + " has no data directory: snapshots need one"));
            return Behaviors.same();
        }
        SnapshotEvent recorded = SnapshotEvent.begin(config.name(), t.full());
        long snapshotStart = System.nanoTime();
        ctx.pipeToSelf(snapshots.take(runtime, t.full(), wasRunning, ctx.getSystem()),
                (taken, failure) -> new SnapshotDone(t.replyTo(), taken, failure, wasRunning));
        return Behaviors.withStash(STASH_CAPACITY, stash -> Behaviors.receive(Command.class)
                .onSignal(PostStop.class, this::onPostStop)
                .onMessage(SnapshotDone.class, d -> {
                    VmSnapshotter.release(runtime, d.wasRunning());
                    lifecycle = d.failure() != null ? lifecycle.snapshotFailed() : lifecycle.snapshotTaken(System.nanoTime() - snapshotStart);
                    if (d.failure() != null) {
                        String why = reason(d.failure());
                        ctx.getLog().warn("VM {}: snapshot failed, the next one will be full: {}", config.name(), why);
                        journal.record(snapshots.failed(why));
                        recorded.failed(why);
                        d.replyTo().tell(StatusReply.error("snapshot failed: " + why));
                    } else {
                        SnapshotInfo info = snapshots.taken(d.taken());
                        recorded.taken(info.id(), info.full(), info.pages(), info.bytesWritten());
                        // The reply waits for the journal: "snapshot taken" is durable once the caller hears of it.
                        journal.record(VmSnapshotter.event(d.taken()), failure -> new SnapshotJournaled(d.replyTo(), info, failure));
                    }
                    return stash.unstashAll(d.wasRunning() ? running() : paused());
                })
                .onMessage(GetStatus.class, g -> reply(g, State.PAUSED))
                .onAnyMessage(msg -> {
                    if (stash.isFull()) ctx.getLog().warn("VM {} is taking a snapshot; dropped {}", config.name(), msg);
                    else stash.stash(msg);
                    return Behaviors.same();
                })
                .build());
    }

    private Behavior<Command> onVcpuStopped(VcpuStopped m) {
        runtime.vcpus.stopped(m.stopped().vcpuId());
        VcpuActor.Outcome o = m.stopped().outcome();
        // A vCPU the guest (or KVM) ended on its own ends the VM.
        return o.requested() ? Behaviors.same() : beginStop(new Terminated(o.reason(), o.error() ? 1 : 0, o.error()));
    }

    /**
     * Stop order: vCPUs first (no new exits), then every device drains its mailbox (so output the
     * guest produced before it stopped is not lost), then KVM handles and memory are released.
     */
    private Behavior<Command> beginStop(Terminated why) {
        end.decide(why);
        // The guest ended (or was stopped) while its pages were going: no more guest memory is
        // read before the machine is released; the migration's owner hears it failed.
        if (migration != null) {
            migration.abort("VM " + config.name() + " ended: " + why.reason(), null);
            migration = null;
        }
        runtime.vcpus.stopAll();
        return stopping();
    }

    private Behavior<Command> stopping() {
        if (runtime.vcpus.allStopped()) drainDevices();
        return notLive(State.STOPPING, Behaviors.receive(Command.class)
                .onMessage(VcpuStopped.class, m -> {
                    runtime.vcpus.stopped(m.stopped().vcpuId());
                    if (runtime.vcpus.allStopped()) drainDevices();
                    return Behaviors.same();
                })
                .onMessage(Journaled.class, this::onJournaled)
                .onMessage(DevicesDrained.class, d -> {
                    finalDeviceMetrics = d.metrics();
                    runtime.release();
                    runtime = null;
                    // Watchers hear of the end once it is journaled: an embedder may exit the JVM then.
                    Terminated t = end.termination();
                    journal.record(t.error() ? VmEvents.failed(t.reason()) : VmEvents.stopped(t.reason(), t.exitStatus()), EndJournaled::new);
                    return stopped();
                })
                .onMessage(Stop.class, s -> { end.awaitStop(s.replyTo()); return Behaviors.same(); })
                .onMessage(PauseDone.class, d -> notNow(d.replyTo(), State.STOPPING)));
    }

    /** Devices drain their mailboxes, then the console hub passes the guest's last output on (before anyone hears of the end). */
    private void drainDevices() {
        var scheduler = ctx.getSystem().scheduler();
        ctx.pipeToSelf(runtime.devices.drain(scheduler).thenCompose(metrics -> AskPattern.<ConsoleHub.Command, Done>ask(console,
                        ConsoleHub.Flush::new, Duration.ofSeconds(10), scheduler).thenApply(flushed -> metrics)),
                (metrics, failure) -> new DevicesDrained(metrics == null ? List.of() : metrics));
    }

    private Behavior<Command> stopped() {
        return notLive(State.STOPPED, Behaviors.receive(Command.class)
                .onMessage(Journaled.class, this::onJournaled)
                .onMessage(Stop.class, s -> { end.awaitStop(s.replyTo()); return Behaviors.same(); }));
    }

    /** Exit counters and, while devices run, their metrics (after the end: their final ones). */
    private void stats(ActorRef<Stats> replyTo) {
        Map<String, Long> io = stats.snapshot();
        Lifecycle l = lifecycle;
        if (runtime == null) replyTo.tell(new Stats(io, finalDeviceMetrics, l));
        else runtime.devices.metrics(ctx.getSystem().scheduler()).thenAccept(metrics -> replyTo.tell(new Stats(io, metrics, l)));
    }

    private Behavior<Command> reply(GetStatus g, State state) {
        g.replyTo().tell(new Status(config.name(), state, end.termination()));
        return Behaviors.same();
    }

    /** What a failed future says, without the CompletionException wrapper. */
    private static String reason(Throwable failure) {
        Throwable e = failure instanceof CompletionException c && c.getCause() != null ? c.getCause() : failure;
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    private <T> Behavior<Command> notNow(ActorRef<StatusReply<T>> replyTo, State state) {
        return notNow(replyTo, state.name().toLowerCase());
    }

    private <T> Behavior<Command> notNow(ActorRef<StatusReply<T>> replyTo, String state) {
        replyTo.tell(StatusReply.error("VM " + config.name() + " is " + state));
        return Behaviors.same();
    }
}
