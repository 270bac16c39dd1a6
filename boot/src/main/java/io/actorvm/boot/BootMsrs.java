package io.actorvm.boot;

import io.actorvm.kvm.MsrEntry;

import java.util.List;

/**
 * Model-specific registers every vCPU starts with, as a PC's firmware would leave them: syscall
 * and sysenter MSRs cleared, the TSC at zero, fast strings on, and MTRRs enabled with write-back
 * as the default memory type (without it Linux maps all RAM uncached and crawls).
 */
public final class BootMsrs {
    static final int IA32_TSC = 0x10, IA32_SYSENTER_CS = 0x174, IA32_SYSENTER_ESP = 0x175, IA32_SYSENTER_EIP = 0x176,
            IA32_MISC_ENABLE = 0x1A0, IA32_MTRR_DEF_TYPE = 0x2FF, STAR = 0xC0000081, LSTAR = 0xC0000082,
            CSTAR = 0xC0000083, SYSCALL_MASK = 0xC0000084, KERNEL_GS_BASE = 0xC0000102;
    static final long MISC_ENABLE_FAST_STRING = 1, MTRR_ENABLE = 1 << 11, MTRR_TYPE_WB = 6;

    private BootMsrs() {}

    public static List<MsrEntry> initial() {
        return List.of(
                new MsrEntry(IA32_SYSENTER_CS, 0), new MsrEntry(IA32_SYSENTER_ESP, 0), new MsrEntry(IA32_SYSENTER_EIP, 0),
                new MsrEntry(STAR, 0), new MsrEntry(CSTAR, 0), new MsrEntry(KERNEL_GS_BASE, 0),
                new MsrEntry(SYSCALL_MASK, 0), new MsrEntry(LSTAR, 0), new MsrEntry(IA32_TSC, 0),
                new MsrEntry(IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
                new MsrEntry(IA32_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB));
    }
}
