package io.actorvm.kvm;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One extended control register, {@code struct kvm_xcr}: {@code index} 0 is XCR0, the XSAVE feature
 * mask (bit 0 x87, bit 1 SSE, bit 2 AVX, ...). KVM_SET_XCRS refuses an XCR0 with bits the vCPU's
 * CPUID (leaf 0xD) does not allow, so the CPUID must be set first.
 */
public record Xcr(int index, long value) {
    public static final int XCR0 = 0;

    /** The entries of a {@code struct kvm_xcrs} ({@link Structs#XCRS}): count at 0, entries from 8. */
    static List<Xcr> fromKvmXcrs(MemorySegment s) {
        int n = Math.clamp(s.get(JAVA_INT, 0), 0, VcpuFd.XCRS_MAX);
        long entry = Structs.XCR.byteSize();
        List<Xcr> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(new Xcr(s.get(JAVA_INT, 8 + i * entry), s.get(JAVA_LONG, 16 + i * entry)));
        return out;
    }

    /** Writes {@code xcrs} (at most {@link VcpuFd#XCRS_MAX}) into a {@code struct kvm_xcrs}. */
    static void toKvmXcrs(MemorySegment s, List<Xcr> xcrs) {
        s.set(JAVA_INT, 0, xcrs.size());
        long entry = Structs.XCR.byteSize();
        for (int i = 0; i < xcrs.size(); i++) {
            s.set(JAVA_INT, 8 + i * entry, xcrs.get(i).index());
            s.set(JAVA_LONG, 16 + i * entry, xcrs.get(i).value());
        }
    }
}
