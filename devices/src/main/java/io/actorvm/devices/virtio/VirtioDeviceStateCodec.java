package io.actorvm.devices.virtio;

import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.QueueProgress;
import io.actorvm.devices.proto.VirtioDeviceSnapshot;
import io.actorvm.io.buffering.virtq.SplitQueue;

import java.util.ArrayList;
import java.util.List;

/** {@link VirtioDeviceState} as a {@code VirtioDeviceSnapshot}: the transport's own envelope and the queues' progress. */
public final class VirtioDeviceStateCodec extends StateCodec<VirtioDeviceState, VirtioDeviceSnapshot> {
    VirtioDeviceStateCodec() {
        super("virtio-device", 1, VirtioDeviceSnapshot.parser());
    }

    @Override
    protected VirtioDeviceSnapshot toMessage(VirtioDeviceState v) {
        VirtioDeviceSnapshot.Builder b = VirtioDeviceSnapshot.newBuilder()
                .setTransport(bytes(VirtioMmioTransport.CODEC.encode(v.transport())));
        for (SplitQueue.State q : v.queues()) {
            b.addProgress(q == null ? QueueProgress.getDefaultInstance() : QueueProgress.newBuilder()
                    .setRunning(true).setSize(q.size()).setDescTable(q.descTable()).setAvailRing(q.availRing()).setUsedRing(q.usedRing())
                    .setEventIdx(q.eventIdx()).setIndirect(q.indirectDescriptors()).setLastAvailIdx(q.lastAvailIdx())
                    .setUsedIdx(q.usedIdx()).setLastSignalledUsed(q.lastSignalledUsed()).build());
        }
        return b.build();
    }

    @Override
    protected VirtioDeviceState fromMessage(VirtioDeviceSnapshot m, int version) {
        List<SplitQueue.State> queues = new ArrayList<>();
        for (QueueProgress q : m.getProgressList()) {
            queues.add(!q.getRunning() ? null : new SplitQueue.State(q.getSize(), q.getDescTable(), q.getAvailRing(), q.getUsedRing(),
                    q.getEventIdx(), q.getIndirect(), q.getLastAvailIdx(), q.getUsedIdx(), q.getLastSignalledUsed()));
        }
        return new VirtioDeviceState(VirtioMmioTransport.CODEC.decode(m.getTransport().toByteArray()), queues);
    }
}
