package io.actorvm.kvm;

/** KVM capabilities we ask about with KVM_CHECK_EXTENSION (numbers from {@code <linux/kvm.h>}). */
public enum Capability {
    IRQCHIP(0),
    HLT(1),
    USER_MEMORY(3),
    SET_TSS_ADDR(4),
    EXT_CPUID(7),
    NR_VCPUS(9),
    NR_MEMSLOTS(10),
    PIT(11),
    COALESCED_MMIO(15),
    SYNC_MMU(16),
    IOMMU(18),
    SET_IDENTITY_MAP_ADDR(37),
    IRQ_ROUTING(25),
    IRQFD(32),
    PIT2(33),
    IOEVENTFD(36),
    MAX_VCPUS(66),
    IMMEDIATE_EXIT(136),
    COALESCED_PIO(162),

    // State save and restore (snapshots, migration).
    /** KVM_GET/SET_MP_STATE. */
    MP_STATE(14),
    /** KVM_SET_BOOT_CPU_ID. */
    SET_BOOT_CPU_ID(34),
    /** KVM_GET/SET_PIT2. */
    PIT_STATE2(35),
    /** KVM_GET/SET_CLOCK; the answer is the set of flags KVM_GET_CLOCK can return. */
    ADJUST_CLOCK(39),
    /** KVM_GET/SET_VCPU_EVENTS. */
    VCPU_EVENTS(41),
    /** KVM_GET/SET_DEBUGREGS. */
    DEBUGREGS(50),
    /** KVM_SET_GUEST_DEBUG: breakpoints, watchpoints and single-step for a debugger. */
    SET_GUEST_DEBUG(23),
    /** The KVM_SET_GUEST_DEBUG control flags this KVM accepts (e.g. {@link GuestDebug#BLOCKIRQ}). */
    SET_GUEST_DEBUG2(195),
    /** KVM_ENABLE_CAP on a vCPU fd. */
    ENABLE_CAP(54),
    /** KVM_GET/SET_XSAVE. */
    XSAVE(55),
    /** KVM_GET/SET_XCRS. */
    XCRS(56),
    /** KVM_SET_TSC_KHZ. */
    TSC_CONTROL(60),
    /** KVM_GET_TSC_KHZ. */
    GET_TSC_KHZ(61),
    /** The LAPIC TSC-deadline timer mode (CPUID.1:ECX[24] is not reported by GET_SUPPORTED_CPUID). */
    TSC_DEADLINE_TIMER(72),
    /** KVM_KVMCLOCK_CTRL. */
    KVMCLOCK_CTRL(76),
    /** KVM_ENABLE_CAP on a VM fd. */
    ENABLE_CAP_VM(98),
    /** KVM_GET/SET_NESTED_STATE; the answer is the buffer size. */
    NESTED_STATE(157),
    /** Exception payloads in kvm_vcpu_events (enabled with KVM_ENABLE_CAP). */
    EXCEPTION_PAYLOAD(164),
    /** KVM_CLEAR_DIRTY_LOG, enabled with KVM_ENABLE_CAP; the answer is the set of allowed options. */
    MANUAL_DIRTY_LOG_PROTECT2(168),
    /** KVM_GET/SET_SREGS2 (PDPTRs). */
    SREGS2(200),
    /** KVM_GET_XSAVE2; the answer (on a VM fd) is the size of struct kvm_xsave in bytes, at least 4096. */
    XSAVE2(208),
    /** KVM_SET_TSC_KHZ on a VM fd (the default for vCPUs created afterwards). */
    VM_TSC_CONTROL(214);

    final int number;

    Capability(int number) {
        this.number = number;
    }

    public int number() {
        return number;
    }
}
