package io.actorvm.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** One model-specific register, {@code struct kvm_msr_entry}. */
public record MsrEntry(int index, long data) {
    /** Bytes of {@code struct kvm_msrs}' header (nmsrs, pad) and of one entry (index, reserved, data). */
    private static final long HEADER = 8, ENTRY = 16;

    /** A {@code struct kvm_msrs} holding {@code msrs}, for KVM_SET_MSRS and (with zero data) KVM_GET_MSRS. */
    static MemorySegment toKvmMsrs(Arena arena, List<MsrEntry> msrs) {
        MemorySegment s = arena.allocate(HEADER + ENTRY * msrs.size(), 8);
        s.set(JAVA_INT, 0, msrs.size());
        for (int i = 0; i < msrs.size(); i++) {
            long off = HEADER + i * ENTRY;
            s.set(JAVA_INT, off, msrs.get(i).index());
            s.set(JAVA_LONG, off + 8, msrs.get(i).data());
        }
        return s;
    }

    /** The first {@code count} entries of a {@code struct kvm_msrs}. */
    static List<MsrEntry> fromKvmMsrs(MemorySegment s, int count) {
        List<MsrEntry> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long off = HEADER + i * ENTRY;
            out.add(new MsrEntry(s.get(JAVA_INT, off), s.get(JAVA_LONG, off + 8)));
        }
        return out;
    }
}
