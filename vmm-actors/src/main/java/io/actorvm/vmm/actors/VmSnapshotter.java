package io.actorvm.vmm.actors;

import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;

import java.util.concurrent.CompletableFuture;

/**
 * The snapshots of one VM with a data directory: where they go, which one the next incremental
 * snapshot builds on, and how one is taken consistently: vCPUs parked (each finishes its last
 * instruction first), then every device asked for its registers and its rings quiesced (nothing
 * changes them then), then KVM state and memory captured on the blocking dispatcher.
 * {@link #release} lets the VM go on afterwards, whether the snapshot succeeded or not.
 */
final class VmSnapshotter {
    private final VmConfig config;
    private final SnapshotStore store;
    /** The newest snapshot of this VM's run (or the one it was restored from); null before the first. */
    private String lastSnapshotId;

    private VmSnapshotter(VmConfig config, SnapshotStore store, String restoredFrom) {
        this.config = config;
        this.store = store;
        this.lastSnapshotId = restoredFrom;
    }

    /** The snapshotter of {@code config}'s data directory, or null when the VM has none. */
    static VmSnapshotter of(VmConfig config, String restoredFrom) {
        return config.dataDir() == null ? null : new VmSnapshotter(config, SnapshotStore.open(config.dataDir()), restoredFrom);
    }

    /**
     * Takes a snapshot: full when asked or when there is none yet to build on, else incremental.
     * @param running the vCPUs run now and must be parked first
     */
    CompletableFuture<VmSnapshots.Taken> take(VmRuntime runtime, boolean full, boolean running, ActorSystem<?> system) {
        String parent = full ? null : lastSnapshotId;
        CompletableFuture<Void> parked = running ? runtime.vcpus.pauseAll() : CompletableFuture.completedFuture(null);
        var definition = VmEvents.definition(config);
        Machine machine = runtime.machine;
        return parked.thenCompose(x -> runtime.devices.captureStates(system.scheduler()))
                .thenApplyAsync(states -> {
                    VmSnapshots.Taken taken = VmSnapshots.take(store, definition, machine.memory, machine.vm, machine.vcpus,
                            machine.snapshotMsrs, machine.guestCpuid, states, parent, machine::dirtyPages);
                    runtime.devices.recordCheckpoint(taken.id()); // still parked: the recording's devices are where the snapshot has them
                    return taken;
                }, system.dispatchers().lookup(DispatcherSelector.blocking()));
    }

    /** The rings take requests again and, if they ran before, the vCPUs run again. */
    static void release(VmRuntime runtime, boolean wasRunning) {
        runtime.devices.resumeRings();
        if (wasRunning) runtime.vcpus.resumeAll();
    }

    /** Notes {@code taken} as the parent of the next incremental snapshot; returns what the caller hears. */
    Vm.SnapshotInfo taken(VmSnapshots.Taken taken) {
        lastSnapshotId = taken.id();
        return new Vm.SnapshotInfo(taken.id(), taken.parentId(), taken.full(), taken.pages(), taken.bytesWritten(), taken.millis());
    }

    /**
     * Notes a snapshot that failed. It may have read the dirty-page log (reading clears it), and
     * what it read is lost with it: an incremental snapshot on the old parent would silently miss
     * those pages. So the next snapshot is full; returns the journal event that says so.
     */
    VmEvent failed(String reason) {
        lastSnapshotId = null;
        return VmEvents.snapshotFailed(reason, true);
    }

    /** Something else read (and so cleared) the dirty-page log (a migration): the next snapshot is full. */
    void dirtyLogTaken() {
        lastSnapshotId = null;
    }

    /** The journal event that records {@code taken}. */
    static VmEvent event(VmSnapshots.Taken taken) {
        return VmEvents.snapshotTaken(taken.id(), taken.manifest(), taken.parentId(), taken.full(), taken.pages(), taken.bytesWritten());
    }
}
