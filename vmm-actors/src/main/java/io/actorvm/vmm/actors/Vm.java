package io.actorvm.vmm.actors;

import io.actorvm.devices.HostSources;
import io.actorvm.vmm.actors.console.ConsoleOutput;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;
import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.vcpu.VcpuActor;
import io.actorvm.persistence.KryoSerializable;
import org.apache.pekko.Done;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

import java.util.List;
import java.util.Map;

/**
 * A virtual machine as an actor: the public entry point for embedding. Spawn {@link #create} in
 * any {@code ActorSystem}, send {@link Start}, and watch for {@link Terminated}. The VM owns its
 * {@link VmRuntime} (machine, devices, vCPUs) and journal. States: created → running ⇄ paused →
 * stopping → stopped; every lifecycle command has a reply. This class is the protocol and its
 * factories; {@link VmBehavior} is the state machine behind them.
 */
public final class Vm {

    public sealed interface Command {}

    /** Builds the machine (KVM, memory, kernel, devices) and starts the vCPUs. */
    public record Start(ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {}

    /** Parks every vCPU outside the guest; {@link Resume} lets them run again. */
    public record Pause(ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {}
    public record Resume(ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {}

    /** Stops the VM; the reply comes when everything is released. */
    public record Stop(String reason, ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {}

    /** The VM's name, state and (once it ends) how it ended. */
    public record GetStatus(ActorRef<Status> replyTo) implements Command, KryoSerializable {}

    /** Registers for the one {@link Terminated} message this VM will send (at once if already stopped). */
    public record WatchTermination(ActorRef<Terminated> replyTo) implements Command, KryoSerializable {}

    /** Bytes typed at the console, for the guest's COM1. */
    public record ConsoleInput(byte[] data) implements Command, KryoSerializable {}

    /**
     * Presses and releases Ctrl+Alt+Del on the guest's keyboard (Firecracker's SendCtrlAltDel): a
     * Linux guest with an i8042 driver reboots, which ends the VM. Acknowledged once the keys are
     * on their way; refused when the VM is not live.
     */
    public record SendCtrlAltDel(ActorRef<StatusReply<Done>> replyTo) implements Command, KryoSerializable {}

    /**
     * Attaches {@code subscriber} to the guest's console (COM1): from now on it gets every byte the
     * guest writes, as {@link ConsoleOutput}, until it detaches or stops; all of it before the
     * {@link Terminated} a watcher with the same mailbox gets. With {@code replay} it first gets
     * what the console still holds of earlier output (its last {@link ConsoleHub#HISTORY} bytes):
     * a client that starts looking at a running VM sees what led up to now. Attaching a subscriber
     * that is attached already changes nothing.
     */
    public record AttachConsole(ActorRef<ConsoleOutput> subscriber, boolean replay) implements Command, KryoSerializable {
        /** From now on only. */
        public AttachConsole(ActorRef<ConsoleOutput> subscriber) {
            this(subscriber, false);
        }
    }
    public record DetachConsole(ActorRef<ConsoleOutput> subscriber) implements Command, KryoSerializable {}

    /** Exit counters and every device's metrics. */
    public record GetStats(ActorRef<Stats> replyTo) implements Command, KryoSerializable {}

    /**
     * Takes a snapshot into the VM's data directory: full the first time, then incremental (pages
     * dirtied since the previous one). A running VM is paused for it and resumed after.
     */
    public record TakeSnapshot(boolean full, ActorRef<StatusReply<SnapshotInfo>> replyTo) implements Command, KryoSerializable {
        /** Full for the first snapshot, incremental after. */
        public TakeSnapshot(ActorRef<StatusReply<SnapshotInfo>> replyTo) {
            this(false, replyTo);
        }
    }
    /**
     * Attaches a debugger (a gdb stub): it hears of debug exits through {@code listener} and gets
     * the VM's {@link io.actorvm.vmm.actors.debug.GuestDebugger}. Local to the VM's JVM.
     */
    public record AttachDebugger(io.actorvm.vmm.actors.debug.GuestDebugger.Listener listener,
                                 ActorRef<StatusReply<io.actorvm.vmm.actors.debug.GuestDebugger>> replyTo)
            implements Command, NoSerializationVerificationNeeded {}

    /**
     * The VM's {@link io.actorvm.vmm.actors.debug.GuestDebugger} without attaching anything: for
     * looking at a paused VM (registers, memory) and short debugging acts that attach only while
     * they last ({@link io.actorvm.vmm.actors.debug.DebugSteps}). Local to the VM's JVM.
     */
    public record GetDebugger(ActorRef<StatusReply<io.actorvm.vmm.actors.debug.GuestDebugger>> replyTo)
            implements Command, NoSerializationVerificationNeeded {}

    /**
     * Moves the running guest to another node, live (pre-copy, {@link io.actorvm.vmm.actors.migration.PreCopy}):
     * its pages stream to {@code target} while it runs, then it pauses for the last round and its
     * state. Answered with the snapshot the target stored: the VM is then paused here, its rings
     * quiesced, and its owner either commits the move (stops this VM) or sends {@link Resume} (the
     * guest goes on here). On any failure before that answer the guest goes on here, as it was.
     * Local to the VM's JVM (its owner, a cluster entity, sends it).
     */
    public record MigrateOut(java.net.InetSocketAddress target, String sourceNode, long epoch,
                             io.actorvm.vmm.actors.migration.PreCopy.Settings settings,
                             ActorRef<io.actorvm.vmm.actors.migration.PreCopy.Progress> progress,
                             ActorRef<StatusReply<MigratedOut>> replyTo) implements Command, NoSerializationVerificationNeeded {}

    /** {@link MigrateOut}'s answer: the target's snapshot, the rounds, the guest bytes sent, when the guest paused (epoch ms). */
    public record MigratedOut(String snapshotId, int rounds, long bytes, long pausedAtMillis) implements KryoSerializable {}

    // A migration's frames asked for the pause of its last round; a migration ended.
    record MigrationPause(java.util.concurrent.CompletableFuture<Map<String, byte[]>> states) implements Command, NoSerializationVerificationNeeded {}
    record MigrationDone(ActorRef<StatusReply<MigratedOut>> replyTo, String snapshotId, Throwable failure) implements Command, NoSerializationVerificationNeeded {}
    enum MigrationReleased implements Command, NoSerializationVerificationNeeded { INSTANCE }

    /** A snapshot that was taken: {@link TakeSnapshot}'s reply. */
    public record SnapshotInfo(String id, String parentId, boolean full, long pages, long bytesWritten, long millis) implements KryoSerializable {}

    /**
     * The journal recorded the event a step waited for ({@code failure} null) or could not: "started"
     * (the vCPUs may run), "snapshot taken" (the caller may hear of it), "stopped" (watchers may).
     */
    sealed interface Journaled extends Command, NoSerializationVerificationNeeded {
        String failure();
    }
    record StartJournaled(ActorRef<StatusReply<Done>> replyTo, String failure) implements Journaled {}
    record SnapshotJournaled(ActorRef<StatusReply<SnapshotInfo>> replyTo, SnapshotInfo info, String failure) implements Journaled {}
    record EndJournaled(String failure) implements Journaled {}

    // Internal messages: a vCPU thread ended; the guest ended the machine (reset, debug exit, ACPI
    // power-off); the devices drained their mailboxes; the machine was built; the vCPUs parked; a
    // snapshot was taken (or failed).
    record VcpuStopped(VcpuActor.Stopped stopped) implements Command, NoSerializationVerificationNeeded {}
    record GuestEnded(Terminated how) implements Command, NoSerializationVerificationNeeded {}
    record DevicesDrained(List<DeviceActor.Metrics> metrics) implements Command, NoSerializationVerificationNeeded {}
    record MachineBuilt(ActorRef<StatusReply<Done>> replyTo, Throwable failure) implements Command, NoSerializationVerificationNeeded {}
    record PauseDone(ActorRef<StatusReply<Done>> replyTo, Throwable failure) implements Command, NoSerializationVerificationNeeded {}
    record SnapshotDone(ActorRef<StatusReply<SnapshotInfo>> replyTo, VmSnapshots.Taken taken, Throwable failure,
                                boolean wasRunning) implements Command, NoSerializationVerificationNeeded {}

    public enum State { CREATED, RUNNING, PAUSED, STOPPING, STOPPED }
    public record Status(String name, State state, Terminated termination) implements KryoSerializable {}
    public record Stats(Map<String, Long> io, List<DeviceActor.Metrics> devices, Lifecycle lifecycle) implements KryoSerializable {
        /** Counters only, for a VM that took no snapshot and was not restored. */
        public Stats(Map<String, Long> io, List<DeviceActor.Metrics> devices) {
            this(io, devices, Lifecycle.NONE);
        }
    }

    /**
     * How the VM's snapshots and its restore went: snapshots taken and failed, their total and
     * the last one's duration, and the time from a restore's start to its guest running (-1 when
     * the VM was not restored).
     */
    public record Lifecycle(long snapshots, long snapshotFailures, long snapshotNanos, long lastSnapshotNanos, long restoreNanos)
            implements KryoSerializable {
        public static final Lifecycle NONE = new Lifecycle(0, 0, 0, 0, -1);

        /** One more snapshot, taken in {@code nanos}. */
        public Lifecycle snapshotTaken(long nanos) {
            return new Lifecycle(snapshots + 1, snapshotFailures, snapshotNanos + nanos, nanos, restoreNanos);
        }

        public Lifecycle snapshotFailed() {
            return new Lifecycle(snapshots, snapshotFailures + 1, snapshotNanos, lastSnapshotNanos, restoreNanos);
        }

        public Lifecycle restored(long nanos) {
            return new Lifecycle(snapshots, snapshotFailures, snapshotNanos, lastSnapshotNanos, nanos);
        }
    }

    /**
     * How the VM ended. {@code exitStatus}: the guest's debug-exit value; 0 for a guest power-off,
     * reset or a requested stop; 1 for a failure (triple fault, KVM error, failed start).
     */
    public record Terminated(String reason, int exitStatus, boolean error) implements KryoSerializable {}

    /** The VM's behavior, with the host's clock and entropy. Nothing touches KVM until {@link Start}. */
    public static Behavior<Command> create(VmConfig config) {
        return create(config, HostSources.system());
    }

    /** The VM's behavior, its devices fed by {@code sources} (a fixed clock, recorded entropy). */
    public static Behavior<Command> create(VmConfig config, HostSources sources) {
        return create(config, sources, false);
    }

    /** As above; with {@code paused} the vCPUs wait at the first instruction for a {@link Resume} (a debugger attaches first). */
    public static Behavior<Command> create(VmConfig config, HostSources sources, boolean paused) {
        return Behaviors.setup(ctx -> new VmBehavior(ctx, config, sources, null, paused).created());
    }

    /**
     * A VM whose events go to {@code journal}, kept by its owner (a cluster entity), instead of a
     * journal of its own; rebuilt from {@code snapshotId} on {@link Start} when that is not null.
     */
    public static Behavior<Command> owned(VmConfig config, String snapshotId, HostSources sources,
                                          ActorRef<io.actorvm.vmm.actors.journal.VmJournal.Command> journal) {
        return Behaviors.setup(ctx -> new VmBehavior(ctx, config, sources, snapshotId, false, journal).created());
    }

    /**
     * A VM rebuilt from snapshot {@code snapshotId} of {@code config.dataDir()} on {@link Start}:
     * the guest continues where it was when the snapshot was taken (or waits paused).
     */
    public static Behavior<Command> restore(VmConfig config, String snapshotId, boolean paused, HostSources sources) {
        return Behaviors.setup(ctx -> new VmBehavior(ctx, config, sources, snapshotId, paused).created());
    }
}
