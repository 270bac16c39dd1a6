package io.actorvm.mmu.paging;

/**
 * How a vCPU translates virtual addresses, as its control registers say (Intel SDM vol. 3 §4.1,
 * AMD APM vol. 2 §5.1). The walker follows the long-mode modes; the 32-bit ones are named so that
 * a walk can say which mode it does not follow.
 */
public enum PagingMode {
    /** CR0.PG clear: virtual addresses are physical. */
    NONE,
    /** 32-bit paging (CR4.PAE clear): not walked. */
    LEGACY_32,
    /** PAE paging outside long mode: not walked. */
    PAE,
    /** Long mode, 4-level paging: 48-bit virtual addresses. */
    LEVEL4,
    /** Long mode with CR4.LA57: 57-bit virtual addresses. */
    LEVEL5;

    static final long CR0_PG = 1L << 31, CR4_PAE = 1L << 5, CR4_LA57 = 1L << 12, EFER_LMA = 1L << 10, EFER_NXE = 1L << 11;

    /** The mode a vCPU with these register values is in. */
    public static PagingMode of(long cr0, long cr4, long efer) {
        if ((cr0 & CR0_PG) == 0) return NONE;
        if ((cr4 & CR4_PAE) == 0) return LEGACY_32;
        if ((efer & EFER_LMA) == 0) return PAE;
        return (cr4 & CR4_LA57) != 0 ? LEVEL5 : LEVEL4;
    }

    /** Levels of tables a walk reads: 0 without paging. */
    public int levels() {
        return switch (this) {
            case NONE -> 0;
            case LEGACY_32 -> 2;
            case PAE -> 3;
            case LEVEL4 -> 4;
            case LEVEL5 -> 5;
        };
    }
}
