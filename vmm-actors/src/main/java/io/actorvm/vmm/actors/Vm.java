package io.actorvm.vmm.actors;

import io.actorvm.devices.VmControl;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.journal.VmJournal;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;
import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.io.ExitRouter;
import io.actorvm.vmm.actors.io.IoStats;
import io.actorvm.vmm.actors.vcpu.VcpuActor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A virtual machine as an actor: the public entry point for embedding. Spawn {@link #create} in
 * any {@code ActorSystem}, send {@link Start}, and watch for {@link Terminated}. The VM owns its
 * memory, the I/O buses, one {@link VcpuActor} per vCPU and one {@link DeviceActor} per device.
 *
 * <p>States: created → running ⇄ paused → stopping → stopped. Every lifecycle command has a reply,
 * so the VM can later become event-sourced without changing its protocol.
 */
public final class Vm {

    public sealed interface Command {}

    /** Builds the machine (KVM, memory, kernel, devices) and starts the vCPUs. */
    public record Start(ActorRef<StatusReply<Done>> replyTo) implements Command {}

    /** Parks every vCPU outside the guest. */
    public record Pause(ActorRef<StatusReply<Done>> replyTo) implements Command {}

    public record Resume(ActorRef<StatusReply<Done>> replyTo) implements Command {}

    /** Stops the VM; the reply comes when everything is released. */
    public record Stop(String reason, ActorRef<StatusReply<Done>> replyTo) implements Command {}

    public record GetStatus(ActorRef<Status> replyTo) implements Command {}

    /** Registers for the one {@link Terminated} message this VM will send (at once if already stopped). */
    public record WatchTermination(ActorRef<Terminated> replyTo) implements Command {}

    /** Bytes typed at the console, for the guest's COM1. */
    public record ConsoleInput(byte[] data) implements Command {}

    public record GetStats(ActorRef<Stats> replyTo) implements Command {}

    /**
     * Takes a snapshot into the VM's data directory: full the first time, then incremental (pages
     * dirtied since the previous one). A running VM is paused for it and resumed after.
     */
    public record TakeSnapshot(boolean full, ActorRef<StatusReply<SnapshotInfo>> replyTo) implements Command {
        /** Full for the first snapshot, incremental after. */
        public TakeSnapshot(ActorRef<StatusReply<SnapshotInfo>> replyTo) {
            this(false, replyTo);
        }
    }

    /** A snapshot that was taken. */
    public record SnapshotInfo(String id, String parentId, boolean full, long pages, long bytesWritten, long millis) {}

    private record SnapshotDone(ActorRef<StatusReply<SnapshotInfo>> replyTo, VmSnapshots.Taken taken, Throwable failure,
                                boolean wasRunning) implements Command {}

    /** The journal recorded the event a step waited for; {@code failure} is null, or why it could not. */
    private sealed interface Journaled extends Command {
        String failure();
    }

    /** "started" (or "restored") is journaled: the vCPUs may run. */
    private record StartJournaled(ActorRef<StatusReply<Done>> replyTo, String failure) implements Journaled {}

    /** "snapshot taken" is journaled: the snapshot exists for recovery, the caller may hear of it. */
    private record SnapshotJournaled(ActorRef<StatusReply<SnapshotInfo>> replyTo, SnapshotInfo info, String failure) implements Journaled {}

    /** "stopped" (or "failed") is journaled: watchers may hear how the VM ended. */
    private record EndJournaled(String failure) implements Journaled {}

    // Internal messages.
    private record VcpuStopped(VcpuActor.Stopped stopped) implements Command {}

    private record GuestExit(int status) implements Command {}

    private record GuestReset(String reason) implements Command {}

    private record GuestPowerOff() implements Command {}

    private record DevicesDrained(List<DeviceActor.Metrics> metrics) implements Command {}

    private record MachineBuilt(ActorRef<StatusReply<Done>> replyTo, Machine machine, Throwable failure) implements Command {}

    private record PauseDone(ActorRef<StatusReply<Done>> replyTo, Throwable failure) implements Command {}

    private static final int STASH_CAPACITY = 1000;
    /** Placeholder for "this device keeps no state" in the snapshot capture. */
    private static final byte[] NO_STATE = new byte[0];

    public enum State { CREATED, RUNNING, PAUSED, STOPPING, STOPPED }

    public record Status(String name, State state, Terminated termination) {}

    /**
     * How the VM ended. {@code exitStatus}: the guest's debug-exit value; 0 for a guest power-off,
     * reset or a requested stop; 1 for a failure (triple fault, KVM error, failed start).
     */
    public record Terminated(String reason, int exitStatus, boolean error) {}

    public record Stats(Map<String, Long> io, List<DeviceActor.Metrics> devices) {}

    /** The VM's behavior. Nothing touches KVM until {@link Start}. */
    public static Behavior<Command> create(VmConfig config) {
        return Behaviors.setup(ctx -> new Vm(ctx, config, null, false).created());
    }

    /**
     * A VM rebuilt from snapshot {@code snapshotId} of {@code config.dataDir()} on {@link Start}:
     * the guest continues where it was when the snapshot was taken (or waits paused).
     */
    public static Behavior<Command> restore(VmConfig config, String snapshotId, boolean paused) {
        return Behaviors.setup(ctx -> new Vm(ctx, config, snapshotId, paused).created());
    }

    private final ActorContext<Command> ctx;
    private final VmConfig config;
    private final IoStats stats = new IoStats();
    private final List<ActorRef<Terminated>> watchers = new ArrayList<>();
    private final List<ActorRef<StatusReply<Done>>> stopWaiters = new ArrayList<>();
    private final List<ActorRef<VcpuActor.Command>> vcpus = new ArrayList<>();
    private final Set<Integer> runningVcpus = new HashSet<>();
    private Machine machine;
    /** Cleared before the VM fd is closed: a late interrupt from a device must not reach a reused fd number. */
    private final java.util.concurrent.atomic.AtomicBoolean irqchipOpen = new java.util.concurrent.atomic.AtomicBoolean(true);
    /** The VM's devices once the machine is built. */
    private VmDevices devices;
    private Terminated termination;
    private List<DeviceActor.Metrics> finalDeviceMetrics = List.of();

    private final String restoreFrom;
    private final boolean startPaused;
    /** The VM's journal (an event-sourced child), when it has a data directory. */
    private ActorRef<VmJournal.Command> journal;
    private SnapshotStore snapshots;
    private String lastSnapshotId;
    /** Watchers have been told how the VM ended (after the journal recorded it). */
    private boolean endAnnounced;

    private Vm(ActorContext<Command> ctx, VmConfig config, String restoreFrom, boolean startPaused) {
        this.ctx = ctx;
        this.config = config;
        this.restoreFrom = restoreFrom;
        this.startPaused = startPaused;
        this.lastSnapshotId = restoreFrom;
    }

    /** Persists {@code event} and forgets it (a failure is logged by the journal). */
    private void journal(VmEvent event) {
        if (journal != null) journal.tell(new VmJournal.Record(event, null));
    }

    /**
     * Persists {@code event}, then sends this actor {@code next(failure)}: failure is null once the
     * event is durable (at once when there is no journal), else why it is not.
     */
    private void journal(VmEvent event, java.util.function.Function<String, Journaled> next) {
        if (journal == null) {
            ctx.getSelf().tell(next.apply(null));
            return;
        }
        ctx.pipeToSelf(AskPattern.<VmJournal.Command, Done>ask(journal, r -> new VmJournal.Record(event, r), Duration.ofSeconds(30),
                ctx.getSystem().scheduler()), (ok, failure) -> next.apply(failure == null ? null
                : failure.getMessage() != null ? failure.getMessage() : failure.toString()));
    }

    private Behavior<Command> onJournaled(Journaled j) {
        if (j.failure() != null) ctx.getLog().error("VM {}: journal write failed: {}", config.name(), j.failure());
        switch (j) {
            case StartJournaled s -> {
                // The guest runs even when its start could not be journaled: the VM's owner asked for it.
                vcpus.forEach(v -> v.tell(new VcpuActor.Run()));
                s.replyTo().tell(StatusReply.ack());
            }
            case SnapshotJournaled s -> s.replyTo().tell(s.failure() == null ? StatusReply.success(s.info())
                    : StatusReply.error("snapshot " + s.info().id() + " is stored, but the journal did not record it ("
                    + s.failure() + "): recovery will not find it"));
            case EndJournaled e -> {
                endAnnounced = true;
                stopWaiters.forEach(w -> w.tell(StatusReply.ack()));
                stopWaiters.clear();
                watchers.forEach(w -> w.tell(termination));
                watchers.clear();
            }
        }
        return Behaviors.same();
    }

    private Behavior<Command> created() {
        return Behaviors.receive(Command.class)
                .onMessage(Start.class, this::onStart)
                .onMessage(Stop.class, s -> {
                    termination = new Terminated(s.reason(), 0, false);
                    s.replyTo().tell(StatusReply.ack());
                    endAnnounced = true;
                    return stopped();
                })
                .onMessage(GetStatus.class, g -> reply(g, State.CREATED))
                .onMessage(WatchTermination.class, w -> { watchers.add(w.replyTo()); return Behaviors.same(); })
                .onMessage(GetStats.class, g -> { g.replyTo().tell(new Stats(stats.snapshot(), List.of())); return Behaviors.same(); })
                .onMessage(Pause.class, p -> notNow(p.replyTo(), State.CREATED))
                .onMessage(Resume.class, r -> notNow(r.replyTo(), State.CREATED))
                .onMessage(ConsoleInput.class, i -> Behaviors.same())
                .build();
    }

    /**
     * Building the machine reads the kernel file, maps memory and makes a few dozen ioctls: that is
     * blocking work, so it runs on Pekko's blocking dispatcher while the VM stashes other commands.
     */
    private Behavior<Command> onStart(Start start) {
        var blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
        if (config.dataDir() != null) {
            journal = ctx.spawn(VmJournal.create(config.name()), "journal");
            journal.tell(new VmJournal.Define(VmEvents.defined(config)));
        }
        ctx.pipeToSelf(CompletableFuture.supplyAsync(() -> {
                    if (restoreFrom == null) return Machine.create(config);
                    SnapshotStore store = SnapshotStore.open(config.dataDir());
                    return Machine.create(config, store, VmSnapshots.load(store, restoreFrom));
                }, blocking),
                (built, failure) -> new MachineBuilt(start.replyTo(), built, failure));
        return Behaviors.withStash(STASH_CAPACITY, stash -> Behaviors.receive(Command.class)
                .onMessage(MachineBuilt.class, b -> stash.unstashAll(onMachineBuilt(b)))
                .onMessage(GetStatus.class, g -> reply(g, State.CREATED))
                .onAnyMessage(m -> {
                    if (stash.isFull()) ctx.getLog().warn("VM {} is starting; dropped {}", config.name(), m);
                    else stash.stash(m);
                    return Behaviors.same();
                })
                .build());
    }

    private Behavior<Command> onMachineBuilt(MachineBuilt built) {
        if (built.failure() != null) {
            Throwable e = built.failure() instanceof java.util.concurrent.CompletionException c && c.getCause() != null
                    ? c.getCause() : built.failure();
            String reason = e.getMessage() != null ? e.getMessage() : e.toString();
            built.replyTo().tell(StatusReply.error(reason));
            termination = new Terminated("failed to start: " + reason, 1, true);
            watchers.forEach(w -> w.tell(termination));
            watchers.clear();
            endAnnounced = true;
            return stopped();
        }
        machine = built.machine();
        ActorRef<StatusReply<Done>> startReply = built.replyTo();
        VmControl control = new VmControl() {
            @Override
            public void requestReset(String reason) {
                ctx.getSelf().tell(new GuestReset(reason));
            }

            @Override
            public void requestExit(int status) {
                ctx.getSelf().tell(new GuestExit(status));
            }

            @Override
            public void requestPowerOff() {
                ctx.getSelf().tell(new GuestPowerOff());
            }
        };
        devices = VmDevices.attach(ctx, config, machine, control, irqchipOpen);
        devices.restore(machine.restoredDeviceStates);
        ExitRouter router = new ExitRouter(devices.ports, devices.mmio, machine.ring, ctx.getSystem().scheduler(), stats);
        ActorRef<VcpuActor.Stopped> stoppedAdapter = ctx.messageAdapter(VcpuActor.Stopped.class, VcpuStopped::new);
        for (var fd : machine.vcpus) {
            var ref = ctx.spawn(VcpuActor.create(fd, router, stoppedAdapter), "vcpu-" + fd.id());
            vcpus.add(ref);
            runningVcpus.add(fd.id());
        }
        if (config.dataDir() != null) snapshots = SnapshotStore.open(config.dataDir());
        if (startPaused) vcpus.forEach(v -> v.tell(new VcpuActor.Pause(ctx.getSystem().ignoreRef())));
        if (startPaused) journal(restoreFrom != null ? VmEvents.restored(restoreFrom) : VmEvents.started());
        // The journal records that the guest runs before it does: a VMM killed at any moment
        // leaves a journal that knows about every guest execution.
        journal(startPaused ? VmEvents.paused() : restoreFrom != null ? VmEvents.restored(restoreFrom) : VmEvents.started(),
                failure -> new StartJournaled(startReply, failure));
        return startPaused ? paused() : running();
    }

    /** Messages every live state handles the same way. */
    private org.apache.pekko.actor.typed.javadsl.BehaviorBuilder<Command> live(State state) {
        return Behaviors.receive(Command.class)
                .onMessage(GetStatus.class, g -> reply(g, state))
                .onMessage(WatchTermination.class, w -> { watchers.add(w.replyTo()); return Behaviors.same(); })
                .onMessage(ConsoleInput.class, i -> {
                    devices.consoleInput(i.data().clone());
                    return Behaviors.same();
                })
                .onMessage(GetStats.class, g -> {
                    statsWithDevices(g.replyTo());
                    return Behaviors.same();
                })
                .onMessage(Start.class, s -> notNow(s.replyTo(), state))
                .onMessage(Stop.class, s -> {
                    stopWaiters.add(s.replyTo());
                    return beginStop(new Terminated(s.reason(), 0, false));
                })
                .onMessage(GuestExit.class, e -> beginStop(new Terminated("guest exited with status " + e.status(), e.status(), false)))
                .onMessage(GuestReset.class, r -> beginStop(new Terminated(r.reason(), 0, false)))
                .onMessage(GuestPowerOff.class, r -> beginStop(new Terminated("guest powered off", 0, false)))
                .onMessage(VcpuStopped.class, this::onVcpuStopped)
                .onMessage(Journaled.class, this::onJournaled);
    }

    private Behavior<Command> running() {
        return live(State.RUNNING)
                .onMessage(Pause.class, p -> {
                    List<CompletableFuture<Done>> acks = new ArrayList<>();
                    for (var v : vcpus) {
                        acks.add(AskPattern.<VcpuActor.Command, Done>ask(v, VcpuActor.Pause::new, Duration.ofSeconds(10),
                                ctx.getSystem().scheduler()).toCompletableFuture());
                    }
                    ctx.pipeToSelf(CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)),
                            (ok, failure) -> new PauseDone(p.replyTo(), failure));
                    return Behaviors.same();
                })
                .onMessage(PauseDone.class, d -> {
                    if (d.failure() != null) {
                        d.replyTo().tell(StatusReply.error("pause failed: " + d.failure().getMessage()));
                        return Behaviors.same();
                    }
                    d.replyTo().tell(StatusReply.ack());
                    journal(VmEvents.paused());
                    return paused();
                })
                .onMessage(Resume.class, r -> { r.replyTo().tell(StatusReply.ack()); return Behaviors.same(); })
                .onMessage(TakeSnapshot.class, t -> startSnapshot(t, true))
                .build();
    }

    private Behavior<Command> paused() {
        return live(State.PAUSED)
                .onMessage(Pause.class, p -> { p.replyTo().tell(StatusReply.ack()); return Behaviors.same(); })
                .onMessage(PauseDone.class, d -> { d.replyTo().tell(StatusReply.ack()); return Behaviors.same(); })
                .onMessage(Resume.class, r -> {
                    for (var v : vcpus) v.tell(new VcpuActor.Resume(ctx.getSystem().ignoreRef()));
                    r.replyTo().tell(StatusReply.ack());
                    journal(VmEvents.resumed());
                    return running();
                })
                .onMessage(TakeSnapshot.class, t -> startSnapshot(t, false))
                .build();
    }

    /**
     * Snapshot order: vCPUs parked (each finishes its last instruction first), then KVM state and
     * memory are captured off the actor, on the blocking dispatcher; other commands wait in a stash.
     */
    private Behavior<Command> startSnapshot(TakeSnapshot t, boolean wasRunning) {
        if (snapshots == null) {
            t.replyTo().tell(StatusReply.error("VM " + config.name() + " has no data directory: snapshots need one"));
            return Behaviors.same();
        }
        CompletableFuture<Void> parked = CompletableFuture.completedFuture(null);
        if (wasRunning) {
            List<CompletableFuture<Done>> acks = new ArrayList<>();
            for (var v : vcpus) {
                acks.add(AskPattern.<VcpuActor.Command, Done>ask(v, VcpuActor.Pause::new, Duration.ofSeconds(10),
                        ctx.getSystem().scheduler()).toCompletableFuture());
            }
            parked = CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new));
        }
        var blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
        Machine m = machine;
        SnapshotStore store = snapshots;
        String parent = t.full() ? null : lastSnapshotId;
        var definition = VmEvents.definition(config);
        // Devices are asked for their registers once the vCPUs are parked: nothing changes them then.
        VmDevices attached = devices;
        var scheduler = ctx.getSystem().scheduler();
        CompletableFuture<Map<String, byte[]>> deviceStates = parked.thenCompose(x -> attached.captureStates(scheduler));
        ctx.pipeToSelf(deviceStates.thenApplyAsync(states -> VmSnapshots.take(store, definition, m.memory, m.vm, m.vcpus, m.snapshotMsrs,
                m.guestCpuid, states, parent, m::dirtyPages), blocking), (taken, failure) -> new SnapshotDone(t.replyTo(), taken, failure, wasRunning));
        return Behaviors.withStash(STASH_CAPACITY, stash -> Behaviors.receive(Command.class)
                .onMessage(SnapshotDone.class, d -> {
                    devices.resumeRings();
                    if (d.wasRunning()) vcpus.forEach(v -> v.tell(new VcpuActor.Resume(ctx.getSystem().ignoreRef())));
                    if (d.failure() != null) {
                        Throwable e = d.failure() instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : d.failure();
                        d.replyTo().tell(StatusReply.error("snapshot failed: " + e.getMessage()));
                    } else {
                        VmSnapshots.Taken tk = d.taken();
                        lastSnapshotId = tk.id();
                        var info = new SnapshotInfo(tk.id(), tk.parentId(), tk.full(), tk.pages(), tk.bytesWritten(), tk.millis());
                        // The reply waits for the journal: "snapshot taken" is durable once the caller hears of it.
                        journal(VmEvents.snapshotTaken(tk.id(), tk.manifest(), tk.parentId(), tk.full(), tk.pages(), tk.bytesWritten()),
                                failure -> new SnapshotJournaled(d.replyTo(), info, failure));
                    }
                    return stash.unstashAll(d.wasRunning() ? running() : paused());
                })
                .onMessage(GetStatus.class, g -> reply(g, State.PAUSED))
                .onAnyMessage(msg -> {
                    if (!stash.isFull()) stash.stash(msg);
                    return Behaviors.same();
                })
                .build());
    }

    private Behavior<Command> onVcpuStopped(VcpuStopped m) {
        runningVcpus.remove(m.stopped().vcpuId());
        VcpuActor.Outcome o = m.stopped().outcome();
        if (!o.requested()) {
            // The guest (or KVM) ended this vCPU on its own: that ends the VM.
            return beginStop(new Terminated(o.reason(), o.error() ? 1 : 0, o.error()));
        }
        return Behaviors.same();
    }

    /**
     * Stop order: vCPUs first (no new exits), then every device drains its mailbox (so output the
     * guest produced before it stopped is not lost), then KVM handles and memory are released.
     */
    private Behavior<Command> beginStop(Terminated why) {
        if (termination == null) termination = why;
        vcpus.forEach(v -> v.tell(new VcpuActor.Stop()));
        return stopping();
    }

    private Behavior<Command> stopping() {
        if (runningVcpus.isEmpty()) drainDevices();
        return Behaviors.receive(Command.class)
                .onMessage(VcpuStopped.class, m -> {
                    runningVcpus.remove(m.stopped().vcpuId());
                    if (runningVcpus.isEmpty()) drainDevices();
                    return Behaviors.same();
                })
                .onMessage(Journaled.class, this::onJournaled)
                .onMessage(DevicesDrained.class, d -> {
                    finalDeviceMetrics = d.metrics();
                    devices.stop();
                    irqchipOpen.set(false);
                    machine.close();
                    machine = null;
                    // Watchers hear of the end once it is journaled: an embedder may exit the JVM then.
                    journal(termination.error() ? VmEvents.failed(termination.reason())
                            : VmEvents.stopped(termination.reason(), termination.exitStatus()), EndJournaled::new);
                    return stopped();
                })
                .onMessage(Stop.class, s -> { stopWaiters.add(s.replyTo()); return Behaviors.same(); })
                .onMessage(GetStatus.class, g -> reply(g, State.STOPPING))
                .onMessage(WatchTermination.class, w -> { watchers.add(w.replyTo()); return Behaviors.same(); })
                .onMessage(GetStats.class, g -> { statsWithDevices(g.replyTo()); return Behaviors.same(); })
                .onMessage(Start.class, s -> notNow(s.replyTo(), State.STOPPING))
                .onMessage(Pause.class, p -> notNow(p.replyTo(), State.STOPPING))
                .onMessage(Resume.class, r -> notNow(r.replyTo(), State.STOPPING))
                .onMessage(PauseDone.class, d -> notNow(d.replyTo(), State.STOPPING))
                .onAnyMessage(m -> Behaviors.same()) // guest exits, resets and input after the stop began
                .build();
    }

    private void drainDevices() {
        ctx.pipeToSelf(devices.drain(ctx.getSystem().scheduler()), (metrics, failure) -> new DevicesDrained(metrics == null ? List.of() : metrics));
    }

    private Behavior<Command> stopped() {
        return Behaviors.receive(Command.class)
                .onMessage(Journaled.class, this::onJournaled)
                .onMessage(GetStatus.class, g -> reply(g, State.STOPPED))
                .onMessage(WatchTermination.class, w -> {
                    if (endAnnounced) w.replyTo().tell(termination);
                    else watchers.add(w.replyTo()); // the end is still being journaled
                    return Behaviors.same();
                })
                .onMessage(GetStats.class, g -> { g.replyTo().tell(new Stats(stats.snapshot(), finalDeviceMetrics)); return Behaviors.same(); })
                .onMessage(Stop.class, s -> { s.replyTo().tell(StatusReply.ack()); return Behaviors.same(); })
                .onMessage(Start.class, s -> notNow(s.replyTo(), State.STOPPED))
                .onMessage(Pause.class, p -> notNow(p.replyTo(), State.STOPPED))
                .onMessage(Resume.class, r -> notNow(r.replyTo(), State.STOPPED))
                .onAnyMessage(m -> Behaviors.same())
                .build();
    }

    private void statsWithDevices(ActorRef<Stats> replyTo) {
        Map<String, Long> io = stats.snapshot();
        devices.metrics(ctx.getSystem().scheduler()).thenAccept(metrics -> replyTo.tell(new Stats(io, metrics)));
    }

    private Behavior<Command> reply(GetStatus g, State state) {
        g.replyTo().tell(new Status(config.name(), state, termination));
        return Behaviors.same();
    }

    private Behavior<Command> notNow(ActorRef<StatusReply<Done>> replyTo, State state) {
        replyTo.tell(StatusReply.error("VM " + config.name() + " is " + state.name().toLowerCase()));
        return Behaviors.same();
    }
}
