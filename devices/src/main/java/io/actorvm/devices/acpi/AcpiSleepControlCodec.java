package io.actorvm.devices.acpi;

import io.actorvm.devices.StateCodec;
import io.actorvm.devices.proto.AcpiSleepState;

/** {@link AcpiSleepControl.State} as an {@code AcpiSleepState} message. */
public final class AcpiSleepControlCodec extends StateCodec<AcpiSleepControl.State, AcpiSleepState> {
    AcpiSleepControlCodec() {
        super("acpi-sleep", 1, AcpiSleepState.parser());
    }

    @Override
    protected AcpiSleepState toMessage(AcpiSleepControl.State s) {
        return AcpiSleepState.newBuilder().setPowerOffs(s.powerOffs()).setResets(s.resets()).setIgnoredWrites(s.ignoredWrites()).build();
    }

    @Override
    protected AcpiSleepControl.State fromMessage(AcpiSleepState m, int version) {
        return new AcpiSleepControl.State(m.getPowerOffs(), m.getResets(), m.getIgnoredWrites());
    }
}
