package io.actorvm.vmm.actors.snapshot;

import io.actorvm.persistence.PageStore;
import io.actorvm.persistence.SnapshotManifests;

import java.nio.file.Path;

/** A data directory's snapshot storage: content-addressed pages and blobs (DIR/store), and the manifests (DIR/snapshots). */
public record SnapshotStore(Path dataDir, PageStore pages, SnapshotManifests manifests) {
    public static SnapshotStore open(Path dataDir) {
        return new SnapshotStore(dataDir, PageStore.open(dataDir.resolve("store")), SnapshotManifests.open(dataDir));
    }
}
