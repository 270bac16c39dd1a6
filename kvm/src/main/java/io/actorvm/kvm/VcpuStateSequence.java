package io.actorvm.kvm;

import java.util.List;

/**
 * The order in which a {@link VcpuState} is read from and written to a vCPU. KVM's state ioctls
 * depend on each other (CPUID gates XCR0 and MSRs, the APIC base decides how the LAPIC is read,
 * KVM_SET_REGS drops a pending exception), so the sequence is part of getting the state right;
 * {@link VcpuFd#captureState} and {@link VcpuFd#restoreState} call it.
 */
final class VcpuStateSequence {
    private VcpuStateSequence() {}

    /**
     * Reads the whole state (KVM_GET_VCPU_EVENTS is unsafe while other vCPUs of the VM run).
     *
     * <p>After a KVM_EXIT_IO or KVM_EXIT_MMIO exit the instruction is only finished by the next
     * KVM_RUN (api.rst): re-enter once with {@code immediate_exit} set (KVM_RUN then returns EINTR
     * without running guest code) before capturing, or the state is the one before the instruction
     * (on hardware KVM, RIP still points at an OUT until that KVM_RUN; kvm_pvm advances it at the exit).
     *
     * <p>Order, as Firecracker reads it: MP state first (KVM_GET_MP_STATE accepts pending INIT/SIPI
     * and may change LAPIC and register state), then regs, sregs, FPU/XSAVE, XCRs, debug registers,
     * LAPIC, TSC frequency, CPUID, MSRs, and the vCPU events last.
     */
    static VcpuState capture(VcpuFd vcpu, VcpuFd.Features features, List<Integer> msrIndices) {
        int mpState = vcpu.getMpState();
        Regs regs = vcpu.getRegs();
        Sregs sregs = vcpu.getSregs();
        byte[] fpu = vcpu.getFpu();
        byte[] xsave = features.xsaveSize() > 0 ? vcpu.getXsave() : null;
        List<Xcr> xcrs = features.xcrs() ? vcpu.getXcrs() : List.of();
        byte[] debugRegs = features.debugRegs() ? vcpu.getDebugRegs() : null;
        byte[] lapic = vcpu.getLapic();
        int tscKhz = features.getTscKhz() ? vcpu.getTscKhz() : 0;
        List<CpuidEntry> cpuid = vcpu.getCpuid();
        List<MsrEntry> msrs = vcpu.getMsrs(msrIndices);
        if (msrs.size() != msrIndices.size()) {
            throw new IllegalStateException("KVM_GET_MSRS read " + msrs.size() + " of " + msrIndices.size()
                    + " MSRs on vCPU " + vcpu.id() + "; first refused: 0x" + Integer.toHexString(msrIndices.get(msrs.size())));
        }
        byte[] events = features.vcpuEvents() ? vcpu.getVcpuEvents() : null;
        return new VcpuState(cpuid, mpState, regs, sregs, fpu, xsave, xcrs, lapic, msrs, events, debugRegs, tscKhz);
    }

    /**
     * Writes {@code state}. Order:
     * <ol>
     * <li>CPUID, when the state has one: KVM checks XCR0, CR4 bits, the x2APIC bit of the APIC base
     *     and several MSRs against it (KVM_SET_CPUID2 is refused after the first KVM_RUN unless it is
     *     identical).</li>
     * <li>TSC frequency, if it differs and KVM_CAP_TSC_CONTROL allows setting it (otherwise the
     *     host's rate stays: compare {@link VcpuState#tscKhz()} with {@link VcpuFd#getTscKhz()} to
     *     warn). Before the MSRs, so IA32_TSC is written at the final rate.</li>
     * <li>sregs: control registers, EFER and the APIC base (the LAPIC's mode).</li>
     * <li>regs.</li>
     * <li>XSAVE (or the FPU image when there is no XSAVE), then XCRs.</li>
     * <li>LAPIC: after sregs, which set the APIC base.</li>
     * <li>MSRs: after the LAPIC, or IA32_TSC_DEADLINE is lost.</li>
     * <li>vCPU events: after regs (which clear a pending exception) and sregs (whose interrupt
     *     bitmap they override).</li>
     * <li>MP state: after sregs (KVM_SET_SREGS makes a BSP at the reset vector runnable) and after
     *     the events, as QEMU does.</li>
     * <li>debug registers.</li>
     * </ol>
     */
    static void restore(VcpuFd vcpu, VcpuFd.Features features, VcpuState state) {
        if (!state.cpuid().isEmpty()) vcpu.setCpuid(state.cpuid());
        if (state.tscKhz() != 0 && features.tscControl() && features.getTscKhz() && vcpu.getTscKhz() != state.tscKhz()) {
            vcpu.setTscKhz(state.tscKhz());
        }
        vcpu.setSregs(state.sregs());
        vcpu.setRegs(state.regs());
        if (state.xsave() != null) vcpu.setXsave(state.xsave());
        else vcpu.setFpu(state.fpu());
        if (!state.xcrs().isEmpty()) vcpu.setXcrs(state.xcrs());
        vcpu.setLapic(state.lapic());
        if (!state.msrs().isEmpty()) vcpu.setMsrs(state.msrs());
        if (state.vcpuEvents() != null) vcpu.setVcpuEvents(state.vcpuEvents());
        vcpu.setMpState(state.mpState());
        if (state.debugRegs() != null) vcpu.setDebugRegs(state.debugRegs());
    }
}
