package io.actorvm.control.cli;

import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.VmEvent;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@code history --tree}: snapshots under the ones they followed, branches where an older one was restored. */
class HistoryTreeTest {
    static VmEvent started() {
        return VmEvent.newBuilder().setTimestampMillis(0).setStarted(VmEvent.Started.getDefaultInstance()).build();
    }

    static VmEvent taken(String id, String parent, boolean full) {
        return VmEvent.newBuilder().setTimestampMillis(0).setSnapshotTaken(VmEvent.SnapshotTaken.newBuilder().setSnapshotId(id)
                .setParentId(parent).setKind(full ? SnapshotKind.FULL : SnapshotKind.INCREMENTAL)).build();
    }

    static VmEvent restored(String id) {
        return VmEvent.newBuilder().setTimestampMillis(0).setRestored(VmEvent.Restored.newBuilder().setSnapshotId(id)).build();
    }

    @Test
    void restoringAnOlderSnapshotAndRunningOnMakesABranch() {
        List<String> tree = HistoryCommand.tree(List.of(
                started(), taken("a", "", true), taken("b", "a", false), taken("c", "b", false),
                restored("a"), taken("d", "a", false), taken("e", "", true),
                restored("b"), taken("f", "b", false),
                started(), taken("g", "", true)));
        String t = "  %s  1970-01-01T00:00:00Z";
        assertEquals(List.of(
                "a" + t.formatted("full"),
                "├─ b" + t.formatted("incremental"),
                "│  ├─ c" + t.formatted("incremental"),
                "│  └─ f" + t.formatted("incremental"),
                "└─ d" + t.formatted("incremental"),
                "   └─ e" + t.formatted("full"),
                "g" + t.formatted("full")), tree);
    }
}
