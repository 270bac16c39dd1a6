package io.actorvm.vmm.actors;

import io.actorvm.mmu.GuestMemory;
import io.actorvm.persistence.SnapshotPages;
import io.actorvm.persistence.proto.MigrationHello;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.migration.MigrationLink;
import io.actorvm.vmm.actors.migration.PreCopy;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.ActorContext;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A live migration of one VM from the VM actor's side: the {@link PreCopy} reading its machine,
 * the link sending it, and the pause of the last round. The VM actor owns it and is the only one
 * that touches it (the pre-copy's thread reaches the actor by message: {@link Vm.MigrationPause}).
 */
final class OutgoingMigration {
    /** How long the pre-copy waits for the VM actor to pause the guest for the last round. */
    private static final long PAUSE_TIMEOUT_SECONDS = 60;

    private final PreCopy preCopy;
    private MigrationLink.Sending sending;
    private CompletableFuture<Map<String, byte[]>> paused;
    private Vm.Stop pendingStop;

    private OutgoingMigration(PreCopy preCopy) {
        this.preCopy = preCopy;
    }

    static OutgoingMigration start(ActorContext<Vm.Command> ctx, VmConfig config, Machine machine, Vm.MigrateOut m) {
        var self = ctx.getSelf();
        PreCopy.Guest guest = new PreCopy.Guest() {
            @Override
            public List<GuestMemory.Region> regions() {
                return machine.memory.regions();
            }

            @Override
            public long[] takeDirty(int index) {
                return machine.takeDirty(index);
            }

            @Override
            public Map<String, byte[]> pauseAndCapture() throws Exception {
                CompletableFuture<Map<String, byte[]>> states = new CompletableFuture<>();
                self.tell(new Vm.MigrationPause(states));
                return states.get(PAUSE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            }

            @Override
            public List<VmSnapshots.StateBlob> machineStates(Map<String, byte[]> devices) {
                return VmSnapshots.machineStates(machine.vm, machine.vcpus, machine.snapshotMsrs, machine.guestCpuid, devices);
            }
        };
        var layout = SnapshotPages.layoutOf(machine.memory);
        MigrationHello hello = MigrationHello.newBuilder().setVmName(config.name()).setSourceNode(m.sourceNode())
                .setEpoch(m.epoch()).setMemory(layout).setVcpus(config.cpus()).build();
        // The target names the snapshot; this id only satisfies the manifest's shape until then.
        SnapshotManifest skeleton = SnapshotManifest.newBuilder().setSnapshotId(VmSnapshots.newId()).setKind(SnapshotKind.FULL)
                .setVmName(config.name()).setConfig(VmEvents.definition(config)).setMemory(layout).build();
        OutgoingMigration out = new OutgoingMigration(new PreCopy(guest, hello, skeleton, m.settings(), m.progress()::tell));
        out.sending = MigrationLink.send(ctx.getSystem(), m.target(), out.preCopy);
        ctx.pipeToSelf(out.sending.snapshotId(), (id, failure) -> new Vm.MigrationDone(m.replyTo(), id, failure));
        return out;
    }

    /** Pauses the guest for the last round: vCPUs parked, then the devices' states captured (rings quiesced). */
    void pause(VmRuntime runtime, Scheduler scheduler, CompletableFuture<Map<String, byte[]>> states) {
        paused = runtime.vcpus.pauseAll().thenCompose(x -> runtime.devices.captureStates(scheduler));
        paused.whenComplete((s, failure) -> {
            if (failure != null) states.completeExceptionally(failure);
            else states.complete(s);
        });
    }

    /** Whether the guest was (or is being) paused for the last round. */
    boolean pausedForLastRound() {
        return paused != null;
    }

    /** Runs {@code then} once the pause for the last round has completed (or failed). */
    void whenPaused(Runnable then) {
        paused.whenComplete((s, failure) -> then.run());
    }

    /** Ends the migration now: no more guest memory is read; {@code stop} (may be null) is to be done after. */
    void abort(String why, Vm.Stop stop) {
        if (stop != null) pendingStop = stop;
        preCopy.close();
        sending.abort(new IllegalStateException(why));
    }

    /** The pre-copy reads no more guest memory (the migration has ended). */
    void close() {
        preCopy.close();
    }

    Vm.Stop pendingStop() {
        return pendingStop;
    }

    Vm.MigratedOut result(String snapshotId) {
        return new Vm.MigratedOut(snapshotId, preCopy.rounds(), preCopy.bytesSent(), preCopy.pausedAtMillis());
    }
}
