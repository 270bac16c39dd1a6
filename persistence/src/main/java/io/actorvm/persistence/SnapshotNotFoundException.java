package io.actorvm.persistence;

/** No manifest with the requested id (a missing <em>parent</em> is a {@link SnapshotCorruptException}). */
public final class SnapshotNotFoundException extends SnapshotException {
    public SnapshotNotFoundException(String message) {
        super(message);
    }
}
