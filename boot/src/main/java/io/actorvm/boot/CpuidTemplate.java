package io.actorvm.boot;

import io.actorvm.kvm.CpuidEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns the host's supported CPUID into what one vCPU of an {@code n}-CPU guest sees: its own
 * APIC id in leaves 1, 0xB and 0x1F, the logical-processor count, and the hypervisor bit.
 * Pure: unit-tested without KVM.
 */
public final class CpuidTemplate {
    static final int LEAF_FEATURES = 0x1, LEAF_EXT_TOPOLOGY = 0xB, LEAF_V2_TOPOLOGY = 0x1F;
    static final int ECX_HYPERVISOR = 1 << 31;
    /** Leaf 1 EDX bit 28: HTT, "logical processor count in EBX[23:16] is valid". */
    static final int EDX_HTT = 1 << 28;

    private CpuidTemplate() {}

    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int apicId, int cpuCount) {
        return forVcpu(supported, apicId, cpuCount, java.util.Set.of());
    }

    /** As above, with {@code disabled} features hidden from the guest. */
    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int apicId, int cpuCount,
                                           java.util.Set<CpuFeature> disabled) {
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry supportedEntry : supported) {
            CpuidEntry e = supportedEntry;
            for (CpuFeature f : disabled) e = f.clear(e);
            out.add(switch (e.function()) {
                case LEAF_FEATURES -> {
                    int ebx = (e.ebx() & 0x0000FFFF) | ((cpuCount & 0xFF) << 16) | ((apicId & 0xFF) << 24);
                    CpuidEntry leaf = e.withEbx(ebx).withEcx(e.ecx() | ECX_HYPERVISOR);
                    yield cpuCount > 1 ? leaf.withEdx(leaf.edx() | EDX_HTT) : leaf;
                }
                // x2APIC id of this CPU in EDX of every sub-leaf; one thread per core, all cores in one package.
                case LEAF_EXT_TOPOLOGY, LEAF_V2_TOPOLOGY -> topology(e, apicId, cpuCount);
                default -> e;
            });
        }
        return out;
    }

    private static CpuidEntry topology(CpuidEntry e, int apicId, int cpuCount) {
        int level = e.index();
        int shift = 32 - Integer.numberOfLeadingZeros(Math.max(cpuCount - 1, 0)); // bits to hold core ids
        return switch (level) {
            case 0 -> new CpuidEntry(e.function(), 0, e.flags(), 0, 1, (1 << 8), apicId);            // SMT level: 1 thread
            case 1 -> new CpuidEntry(e.function(), 1, e.flags(), shift, cpuCount, (2 << 8) | 1, apicId); // core level
            default -> new CpuidEntry(e.function(), level, e.flags(), 0, 0, level, apicId);         // invalid level
        };
    }
}
