package io.actorvm.vmm.actors.migration;

import io.actorvm.persistence.Sha256;
import io.actorvm.persistence.proto.BlobRef;
import io.actorvm.persistence.proto.MemoryLayout;
import io.actorvm.persistence.proto.SnapshotKind;
import io.actorvm.persistence.proto.SnapshotManifest;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link IncomingMigration#deleteEarlierMoves}: which snapshots a committed move makes superseded, on real files. */
class EarlierMovesTest {
    @TempDir
    Path data;

    @Test
    void onlyTheVmsOwnEarlierMoveSnapshotsThatNothingBuildsOnAreDeleted() throws Exception {
        SnapshotStore store = SnapshotStore.open(data);
        Path migrations = Files.createDirectories(data.resolve("migrations"));
        moved(store, "web", "m1");        // an earlier move of web: superseded
        moved(store, "web", "m2");        // another, that a user's incremental snapshot builds on: kept
        store.manifests().write(manifest("web", "inc").setKind(SnapshotKind.INCREMENTAL).setParentId("m2").build());
        moved(store, "db", "m3");         // another VM's move: kept
        moved(store, "web", "now");       // the move just committed: kept
        store.manifests().write(manifest("web", "taken").setKind(SnapshotKind.FULL).build()); // a user's snapshot: kept
        Files.writeString(migrations.resolve("stray.mem"), "no manifest names it"); // not a snapshot: left alone

        assertEquals(List.of("m1"), IncomingMigration.deleteEarlierMoves(store, "web", "now"));
        assertFalse(store.manifests().exists("m1"));
        assertFalse(Files.exists(migrations.resolve("m1.mem")));
        for (String kept : List.of("m2", "inc", "m3", "now", "taken")) assertTrue(store.manifests().exists(kept), kept);
        for (String kept : List.of("m2", "m3", "now", "stray")) assertTrue(Files.exists(migrations.resolve(kept + ".mem")), kept);
        assertEquals(List.of(), IncomingMigration.deleteEarlierMoves(store, "web", "now"), "nothing more to delete");
    }

    @Test
    void aDataDirectoryThatNoMoveCameToHasNothingToDelete() {
        assertEquals(List.of(), IncomingMigration.deleteEarlierMoves(SnapshotStore.open(data), "web", "now"));
    }

    /** A snapshot as a move's target keeps it: full, its RAM the file {@code migrations/ID.mem}. */
    private static void moved(SnapshotStore store, String vm, String id) throws Exception {
        Path memory = Files.write(store.dataDir().resolve("migrations").resolve(id + ".mem"), new byte[4096]);
        store.manifests().write(manifest(vm, id).setKind(SnapshotKind.FULL).setMemoryFile(memory.toAbsolutePath().toString()).build());
    }

    private static SnapshotManifest.Builder manifest(String vm, String id) {
        return SnapshotManifest.newBuilder().setSnapshotId(id).setCreatedMillis(1_700_000_000_000L).setVmName(vm)
                .setConfig(VmEvent.Defined.newBuilder().setName(vm).setKernelPath("/k").setMemoryBytes(4096).setCpus(1))
                .setMemory(MemoryLayout.newBuilder().setPageSize(4096).addRegions(MemoryLayout.Region.newBuilder().setGuestAddress(0).setSize(4096)))
                .addVcpus(BlobRef.newBuilder().setName("vcpu-0").setSha256(Sha256.hex(new byte[1])).setSize(1))
                .setVmState(BlobRef.newBuilder().setName("vm").setSha256(Sha256.hex(new byte[2])).setSize(2));
    }
}
