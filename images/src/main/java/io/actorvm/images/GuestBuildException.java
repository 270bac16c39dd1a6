package io.actorvm.images;

/**
 * Building a guest image failed for a reason the user can act on (no apt, no network, unknown
 * package, a kernel we cannot unpack). The message is one line: the CLI prints it as it is.
 */
public final class GuestBuildException extends RuntimeException {
    public GuestBuildException(String message) {
        super(message);
    }

    public GuestBuildException(String message, Throwable cause) {
        super(message, cause);
    }
}
