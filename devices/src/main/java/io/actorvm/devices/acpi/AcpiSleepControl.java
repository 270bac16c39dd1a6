package io.actorvm.devices.acpi;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.VmControl;


/**
 * The hardware-reduced ACPI sleep control/status and reset register, one I/O port. Writing
 * {@code SLP_EN | SLP_TYP << 2} with the S5 sleep type powers the VM off; writing the FADT's reset
 * value resets it (which ends it: actorvm does not reboot guests). Reads report "not waking".
 */
public final class AcpiSleepControl implements BusDevice, io.actorvm.devices.Stateful<AcpiSleepControl.State> {
    /** No registers: what the guest asked of the port, kept across a restore like other devices' counters. */
    public record State(long powerOffs, long resets, long ignoredWrites) {}

    public record Metrics(long powerOffs, long resets, long ignoredWrites) implements DeviceMetrics {}

    public static final AcpiSleepControlCodec CODEC = new AcpiSleepControlCodec();
    static final int SLP_EN = 1 << 5, SLP_TYP_SHIFT = 2, SLP_TYP_MASK = 0x7;

    private final VmControl vm;
    private final int s5SleepType, resetValue;
    private long powerOffs, resets, ignored;

    /** {@code s5SleepType} and {@code resetValue}: what the VM's ACPI tables tell the guest to write. */
    public AcpiSleepControl(VmControl vm, int s5SleepType, int resetValue) {
        this.vm = vm;
        this.s5SleepType = s5SleepType;
        this.resetValue = resetValue;
    }

    @Override
    public String name() {
        return "acpi-sleep";
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) (value & 0xFF);
        if ((v & SLP_EN) != 0 && ((v >> SLP_TYP_SHIFT) & SLP_TYP_MASK) == s5SleepType) {
            powerOffs++;
            vm.requestPowerOff();
        } else if (v == resetValue) {
            resets++;
            vm.requestReset("ACPI reset register");
        } else {
            ignored++; // other sleep states are not supported: the guest keeps running
        }
    }

    @Override
    public Metrics metrics() {
        return new Metrics(powerOffs, resets, ignored);
    }

    @Override
    public State state() {
        return new State(powerOffs, resets, ignored);
    }

    @Override
    public void restore(State s) {
        powerOffs = Math.max(0, s.powerOffs());
        resets = Math.max(0, s.resets());
        ignored = Math.max(0, s.ignoredWrites());
    }

    @Override
    public AcpiSleepControlCodec codec() {
        return CODEC;
    }
}
