package io.actorvm.devices;

/**
 * A device with an error state that the host can put it in, when the guest handed the device's
 * host side something it cannot use (a virtio ring with a malformed chain): the device tells the
 * driver (virtio's DEVICE_NEEDS_RESET) and does nothing more until the driver resets it.
 */
public interface ErrorState {
    void fail(String reason);
}
