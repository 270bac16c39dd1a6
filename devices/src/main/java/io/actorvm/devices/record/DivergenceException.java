package io.actorvm.devices.record;

/** A replayed model did something other than the recorded one at this point. */
public final class DivergenceException extends RuntimeException {
    public DivergenceException(String message) {
        super(message);
    }
}
