package io.actorvm.devices.virtio;

import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.VirtioFeaturesState;

/** A virtio device model's {@link VirtioDevice.NegotiatedState}, under the device's own name. */
public final class NegotiatedStateCodec extends StateCodec<VirtioDevice.NegotiatedState, VirtioFeaturesState> {
    /** {@code kind}: the device it belongs to, e.g. {@code virtio-blk}. */
    public NegotiatedStateCodec(String kind) {
        super(kind, 1, VirtioFeaturesState.parser());
    }

    @Override
    protected VirtioFeaturesState toMessage(VirtioDevice.NegotiatedState s) {
        return VirtioFeaturesState.newBuilder().setFeatures(s.features()).build();
    }

    @Override
    protected VirtioDevice.NegotiatedState fromMessage(VirtioFeaturesState m, int version) {
        return new VirtioDevice.NegotiatedState(m.getFeatures());
    }
}
