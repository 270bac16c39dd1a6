package io.actorvm.persistence;

/**
 * Stored state does not match what refers to it: a page or blob whose content no longer hashes to
 * its name or that is missing, a torn or damaged manifest, a broken parent chain.
 */
public final class SnapshotCorruptException extends SnapshotException {
    public SnapshotCorruptException(String message) {
        super(message);
    }

    public SnapshotCorruptException(String message, Throwable cause) {
        super(message, cause);
    }
}
