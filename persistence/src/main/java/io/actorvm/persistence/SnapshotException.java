package io.actorvm.persistence;

/**
 * A snapshot, manifest, page or blob that cannot be used. The message is always one line and names
 * what is wrong (the snapshot id or the content hash), fit for a log line or the CLI's stderr.
 */
public abstract sealed class SnapshotException extends RuntimeException
        permits SnapshotCorruptException, IncompatibleSnapshotException, SnapshotNotFoundException {

    SnapshotException(String message) {
        super(oneLine(message));
    }

    SnapshotException(String message, Throwable cause) {
        super(oneLine(message), cause);
    }

    private static String oneLine(String message) {
        return message.replace('\n', ' ').replace('\r', ' ');
    }
}
