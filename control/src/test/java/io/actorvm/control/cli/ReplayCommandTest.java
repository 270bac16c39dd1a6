package io.actorvm.control.cli;

import io.actorvm.persistence.proto.VmEvent;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which snapshot {@code replay --at} means: an id, a journal sequence number or a time. */
class ReplayCommandTest {
    static ReplayCommand.Entry snapshot(long seq, long millis, String id) {
        return new ReplayCommand.Entry(seq, VmEvent.newBuilder().setTimestampMillis(millis)
                .setSnapshotTaken(VmEvent.SnapshotTaken.newBuilder().setSnapshotId(id)).build());
    }

    static ReplayCommand.Entry other(long seq, long millis) {
        return new ReplayCommand.Entry(seq, VmEvent.newBuilder().setTimestampMillis(millis)
                .setStarted(VmEvent.Started.getDefaultInstance()).build());
    }

    final List<ReplayCommand.Entry> journal = List.of(other(1, 1_000), snapshot(2, 2_000, "s-a"), other(3, 3_000),
            snapshot(4, 4_000, "s-b"), other(5, 5_000));
    final Set<String> stored = Set.of("s-a", "s-b");

    String resolve(String at) {
        return ReplayCommand.resolve(journal, at, stored::contains, "ctr");
    }

    @Test
    void anIdASequenceNumberOrATime() {
        assertEquals("s-a", resolve("s-a"));
        assertEquals("s-a", resolve("3"), "the newest snapshot at or before sequence number 3");
        assertEquals("s-b", resolve("4"));
        assertEquals("s-b", resolve("99"));
        assertEquals("s-a", resolve("1970-01-01T00:00:03.500Z"));
        assertEquals("s-b", resolve("1970-01-01T00:00:04Z"));
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> resolve("1"));
        assertEquals("the journal of VM 'ctr' records no snapshot at or before journal sequence number 1", none.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> resolve("yesterday"));
        assertTrue(bad.getMessage().startsWith("--at yesterday is no snapshot of VM 'ctr'"), bad.getMessage());
    }
}
