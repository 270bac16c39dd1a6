package io.actorvm.control.cli;

import io.actorvm.devices.HostSources;
import io.actorvm.persistence.SnapshotException;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code actorvm restore --data-dir DIR --snapshot ID [--paused]}: runs a VM from a snapshot. */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = "Run a VM from a snapshot (console on the terminal, as run). With --paused it waits for a resume.")
final class RestoreCommand implements Callable<Integer> {
    @Option(names = "--data-dir", required = true, paramLabel = "DIR") Path dataDir;
    @Option(names = "--snapshot", paramLabel = "ID", description = "the snapshot; default: the VM's newest, from its journal") String snapshot;
    @Option(names = "--name", defaultValue = "vm", paramLabel = "VM", description = "whose newest snapshot, without --snapshot (default ${DEFAULT-VALUE})") String name;
    @Option(names = "--paused", description = "restore with the vCPUs paused (resume through the API)") boolean paused;
    @picocli.CommandLine.Mixin ApiOptions api;
    @Option(names = "--stats", description = "print exit and device counters when the VM ends") boolean stats;

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(dataDir)) {
            System.err.println("actorvm: data directory " + dataDir + " does not exist");
            return Main.USAGE_ERROR;
        }
        if (snapshot == null) {
            // Recovery: the journal knows the VM's newest snapshot.
            snapshot = HistoryCommand.events(dataDir, name).stream().map(e -> (io.actorvm.persistence.proto.VmEvent) e.event())
                    .filter(io.actorvm.persistence.proto.VmEvent::hasSnapshotTaken)
                    .map(e -> e.getSnapshotTaken().getSnapshotId()).reduce((a, b) -> b).orElse(null);
            if (snapshot == null) {
                System.err.println("actorvm: the journal of VM '" + name + "' in " + dataDir + " records no snapshot");
                return Main.USAGE_ERROR;
            }
            System.err.println("actorvm: restoring VM '" + name + "' from its newest snapshot " + snapshot);
        }
        VmConfig config;
        try {
            // Reading and verifying the chain first: a missing or corrupt snapshot changes nothing.
            VmSnapshots.Loaded loaded = VmSnapshots.load(SnapshotStore.open(dataDir), snapshot);
            config = VmEvents.config(loaded.config(), dataDir);
        } catch (SnapshotException | IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        return VmRunner.run(config, Vm.restore(config, snapshot, paused, HostSources.system()), api, stats, false);
    }
}
