package io.actorvm.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** One CPUID leaf, {@code struct kvm_cpuid_entry2} (40 bytes). */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the leaf has sub-leaves selected by ecx. */
    public static final int FLAG_SIGNIFICANT_INDEX = 1;
    /** Room offered to the KVM_GET_*CPUID* ioctls: more leaves than any CPU has. */
    static final int MAX_ENTRIES = 256;

    /** A zeroed {@code struct kvm_cpuid2} with room for {@link #MAX_ENTRIES} leaves, {@code nent} saying so. */
    static MemorySegment kvmCpuid2(Arena arena) {
        MemorySegment s = arena.allocate(Structs.CPUID2.byteSize() + Structs.CPUID_ENTRY2.byteSize() * MAX_ENTRIES, 8);
        s.set(JAVA_INT, 0, MAX_ENTRIES);
        return s;
    }

    /** A {@code struct kvm_cpuid2} holding {@code entries}, for KVM_SET_CPUID2. */
    static MemorySegment toKvmCpuid2(Arena arena, List<CpuidEntry> entries) {
        long entry = Structs.CPUID_ENTRY2.byteSize();
        MemorySegment s = arena.allocate(Structs.CPUID2.byteSize() + entry * entries.size(), 8);
        s.set(JAVA_INT, 0, entries.size());
        for (int i = 0; i < entries.size(); i++) entries.get(i).write(s, Structs.CPUID2.byteSize() + i * entry);
        return s;
    }

    /** The first {@code count} leaves of a {@code struct kvm_cpuid2} (clamped to its room). */
    static List<CpuidEntry> fromKvmCpuid2(MemorySegment s, int count) {
        long entry = Structs.CPUID_ENTRY2.byteSize();
        int n = (int) Math.clamp(count, 0, (s.byteSize() - Structs.CPUID2.byteSize()) / entry);
        List<CpuidEntry> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(read(s, Structs.CPUID2.byteSize() + i * entry));
        return out;
    }

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
