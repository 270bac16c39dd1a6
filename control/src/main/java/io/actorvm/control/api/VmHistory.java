package io.actorvm.control.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.journal.VmJournal;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;

/** A VM's journal as read through {@code system}'s read journal: its events, and the snapshots among them. */
public final class VmHistory {
    private VmHistory() {}

    /**
     * A snapshot the journal records: {@code parent} is its base (an incremental one's) or the
     * snapshot the VM last took or was restored from before it, empty for the first after a start.
     */
    public record Snapshot(String id, String parent, String kind, @JsonProperty("time") String time) {}

    /** Every event of VM {@code name}, in order (none if it has no journal). */
    public static CompletionStage<List<EventEnvelope>> events(ActorSystem<?> system, String name) {
        JdbcReadJournal journal = PersistenceQuery.get(system).getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
        return journal.currentEventsByPersistenceId(VmJournal.persistenceId(name).id(), 0, Long.MAX_VALUE).runWith(Sink.seq(), system);
    }

    /** The snapshots VM {@code name} took, oldest first. */
    public static CompletionStage<List<Snapshot>> snapshots(ActorSystem<?> system, String name) {
        return events(system, name).thenApply(envelopes -> snapshots(envelopes.stream().map(e -> (VmEvent) e.event()).toList()));
    }

    /** The snapshots {@code journal} records, oldest first, each with its parent. */
    public static List<Snapshot> snapshots(List<VmEvent> journal) {
        List<Snapshot> out = new ArrayList<>();
        String current = "";
        for (VmEvent e : journal) {
            if (e.hasStarted()) {
                current = "";
            } else if (e.hasRestored()) {
                current = e.getRestored().getSnapshotId();
            } else if (e.hasSnapshotTaken()) {
                var t = e.getSnapshotTaken();
                String parent = !t.getParentId().isEmpty() ? t.getParentId() : current;
                out.add(new Snapshot(t.getSnapshotId(), parent, t.getKind() == SnapshotKind.FULL ? "full" : "incremental",
                        Instant.ofEpochMilli(e.getTimestampMillis()).toString()));
                current = t.getSnapshotId();
            }
        }
        return out;
    }
}
