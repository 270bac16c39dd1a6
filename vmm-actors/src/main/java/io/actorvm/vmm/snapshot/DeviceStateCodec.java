package io.actorvm.vmm.snapshot;

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
            default -> {
                return null;
            }
        }
        return b.build().toByteArray();
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
            case DEVICE_NOT_SET -> throw new SnapshotCorruptException("device " + name + ": empty state");
        };
    }
}
