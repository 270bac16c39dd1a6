package io.actorvm.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** One CPUID leaf, {@code struct kvm_cpuid_entry2} (40 bytes). */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the leaf has sub-leaves selected by ecx. */
    public static final int FLAG_SIGNIFICANT_INDEX = 1;

    static CpuidEntry read(MemorySegment m, long off) {
        return new CpuidEntry(m.get(JAVA_INT, off), m.get(JAVA_INT, off + 4), m.get(JAVA_INT, off + 8),
                m.get(JAVA_INT, off + 12), m.get(JAVA_INT, off + 16), m.get(JAVA_INT, off + 20), m.get(JAVA_INT, off + 24));
    }

    void write(MemorySegment m, long off) {
        int[] v = {function, index, flags, eax, ebx, ecx, edx, 0, 0, 0};
        for (int i = 0; i < v.length; i++) m.set(JAVA_INT, off + i * 4L, v[i]);
    }

    public CpuidEntry withEbx(int value) {
        return new CpuidEntry(function, index, flags, eax, value, ecx, edx);
    }

    public CpuidEntry withEdx(int value) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, value);
    }

    public CpuidEntry withEcx(int value) {
        return new CpuidEntry(function, index, flags, eax, ebx, value, edx);
    }
}
