package io.actorvm.io.buffering.virtq;

/**
 * The guest driver broke a virtqueue rule: a loop, an index out of range, a buffer outside RAM, an
 * absurd length. The device that gets one goes to {@code NEEDS_RESET} (DESIGN principle 4); the
 * queue has not written guest memory nor advanced its own indices when this is thrown, so the
 * failure is contained to that device. The message names the problem in one line, for the log.
 */
public final class VirtQueueException extends RuntimeException {
    public VirtQueueException(String message) {
        super(message);
    }

    static VirtQueueException of(String format, Object... args) {
        return new VirtQueueException(format.formatted(args));
    }
}
