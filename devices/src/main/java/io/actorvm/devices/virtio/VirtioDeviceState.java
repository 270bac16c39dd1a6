package io.actorvm.devices.virtio;

import io.actorvm.io.buffering.virtq.SplitQueue;

import java.util.ArrayList;
import java.util.List;

/**
 * What a snapshot keeps of a virtio device: the transport's registers (with the device model's
 * state inside) and each queue's progress, which the runtime's ring actors own while the device
 * runs (null for a queue that was not running).
 */
public record VirtioDeviceState(VirtioMmioTransport.State transport, List<SplitQueue.State> queues) {
    public static final VirtioDeviceStateCodec CODEC = new VirtioDeviceStateCodec();

    public VirtioDeviceState {
        queues = java.util.Collections.unmodifiableList(new ArrayList<>(queues)); // may hold nulls
    }
}
