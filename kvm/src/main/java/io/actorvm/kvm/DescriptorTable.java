package io.actorvm.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** GDTR/IDTR, {@code struct kvm_dtable} (16 bytes). */
public record DescriptorTable(long base, int limit) {
    public static DescriptorTable read(MemorySegment m, long off) {
        return new DescriptorTable(m.get(JAVA_LONG, off), Short.toUnsignedInt(m.get(JAVA_SHORT, off + 8)));
    }

    public void write(MemorySegment m, long off) {
        m.set(JAVA_LONG, off, base);
        m.set(JAVA_SHORT, off + 8, (short) limit);
        m.asSlice(off + 10, 6).fill((byte) 0);
    }
}
