package io.actorvm.kvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reading and writing registers in a {@code kvm_lapic_state} image (KVM_GET_LAPIC / KVM_SET_LAPIC):
 * 1024 bytes laid out as the LAPIC's MMIO page, one 32-bit register every 16 bytes, little-endian.
 * In xAPIC format (the default, and always without KVM_X2APIC_API_USE_32BIT_IDS) the APIC ID is in
 * bits 31-24 of {@link #ID}.
 */
public final class Lapic {
    private Lapic() {}

    /** Size of {@code struct kvm_lapic_state} (KVM_APIC_REG_SIZE). */
    public static final int STATE_SIZE = 0x400;

    public static final int ID = 0x20, VERSION = 0x30, TPR = 0x80, PPR = 0xA0, LDR = 0xD0, DFR = 0xE0, SVR = 0xF0,
            ISR = 0x100, TMR = 0x180, IRR = 0x200, ESR = 0x280, ICR_LOW = 0x300, ICR_HIGH = 0x310,
            LVT_TIMER = 0x320, LVT_LINT0 = 0x350, LVT_LINT1 = 0x360, LVT_ERROR = 0x370,
            TIMER_INITIAL_COUNT = 0x380, TIMER_CURRENT_COUNT = 0x390, TIMER_DIVIDE = 0x3E0;

    /** The 32-bit register at {@code offset}. */
    public static int register(byte[] state, int offset) {
        return ByteBuffer.wrap(state).order(ByteOrder.LITTLE_ENDIAN).getInt(offset);
    }

    /** A copy of {@code state} with the register at {@code offset} set to {@code value}. */
    public static byte[] withRegister(byte[] state, int offset, int value) {
        byte[] copy = state.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, value);
        return copy;
    }
}
