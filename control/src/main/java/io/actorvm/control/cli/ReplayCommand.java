package io.actorvm.control.cli;

import io.actorvm.devices.HostSources;
import io.actorvm.persistence.SnapshotException;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import io.actorvm.vmm.actors.snapshot.VmSnapshots;
import org.apache.pekko.persistence.query.EventEnvelope;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code actorvm replay --data-dir DIR --name VM --at SNAPSHOT|SEQ|TIME}: the VM as it was at that
 * point of its journal (the newest snapshot at or before it), rebuilt paused, to look at through
 * the API and gdb, then resume or step. Running it on makes a branch of the VM's history.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Rebuild a VM as it was at a point of its journal (a snapshot id, a journal sequence number or an ISO-8601 time: "
                + "the newest snapshot at or before it), paused, for the API (--api-sock) and gdb (--gdb) to inspect, step and resume.")
final class ReplayCommand implements Callable<Integer> {
    @Option(names = "--data-dir", required = true, paramLabel = "DIR") Path dataDir;
    @Option(names = "--name", defaultValue = "vm", paramLabel = "VM", description = "VM name (default ${DEFAULT-VALUE})") String name;
    @Option(names = "--at", required = true, paramLabel = "SNAPSHOT|SEQ|TIME",
            description = "a snapshot id, a journal sequence number (see history) or a time such as 2026-12-03T01:30:00Z") String at;
    @Mixin ApiOptions api;
    @Option(names = "--gdb", paramLabel = "tcp:127.0.0.1:PORT", description = "serve gdb's remote protocol there") String gdb;
    @Option(names = "--gdb-step-breakpoints", description = "breakpoints as port-write exits, watchpoints by single-stepping, for hosts whose KVM cannot deliver breakpoint exceptions (see run --help)")
    boolean gdbStepping;

    /** A journal event with its sequence number. */
    record Entry(long sequenceNr, VmEvent event) {}

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(dataDir)) {
            System.err.println("actorvm: data directory " + dataDir + " does not exist");
            return Main.USAGE_ERROR;
        }
        if (!VmRunner.gdbAddressValid(gdb)) return Main.USAGE_ERROR;
        SnapshotStore store = SnapshotStore.open(dataDir);
        List<Entry> journal = HistoryCommand.events(dataDir, name).stream()
                .map((EventEnvelope e) -> new Entry(e.sequenceNr(), (VmEvent) e.event())).toList();
        String snapshot;
        VmConfig config;
        try {
            snapshot = resolve(journal, at, id -> store.manifests().exists(id), name);
            VmSnapshots.Loaded loaded = VmSnapshots.load(store, snapshot);
            config = VmEvents.config(loaded.config(), dataDir);
        } catch (IllegalArgumentException | SnapshotException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        System.err.println("actorvm: VM '" + name + "' as of snapshot " + snapshot + ", paused (resume through the API or gdb)");
        VmConfig vm = config;
        String id = snapshot;
        return VmRunner.run(vm, Vm.restore(vm, id, true, HostSources.system()), api, false, false, gdb, gdbStepping);
    }

    /**
     * The snapshot {@code at} names: a snapshot id that exists, else the newest snapshot the
     * journal records at or before sequence number {@code at}, else at or before time {@code at}.
     * IllegalArgumentException (one line) when there is none or {@code at} is none of those.
     */
    static String resolve(List<Entry> journal, String at, java.util.function.Predicate<String> exists, String name) {
        if (io.actorvm.persistence.SnapshotManifests.isValidId(at) && exists.test(at)) return at;
        java.util.function.Predicate<Entry> before;
        String what;
        if (at.matches("\\d{1,18}")) {
            long seq = Long.parseLong(at);
            before = e -> e.sequenceNr() <= seq;
            what = "journal sequence number " + seq;
        } else {
            Instant time;
            try {
                time = Instant.parse(at);
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException("--at " + at + " is no snapshot of VM '" + name + "', journal sequence number or "
                        + "ISO-8601 time (e.g. 2026-12-03T01:30:00Z)");
            }
            before = e -> e.event().getTimestampMillis() <= time.toEpochMilli();
            what = "time " + time;
        }
        String found = null;
        for (Entry e : journal) {
            if (before.test(e) && e.event().hasSnapshotTaken()) found = e.event().getSnapshotTaken().getSnapshotId();
        }
        if (found == null) throw new IllegalArgumentException("the journal of VM '" + name + "' records no snapshot at or before " + what);
        return found;
    }
}
