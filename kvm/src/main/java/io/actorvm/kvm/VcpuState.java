package io.actorvm.kvm;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Everything KVM holds for one x86 vCPU, as {@link VcpuFd#captureState} reads it and
 * {@link VcpuFd#restoreState} writes it back. Kernel structs that user space does not interpret are
 * kept as the exact bytes KVM returned, so a snapshot can store them verbatim; their layouts are in
 * {@link Structs} (sizes: fpu 416, xsave 4096 or KVM_CAP_XSAVE2's answer, lapic 1024, vcpuEvents 64,
 * debugRegs 128).
 *
 * <p>Equality compares array contents. The accessors return the arrays themselves (no copy): do not
 * modify them.
 *
 * @param cpuid      KVM_GET_CPUID2: the CPUID the guest sees (restored first: XCR0, x2APIC and MSR
 *                   checks depend on it)
 * @param mpState    KVM_GET_MP_STATE ({@link VcpuFd#MP_RUNNABLE} ...)
 * @param regs       KVM_GET_REGS
 * @param sregs      KVM_GET_SREGS (includes the APIC base and the pending-interrupt bitmap)
 * @param fpu        KVM_GET_FPU, struct kvm_fpu; restored only when {@code xsave} is null (XSAVE
 *                   contains the same x87/SSE state)
 * @param xsave      KVM_GET_XSAVE(2), struct kvm_xsave; null without KVM_CAP_XSAVE
 * @param xcrs       KVM_GET_XCRS; empty without KVM_CAP_XCRS
 * @param lapic      KVM_GET_LAPIC, struct kvm_lapic_state (see {@link Lapic})
 * @param msrs       KVM_GET_MSRS for the indices the caller chose
 * @param vcpuEvents KVM_GET_VCPU_EVENTS, struct kvm_vcpu_events; null without KVM_CAP_VCPU_EVENTS
 * @param debugRegs  KVM_GET_DEBUGREGS, struct kvm_debugregs; null without KVM_CAP_DEBUGREGS
 * @param tscKhz     KVM_GET_TSC_KHZ, 0 if unknown
 */
public record VcpuState(List<CpuidEntry> cpuid, int mpState, Regs regs, Sregs sregs, byte[] fpu, byte[] xsave,
                        List<Xcr> xcrs, byte[] lapic, List<MsrEntry> msrs, byte[] vcpuEvents, byte[] debugRegs,
                        int tscKhz) {
    public VcpuState {
        cpuid = List.copyOf(cpuid);
        Objects.requireNonNull(regs, "regs");
        Objects.requireNonNull(sregs, "sregs");
        Objects.requireNonNull(fpu, "fpu");
        xcrs = List.copyOf(xcrs);
        Objects.requireNonNull(lapic, "lapic");
        msrs = List.copyOf(msrs);
    }

    /** The value of MSR {@code index} in this state, if it was captured. */
    public java.util.OptionalLong msr(int index) {
        return msrs.stream().filter(m -> m.index() == index).mapToLong(MsrEntry::data).findFirst();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VcpuState s && mpState == s.mpState && tscKhz == s.tscKhz && cpuid.equals(s.cpuid)
                && regs.equals(s.regs) && sregs.equals(s.sregs) && Arrays.equals(fpu, s.fpu)
                && Arrays.equals(xsave, s.xsave) && xcrs.equals(s.xcrs) && Arrays.equals(lapic, s.lapic)
                && msrs.equals(s.msrs) && Arrays.equals(vcpuEvents, s.vcpuEvents) && Arrays.equals(debugRegs, s.debugRegs);
    }

    @Override
    public int hashCode() {
        return Objects.hash(cpuid, mpState, regs, sregs, Arrays.hashCode(fpu), Arrays.hashCode(xsave), xcrs,
                Arrays.hashCode(lapic), msrs, Arrays.hashCode(vcpuEvents), Arrays.hashCode(debugRegs), tscKhz);
    }

    @Override
    public String toString() {
        return "VcpuState[mpState=" + mpState + ", rip=0x" + Long.toHexString(regs.rip()) + ", cpuid=" + cpuid.size()
                + " leaves, xsave=" + (xsave == null ? "none" : xsave.length + " bytes") + ", xcrs=" + xcrs
                + ", msrs=" + msrs.size() + ", tscKhz=" + tscKhz + "]";
    }
}
