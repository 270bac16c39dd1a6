package io.actorvm.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** A segment register as KVM sees it, {@code struct kvm_segment} (24 bytes). */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    /** A flat 4 GiB segment: code (type 0xB, execute/read, accessed) or data (type 0x3, read/write, accessed). */
    public static Segment flat(int selector, boolean code, boolean longMode) {
        return new Segment(0, 0xFFFFFFFF, selector, code ? 0xB : 0x3, true, 0,
                !(code && longMode), true, code && longMode, true, false, false);
    }

    public static Segment read(MemorySegment m, long off) {
        return new Segment(m.get(JAVA_LONG, off), m.get(JAVA_INT, off + 8), Short.toUnsignedInt(m.get(JAVA_SHORT, off + 12)),
                m.get(JAVA_BYTE, off + 14), m.get(JAVA_BYTE, off + 15) != 0, m.get(JAVA_BYTE, off + 16),
                m.get(JAVA_BYTE, off + 17) != 0, m.get(JAVA_BYTE, off + 18) != 0, m.get(JAVA_BYTE, off + 19) != 0,
                m.get(JAVA_BYTE, off + 20) != 0, m.get(JAVA_BYTE, off + 21) != 0, m.get(JAVA_BYTE, off + 22) != 0);
    }

    public void write(MemorySegment m, long off) {
        m.set(JAVA_LONG, off, base);
        m.set(JAVA_INT, off + 8, limit);
        m.set(JAVA_SHORT, off + 12, (short) selector);
        m.set(JAVA_BYTE, off + 14, (byte) type);
        m.set(JAVA_BYTE, off + 15, bit(present));
        m.set(JAVA_BYTE, off + 16, (byte) dpl);
        m.set(JAVA_BYTE, off + 17, bit(db));
        m.set(JAVA_BYTE, off + 18, bit(s));
        m.set(JAVA_BYTE, off + 19, bit(l));
        m.set(JAVA_BYTE, off + 20, bit(g));
        m.set(JAVA_BYTE, off + 21, bit(avl));
        m.set(JAVA_BYTE, off + 22, bit(unusable));
        m.set(JAVA_BYTE, off + 23, (byte) 0);
    }

    private static byte bit(boolean b) {
        return (byte) (b ? 1 : 0);
    }
}
