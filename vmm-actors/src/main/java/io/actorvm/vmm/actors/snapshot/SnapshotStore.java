package io.actorvm.vmm.actors.snapshot;

import io.actorvm.persistence.PageStore;
import io.actorvm.persistence.SnapshotManifests;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A data directory's snapshot storage: content-addressed pages and blobs (DIR/store), and the manifests (DIR/snapshots). */
public record SnapshotStore(Path dataDir, PageStore pages, SnapshotManifests manifests) {
    /** Stores opened in this JVM, by data directory: both parts keep no state but their paths. */
    private static final Map<Path, SnapshotStore> OPENED = new ConcurrentHashMap<>();

    /**
     * The store of {@code dataDir}, created if need be. Opening one creates its directories, fsyncs
     * them and sweeps stale temporary files from every fan-out directory: once per directory in a
     * JVM, not on each restore (a live migration's target restores in the guest's downtime).
     */
    public static SnapshotStore open(Path dataDir) {
        Path key = dataDir.toAbsolutePath().normalize();
        SnapshotStore known = OPENED.get(key);
        // Deleted since (a test's directory, a wiped data directory): opened again, so created again.
        if (known != null && Files.isDirectory(known.pages().root()) && Files.isDirectory(known.manifests().directory())) return known;
        SnapshotStore opened = new SnapshotStore(dataDir, PageStore.open(dataDir.resolve("store")), SnapshotManifests.open(dataDir));
        OPENED.put(key, opened);
        return opened;
    }
}
