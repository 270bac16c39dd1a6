package io.actorvm.vmm.actors.snapshot;

import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.io.buffering.virtq.SplitQueue;

import java.util.ArrayList;
import java.util.List;

/** What a snapshot keeps of a virtio device: its transport registers and each queue's progress (null: not running). */
public record VirtioDeviceState(VirtioMmioTransport.State transport, List<SplitQueue.State> queues) {
    public VirtioDeviceState {
        queues = java.util.Collections.unmodifiableList(new ArrayList<>(queues)); // may hold nulls
    }
}
