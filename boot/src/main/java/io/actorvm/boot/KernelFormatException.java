package io.actorvm.boot;

/** The kernel file is not something we can boot; the message is one line naming the problem. */
public final class KernelFormatException extends RuntimeException {
    public KernelFormatException(String message) {
        super(message);
    }
}
