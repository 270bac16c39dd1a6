package io.actorvm.kvm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The VM-wide in-kernel device state, as {@link VmFd#captureState} reads it and
 * {@link VmFd#restoreState} writes it back: the three interrupt controllers, the PIT and kvmclock.
 * Kernel structs are kept as the exact bytes KVM returned (layouts in {@link Structs}).
 * Per-vCPU state (including each LAPIC) is in {@link VcpuState}.
 *
 * <p>Equality compares array contents. The accessors return the arrays themselves: do not modify them.
 *
 * @param irqchips struct kvm_irqchip (520 bytes each) indexed by chip id: {@link VmFd#IRQCHIP_PIC_MASTER},
 *                 {@link VmFd#IRQCHIP_PIC_SLAVE}, {@link VmFd#IRQCHIP_IOAPIC}; empty without an
 *                 in-kernel irqchip
 * @param pit      struct kvm_pit_state2 (112 bytes); null without an in-kernel PIT
 * @param clock    kvmclock; null without KVM_CAP_ADJUST_CLOCK
 */
public record VmState(List<byte[]> irqchips, byte[] pit, ClockData clock) {
    public VmState {
        if (!irqchips.isEmpty() && irqchips.size() != 3) {
            throw new IllegalArgumentException("need 0 or 3 irqchips, got " + irqchips.size());
        }
        irqchips = Collections.unmodifiableList(new ArrayList<>(irqchips));
        irqchips.forEach(Objects::requireNonNull);
    }

    /** The struct kvm_irqchip of one chip. */
    public byte[] irqchip(int chipId) {
        return irqchips.get(chipId);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof VmState s) || irqchips.size() != s.irqchips.size()) return false;
        for (int i = 0; i < irqchips.size(); i++) {
            if (!Arrays.equals(irqchips.get(i), s.irqchips.get(i))) return false;
        }
        return Arrays.equals(pit, s.pit) && Objects.equals(clock, s.clock);
    }

    @Override
    public int hashCode() {
        int h = Arrays.hashCode(pit) * 31 + Objects.hashCode(clock);
        for (byte[] chip : irqchips) h = h * 31 + Arrays.hashCode(chip);
        return h;
    }

    @Override
    public String toString() {
        return "VmState[irqchips=" + irqchips.size() + ", pit=" + (pit != null) + ", clock=" + clock + "]";
    }
}
