package io.actorvm.io.buffering.virtq;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One raw entry of a descriptor table (virtio 1.2 §2.7.5), exactly as the guest wrote it and not
 * yet validated:
 * <pre>
 * struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; };   // 16 bytes
 * </pre>
 * {@code address} is the guest's u64 (negative when the top bit is set), {@code length} the u32
 * widened without sign, {@code flags} and {@code next} the u16s widened without sign.
 */
public record Descriptor(long address, long length, int flags, int next) {
    public static final int SIZE = 16;
    /** The buffer continues via {@code next}. */
    public static final int VIRTQ_DESC_F_NEXT = 1;
    /** The buffer is device write-only (otherwise device read-only). */
    public static final int VIRTQ_DESC_F_WRITE = 2;
    /** The buffer holds a table of descriptors (VIRTIO_F_INDIRECT_DESC). */
    public static final int VIRTQ_DESC_F_INDIRECT = 4;

    // Unaligned: the main table is 16-aligned, but an indirect table may sit at any address the
    // guest chooses, and an aligned layout would throw on it instead of just reading.
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Reads entry {@code index} of {@code table}, each field exactly once: the guest may be
     * rewriting the table while we parse it, so callers validate and use this copy, never memory.
     */
    static Descriptor read(MemorySegment table, int index) {
        long off = (long) index * SIZE;
        return new Descriptor(table.get(U64, off), Integer.toUnsignedLong(table.get(U32, off + 8)),
                Short.toUnsignedInt(table.get(U16, off + 12)), Short.toUnsignedInt(table.get(U16, off + 14)));
    }

    public boolean hasNext() {
        return (flags & VIRTQ_DESC_F_NEXT) != 0;
    }

    public boolean isWritable() {
        return (flags & VIRTQ_DESC_F_WRITE) != 0;
    }

    public boolean isIndirect() {
        return (flags & VIRTQ_DESC_F_INDIRECT) != 0;
    }
}
