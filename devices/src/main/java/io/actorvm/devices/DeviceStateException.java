package io.actorvm.devices;

/** Stored device state that cannot be read back: it does not parse, or belongs to another device or a newer schema. */
public final class DeviceStateException extends RuntimeException {
    public DeviceStateException(String message) {
        super(message);
    }
}
