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

    @picocli.CommandLine.Option(names = "--web-console", description = "serve the web console at /ui/ of the --api tcp:HOST:PORT endpoint")
    boolean webConsole;
    @picocli.CommandLine.Mixin RecordOption record;
    @Option(names = "--disk", paramLabel = "PATH[,ro]",
            description = "use this disk image instead of the snapshot's (repeatable, in the snapshot's order, all of them)")
    java.util.List<String> disks = new java.util.ArrayList<>();
    @Option(names = "--net", paramLabel = "tap=NAME|switch=NAME",
            description = "attach the network device to this backend instead of the snapshot's (repeatable, in order, all of them)")
    java.util.List<String> nets = new java.util.ArrayList<>();
    @Option(names = "--stats", description = "print exit and device counters when the VM ends") boolean stats;
    @Option(names = "--gdb", paramLabel = "tcp:127.0.0.1:PORT",
            description = "serve gdb's remote protocol there; the restored guest waits for gdb") String gdb;
    @Option(names = "--gdb-step-breakpoints", description = "breakpoints as port-write exits, watchpoints by single-stepping, for hosts whose KVM cannot deliver breakpoint exceptions (see run --help)")
    boolean gdbStepping;
    @Option(names = "--jfr", paramLabel = "FILE",
            description = "record actorvm's JFR events (sampled exits, snapshots, restores, device errors) to FILE") Path jfr;

    @Override
    public Integer call() throws Exception {
        api.webConsole = webConsole;
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
            config = withHostOverrides(VmEvents.config(loaded.config(), dataDir));
        } catch (SnapshotException | IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        if (!VmRunner.gdbAddressValid(gdb)) return Main.USAGE_ERROR;
        VmConfig vm = config;
        HostSources sources = record.sources(dataDir, vm.name());
        return VmRunner.withRecording(jfr, () -> VmRunner.run(vm, Vm.restore(vm, snapshot, paused || gdb != null, sources), api,
                stats, false, gdb, gdbStepping));
    }

    /**
     * The host resources a snapshot names (disk files, tap devices, switches) are this host's to
     * choose on restore: the devices stay the same, only what backs them changes. Disk contents
     * are not part of a snapshot: the files given (or recorded) are used as they are now.
     */
    VmConfig withHostOverrides(VmConfig config) {
        if (!disks.isEmpty()) {
            if (disks.size() != config.disks().size()) {
                throw new IllegalArgumentException("snapshot " + snapshot + " has " + config.disks().size() + " disk(s); --disk was given "
                        + disks.size() + " time(s) (give each of them, in order)");
            }
            config = config.withDisks(disks.stream().map(io.actorvm.vmm.actors.DiskConfig::parse).toList());
        }
        if (!nets.isEmpty()) {
            if (nets.size() != config.nets().size()) {
                throw new IllegalArgumentException("snapshot " + snapshot + " has " + config.nets().size() + " network device(s); --net was given "
                        + nets.size() + " time(s) (give each of them, in order)");
            }
            java.util.List<io.actorvm.vmm.actors.NetConfig> replaced = new java.util.ArrayList<>();
            for (int i = 0; i < nets.size(); i++) {
                io.actorvm.vmm.actors.NetConfig given = io.actorvm.vmm.actors.NetConfig.parse(nets.get(i));
                if (given == null) throw new IllegalArgumentException("--net none cannot replace a network device of the snapshot");
                // The guest knows its MAC: keep the snapshot's unless another is given.
                replaced.add(given.mac() == null ? new io.actorvm.vmm.actors.NetConfig(given.kind(), given.name(), config.nets().get(i).mac()) : given);
            }
            config = config.withNets(replaced);
        }
        return config;
    }
}
