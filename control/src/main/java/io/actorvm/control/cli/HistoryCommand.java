package io.actorvm.control.cli;

import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.journal.VmEvents;
import io.actorvm.control.api.VmHistory;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.persistence.query.EventEnvelope;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/** {@code actorvm history --data-dir DIR --name VM}: the VM's journal, one event a line. */
@Command(name = "history", mixinStandardHelpOptions = true, description = "List a VM's journal: sequence number, time, event, snapshot id.")
final class HistoryCommand implements Callable<Integer> {
    @Option(names = "--data-dir", required = true, paramLabel = "DIR") Path dataDir;
    @Option(names = "--name", defaultValue = "vm", paramLabel = "VM", description = "VM name (default ${DEFAULT-VALUE})") String name;
    @Option(names = "--tree", description = "draw the snapshot tree: each snapshot under the one it followed, branches where an older one was restored")
    boolean tree;

    /** The VM's journal, in order (empty if it has none); {@code dataDir} must hold a journal. */
    static List<EventEnvelope> events(Path dataDir, String name) throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "actorvm-history", VmRunner.systemConfig(dataDir));
        try {
            return VmHistory.events(system, name).toCompletableFuture().get(60, TimeUnit.SECONDS);
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(dataDir)) {
            System.err.println("actorvm: data directory " + dataDir + " does not exist");
            return Main.USAGE_ERROR;
        }
        List<EventEnvelope> events = events(dataDir, name);
        if (events.isEmpty()) {
            System.err.println("actorvm: no journal for VM '" + name + "' in " + dataDir);
            return Main.USAGE_ERROR;
        }
        if (tree) {
            tree(events.stream().map(e -> (VmEvent) e.event()).toList()).forEach(System.out::println);
            return 0;
        }
        System.out.printf("%-5s %-24s %-22s %s%n", "SEQ", "TIME", "SNAPSHOT", "EVENT");
        for (EventEnvelope e : events) {
            VmEvent ev = (VmEvent) e.event();
            System.out.printf("%-5d %-24s %-22s %s%n", e.sequenceNr(), Instant.ofEpochMilli(ev.getTimestampMillis()),
                    VmEvents.snapshotId(ev), VmEvents.describe(ev));
        }
        return 0;
    }

    /**
     * The snapshot tree a journal describes: a snapshot hangs under its parent (an incremental
     * one's base), or else under the snapshot the VM last took or was restored from; a snapshot
     * taken after a fresh start is a root. Restoring an older snapshot and running on makes a
     * branch. One line per snapshot: the tree's lines, id, kind, time.
     */
    static List<String> tree(List<VmEvent> journal) {
        java.util.Map<String, List<String>> children = new java.util.LinkedHashMap<>();
        java.util.Map<String, String> label = new java.util.HashMap<>();
        List<String> roots = new java.util.ArrayList<>();
        for (VmHistory.Snapshot s : VmHistory.snapshots(journal)) {
            label.put(s.id(), s.id() + "  " + s.kind() + "  " + s.time());
            if (!label.containsKey(s.parent())) roots.add(s.id());
            else children.computeIfAbsent(s.parent(), k -> new java.util.ArrayList<>()).add(s.id());
        }
        List<String> out = new java.util.ArrayList<>();
        for (String r : roots) draw(r, "", "", children, label, out);
        return out;
    }

    private static void draw(String id, String lead, String childLead, java.util.Map<String, List<String>> children,
                             java.util.Map<String, String> label, List<String> out) {
        out.add(lead + label.get(id));
        List<String> kids = children.getOrDefault(id, List.of());
        for (int i = 0; i < kids.size(); i++) {
            boolean last = i == kids.size() - 1;
            draw(kids.get(i), childLead + (last ? "└─ " : "├─ "), childLead + (last ? "   " : "│  "), children, label, out);
        }
    }
}
