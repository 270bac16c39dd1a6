package io.actorvm.devices.acpi;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.VmControl;

import java.util.Map;

/**
 * The hardware-reduced ACPI sleep control/status and reset register, one I/O port. Writing
 * {@code SLP_EN | SLP_TYP << 2} with the S5 sleep type powers the VM off; writing the FADT's reset
 * value resets it (which ends it: actorvm does not reboot guests). Reads report "not waking".
 */
public final class AcpiSleepControl implements BusDevice {
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
    public Map<String, Long> metrics() {
        return Map.of("power_offs", powerOffs, "resets", resets, "ignored_writes", ignored);
    }
}
