package io.actorvm.devices.virtio;

/**
 * What every virtio device model keeps the same way: the features the driver accepted, as its
 * {@link NegotiatedState}, written through a codec named after the device.
 */
public abstract class AbstractVirtioDevice implements VirtioDevice {
    private final NegotiatedStateCodec codec;
    private volatile long negotiated;

    /** {@code codec}: the device's own, naming it in what it stores (e.g. {@code virtio-blk}). */
    protected AbstractVirtioDevice(NegotiatedStateCodec codec) {
        this.codec = codec;
    }

    @Override
    public void negotiated(long features) {
        negotiated = features;
    }

    /** The features the driver accepted (0 before FEATURES_OK or after a reset). */
    protected long negotiatedFeatures() {
        return negotiated;
    }

    @Override
    public void reset() {
        negotiated = 0;
    }

    @Override
    public NegotiatedState state() {
        return new NegotiatedState(negotiated);
    }

    @Override
    public NegotiatedStateCodec codec() {
        return codec;
    }
}
