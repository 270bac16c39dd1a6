package io.actorvm.kvm;

/**
 * The control flags of KVM_SET_GUEST_DEBUG ({@link VcpuFd#setGuestDebug}), and the DR7 bits a
 * debugger sets for hardware breakpoints and watchpoints.
 */
public final class GuestDebug {
    /** Debugging on: debug exceptions the flags below ask for exit to us as {@link VmExit.Debug}. */
    public static final int ENABLE = 0x1;
    /** Exit after each guest instruction (#DB with DR6.BS). */
    public static final int SINGLESTEP = 0x2;
    /** int3 exits to us (#BP) instead of reaching the guest: software breakpoints. */
    public static final int USE_SW_BP = 0x10000;
    /** DR0-3 and DR7 from {@code setGuestDebug}: hardware breakpoints and watchpoints. */
    public static final int USE_HW_BP = 0x20000;
    /**
     * No interrupt, NMI or SMI is injected while single-stepping (where
     * {@link Capability#SET_GUEST_DEBUG2} lists it): a step is the next instruction, not the first
     * of an interrupt handler.
     */
    public static final int BLOCKIRQ = 0x100000;

    /** DR6: single step taken (BS); B0-B3 say which of DR0-3 fired. */
    public static final long DR6_BS = 1L << 14;

    /** DR7 breakpoint conditions (R/W bits): execution, data write, I/O, data read or write. */
    public static final int DR7_EXECUTE = 0b00, DR7_WRITE = 0b01, DR7_READ_WRITE = 0b11;

    private GuestDebug() {
    }

    /**
     * DR7 bits enabling slot {@code slot} (0-3) globally for {@code condition} on {@code length}
     * bytes (1, 2, 4 or 8; 1 for execution).
     */
    public static long dr7Slot(int slot, int condition, int length) {
        int len = switch (length) {
            case 1 -> 0b00;
            case 2 -> 0b01;
            case 8 -> 0b10;
            case 4 -> 0b11;
            default -> throw new IllegalArgumentException("a hardware breakpoint covers 1, 2, 4 or 8 bytes, not " + length);
        };
        return (1L << (slot * 2 + 1)) | ((long) (condition | len << 2) << (16 + slot * 4));
    }
}
