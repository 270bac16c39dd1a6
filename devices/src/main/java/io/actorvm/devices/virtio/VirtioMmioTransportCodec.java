package io.actorvm.devices.virtio;

import io.actorvm.devices.DeviceStateException;
import io.actorvm.devices.DeviceStates;
import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.VirtioTransportState;

import java.util.List;

/** {@link VirtioMmioTransport.State} as a {@code VirtioTransportState}, the device model's envelope inside. */
public final class VirtioMmioTransportCodec extends StateCodec<VirtioMmioTransport.State, VirtioTransportState> {
    VirtioMmioTransportCodec() {
        super("virtio-mmio", 1, VirtioTransportState.parser());
    }

    @Override
    protected VirtioTransportState toMessage(VirtioMmioTransport.State t) {
        VirtioTransportState.Builder b = VirtioTransportState.newBuilder().setStatus(t.status()).setDeviceFeaturesSel(t.deviceFeaturesSel())
                .setDriverFeaturesSel(t.driverFeaturesSel()).setDriverFeatures(t.driverFeatures()).setQueueSel(t.queueSel())
                .setInterruptStatus(t.interruptStatus()).setConfigGeneration(t.configGeneration())
                .setError(t.error() == null ? "" : t.error()).setDevice(bytes(t.deviceKind().encode(t.device())));
        for (var q : t.queues()) {
            b.addQueues(VirtioTransportState.QueueConfig.newBuilder().setSize(q.size()).setDesc(q.desc()).setDriver(q.driver())
                    .setDevice(q.device()).setReady(q.ready()));
        }
        return b.build();
    }

    @Override
    protected VirtioMmioTransport.State fromMessage(VirtioTransportState m, int version) {
        List<VirtioMmioTransport.QueueConfig> configs = m.getQueuesList().stream()
                .map(q -> new VirtioMmioTransport.QueueConfig(q.getSize(), q.getDesc(), q.getDriver(), q.getDevice(), q.getReady())).toList();
        byte[] device = m.getDevice().toByteArray();
        if (!(DeviceStates.codecOf(device) instanceof NegotiatedStateCodec model)) {
            throw new DeviceStateException("virtio-mmio state does not hold a virtio device model's state");
        }
        return new VirtioMmioTransport.State(m.getStatus(), m.getDeviceFeaturesSel(), m.getDriverFeaturesSel(), m.getDriverFeatures(),
                m.getQueueSel(), configs, m.getInterruptStatus(), m.getConfigGeneration(), m.getError().isEmpty() ? null : m.getError(),
                model, model.decode(device));
    }
}
