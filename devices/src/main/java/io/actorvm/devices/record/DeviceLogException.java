package io.actorvm.devices.record;

/** A device recording that cannot be read: damaged, cut off, or not one. The message is one line. */
public final class DeviceLogException extends java.io.IOException {
    public DeviceLogException(String message) {
        super(message);
    }
}
