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
    COALESCED_PIO(162);

    final int number;

    Capability(int number) {
        this.number = number;
    }

    public int number() {
        return number;
    }
}
