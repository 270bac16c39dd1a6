package io.actorvm.control.cli;

import io.actorvm.persistence.SnapshotException;
import io.actorvm.vmm.actors.snapshot.SnapshotInspection;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code actorvm diff --data-dir DIR SNAP_A SNAP_B}: which pages, registers and device fields changed between two snapshots. */
@Command(name = "diff", mixinStandardHelpOptions = true,
        description = "What changed from one snapshot to another: RAM pages (as address ranges), vCPU registers, device fields. No KVM needed.")
final class DiffCommand implements Callable<Integer> {
    @Option(names = "--data-dir", required = true, paramLabel = "DIR") Path dataDir;
    @Parameters(index = "0", paramLabel = "SNAP_A") String first;
    @Parameters(index = "1", paramLabel = "SNAP_B") String second;

    @Override
    public Integer call() {
        if (!Files.isDirectory(dataDir)) {
            System.err.println("actorvm: data directory " + dataDir + " does not exist");
            return Main.USAGE_ERROR;
        }
        SnapshotStore store = SnapshotStore.open(dataDir);
        try (SnapshotInspection a = SnapshotInspection.open(store, first); SnapshotInspection b = SnapshotInspection.open(store, second)) {
            SnapshotInspection.diff(a, b).forEach(System.out::println);
            return 0;
        } catch (SnapshotException | IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
    }
}
