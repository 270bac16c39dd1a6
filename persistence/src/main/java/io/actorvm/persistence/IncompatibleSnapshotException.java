package io.actorvm.persistence;

/**
 * An intact snapshot this build cannot use: another manifest format version, or a memory layout
 * that does not match the VM it is being restored into.
 */
public final class IncompatibleSnapshotException extends SnapshotException {
    public IncompatibleSnapshotException(String message) {
        super(message);
    }
}
