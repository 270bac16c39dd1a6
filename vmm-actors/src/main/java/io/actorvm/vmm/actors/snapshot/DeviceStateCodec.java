package io.actorvm.vmm.actors.snapshot;

import com.google.protobuf.ByteString;
import io.actorvm.devices.debug.PostCodePort;
import io.actorvm.devices.i8042.I8042;
import io.actorvm.devices.rtc.CmosRtc;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.persistence.SnapshotCorruptException;
import io.actorvm.persistence.proto.DeviceState;
import io.actorvm.persistence.proto.I8042State;
import io.actorvm.persistence.proto.PostCodeState;
import io.actorvm.persistence.proto.RtcState;
import io.actorvm.persistence.proto.SerialState;
import io.actorvm.persistence.proto.VirtioState;
import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.io.buffering.virtq.SplitQueue;

import java.util.ArrayList;
import java.util.List;

/** Legacy device state records to and from their protobuf form (device_state.proto). */
public final class DeviceStateCodec {
    private DeviceStateCodec() {}

    /** The encoded state, or null for a record this codec does not know (the device is then not kept). */
    public static byte[] encode(Record state) {
        DeviceState.Builder b = DeviceState.newBuilder();
        switch (state) {
            case Serial16550.State s -> b.setSerial(SerialState.newBuilder().setIer(s.ier()).setLcr(s.lcr()).setMcr(s.mcr())
                    .setLsrErrors(s.lsrErrors()).setScr(s.scr()).setDivisor(s.divisor()).setFifoEnabled(s.fifoEnabled())
                    .setThrInterrupt(s.thrInterrupt()).setRx(ByteString.copyFrom(s.rx())));
            case CmosRtc.State s -> b.setRtc(RtcState.newBuilder().setIndex(s.index()).setNvram(ByteString.copyFrom(s.nvram()))
                    .setOffsetSeconds(s.offsetSeconds()));
            case I8042.State s -> b.setI8042(I8042State.newBuilder().setConfig(s.config()).setPendingCommand(s.pendingCommand())
                    .setOutput(s.output()).setOutputFull(s.outputFull()).setResets(s.resets()));
            case PostCodePort.State s -> b.setPostCode(PostCodeState.newBuilder().addAllRecentCodes(s.recentCodes()).setWrites(s.writes()));
            case VirtioDeviceState v -> b.setVirtio(encodeVirtio(v));
            default -> {
                return null;
            }
        }
        return b.build().toByteArray();
    }

    private static VirtioState encodeVirtio(VirtioDeviceState v) {
        var t = v.transport();
        VirtioState.Builder b = VirtioState.newBuilder().setStatus(t.status()).setDeviceFeaturesSel(t.deviceFeaturesSel())
                .setDriverFeaturesSel(t.driverFeaturesSel()).setDriverFeatures(t.driverFeatures()).setQueueSel(t.queueSel())
                .setInterruptStatus(t.interruptStatus()).setConfigGeneration(t.configGeneration()).setError(t.error() == null ? "" : t.error());
        for (var q : t.queues()) {
            b.addQueues(VirtioState.QueueConfig.newBuilder().setSize(q.size()).setDesc(q.desc()).setDriver(q.driver())
                    .setDevice(q.device()).setReady(q.ready()));
        }
        for (SplitQueue.State q : v.queues()) {
            b.addProgress(q == null ? VirtioState.QueueProgress.getDefaultInstance() : VirtioState.QueueProgress.newBuilder()
                    .setRunning(true).setSize(q.size()).setDescTable(q.descTable()).setAvailRing(q.availRing()).setUsedRing(q.usedRing())
                    .setEventIdx(q.eventIdx()).setIndirect(q.indirectDescriptors()).setLastAvailIdx(q.lastAvailIdx())
                    .setUsedIdx(q.usedIdx()).setLastSignalledUsed(q.lastSignalledUsed()).build());
        }
        return b.build();
    }

    private static VirtioDeviceState decodeVirtio(VirtioState v) {
        List<VirtioMmioTransport.QueueConfig> configs = v.getQueuesList().stream()
                .map(q -> new VirtioMmioTransport.QueueConfig(q.getSize(), q.getDesc(), q.getDriver(), q.getDevice(), q.getReady())).toList();
        var transport = new VirtioMmioTransport.State(v.getStatus(), v.getDeviceFeaturesSel(), v.getDriverFeaturesSel(),
                v.getDriverFeatures(), v.getQueueSel(), configs, v.getInterruptStatus(), v.getConfigGeneration(),
                v.getError().isEmpty() ? null : v.getError());
        List<SplitQueue.State> queues = new ArrayList<>();
        for (var q : v.getProgressList()) {
            queues.add(!q.getRunning() ? null : new SplitQueue.State(q.getSize(), q.getDescTable(), q.getAvailRing(), q.getUsedRing(),
                    q.getEventIdx(), q.getIndirect(), q.getLastAvailIdx(), q.getUsedIdx(), q.getLastSignalledUsed()));
        }
        return new VirtioDeviceState(transport, queues);
    }

    public static Record decode(String name, byte[] bytes) {
        DeviceState d;
        try {
            d = DeviceState.parseFrom(bytes);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new SnapshotCorruptException("device " + name + ": state does not parse");
        }
        return switch (d.getDeviceCase()) {
            case SERIAL -> {
                SerialState s = d.getSerial();
                yield new Serial16550.State(s.getIer(), s.getLcr(), s.getMcr(), s.getLsrErrors(), s.getScr(), s.getDivisor(),
                        s.getFifoEnabled(), s.getThrInterrupt(), s.getRx().toByteArray());
            }
            case RTC -> new CmosRtc.State(d.getRtc().getIndex(), d.getRtc().getNvram().toByteArray(), d.getRtc().getOffsetSeconds());
            case I8042 -> new I8042.State(d.getI8042().getConfig(), d.getI8042().getPendingCommand(), d.getI8042().getOutput(),
                    d.getI8042().getOutputFull(), d.getI8042().getResets());
            case POST_CODE -> new PostCodePort.State(d.getPostCode().getRecentCodesList(), d.getPostCode().getWrites());
            case VIRTIO -> decodeVirtio(d.getVirtio());
            case DEVICE_NOT_SET -> throw new SnapshotCorruptException("device " + name + ": empty state");
        };
    }
}
