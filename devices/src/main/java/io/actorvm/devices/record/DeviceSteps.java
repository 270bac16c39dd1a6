package io.actorvm.devices.record;

import io.actorvm.devices.proto.Access;
import io.actorvm.devices.proto.DeviceStep;
import io.actorvm.devices.proto.RepWrite;
import io.actorvm.devices.proto.WriteBatch;
import io.actorvm.io.buffering.BufferedWrite;

import java.util.List;
import java.util.function.IntToLongFunction;

/** The steps of a device's register accesses, as its host records them. */
public final class DeviceSteps {
    private DeviceSteps() {}

    public static DeviceStep.Builder write(long offset, int size, long value) {
        return DeviceStep.newBuilder().setWrite(Access.newBuilder().setOffset(offset).setSize(size).setValue(value));
    }

    /** A read; its value is set once the model answered. */
    public static DeviceStep.Builder read(long offset, int size) {
        return DeviceStep.newBuilder().setRead(Access.newBuilder().setOffset(offset).setSize(size));
    }

    public static DeviceStep.Builder batch(List<BufferedWrite> writes) {
        WriteBatch.Builder b = WriteBatch.newBuilder();
        for (BufferedWrite w : writes) b.addWrites(Access.newBuilder().setOffset(w.offset()).setSize(w.size()).setValue(w.value()));
        return DeviceStep.newBuilder().setBatch(b);
    }

    /** A {@code rep outs} of {@code count} items to one register. */
    public static DeviceStep.Builder repWrite(long offset, int size, int count, IntToLongFunction value) {
        RepWrite.Builder b = RepWrite.newBuilder().setOffset(offset).setSize(size);
        for (int i = 0; i < count; i++) b.addValues(value.applyAsLong(i));
        return DeviceStep.newBuilder().setRepWrite(b);
    }
}
