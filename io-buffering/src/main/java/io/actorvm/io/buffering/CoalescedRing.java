package io.actorvm.io.buffering;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * Reader of KVM's coalesced MMIO/PIO ring: a single-producer (the kernel, on any vCPU) and
 * single-consumer (us) ring living in the vCPU mapping at page {@code KVM_CAP_COALESCED_MMIO}.
 *
 * <pre>
 * struct kvm_coalesced_mmio_ring { u32 first; u32 last; struct kvm_coalesced_mmio entries[]; };
 * struct kvm_coalesced_mmio { u64 phys_addr; u32 len; u32 pio; u8 data[8]; };   // 24 bytes
 * </pre>
 * The kernel fills {@code entries[last]}, issues a write barrier, then advances {@code last}; it
 * treats the ring as full when {@code (last + 1) % capacity == first}. We own {@code first}.
 * Pure over a {@link MemorySegment}, so the decoder is tested on plain memory.
 */
public final class CoalescedRing {
    public static final int HEADER = 8, ENTRY = 24;

    /** One coalesced write, in the order the guest made it. */
    public record Entry(long address, int length, boolean pio, long value) {}

    private final MemorySegment ring;
    private final int capacity;

    /** {@code ring} is the page (or pages) holding the ring: header then {@code capacity} entries. */
    public CoalescedRing(MemorySegment ring) {
        this.ring = ring;
        this.capacity = (int) ((ring.byteSize() - HEADER) / ENTRY);
        if (capacity < 2) throw new IllegalArgumentException("coalesced ring segment too small: " + ring.byteSize());
    }

    public int capacity() {
        return capacity;
    }

    /**
     * Takes every entry the kernel has published. Called on the vCPU thread at each exit, so
     * entries come out before anything the exit itself does.
     */
    public List<Entry> drain() {
        // Acquire: pairs with the kernel's smp_wmb() before it advances `last`, so the entries
        // below `last` are fully written when we read them.
        int last = (int) INT.getAcquire(ring, 4L);
        int first = (int) INT.get(ring, 0L);
        if (first == last) return List.of();
        // The kernel keeps both indices below capacity; anything else is a corrupt ring, which we
        // reset rather than read out of bounds.
        if (Integer.compareUnsigned(first, capacity) >= 0 || Integer.compareUnsigned(last, capacity) >= 0) {
            INT.setRelease(ring, 0L, last < 0 || last >= capacity ? 0 : last);
            return List.of();
        }
        List<Entry> out = new ArrayList<>((last - first + capacity) % capacity);
        int i = first;
        while (i != last) {
            long off = HEADER + (long) i * ENTRY;
            long address = ring.get(ValueLayout.JAVA_LONG, off);
            int len = Math.clamp(ring.get(ValueLayout.JAVA_INT, off + 8), 0, 8);
            boolean pio = ring.get(ValueLayout.JAVA_INT, off + 12) != 0;
            long value = 0;
            for (int b = len - 1; b >= 0; b--) value = (value << 8) | (ring.get(ValueLayout.JAVA_BYTE, off + 16 + b) & 0xFF);
            out.add(new Entry(address, len, pio, value));
            i = (i + 1) % capacity;
        }
        // Release: our reads of the slots happen before the kernel may reuse them.
        INT.setRelease(ring, 0L, last);
        return out;
    }

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
}
