package io.actorvm.io.buffering;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The ring as the kernel lays it out:
 * {@code struct kvm_coalesced_mmio_ring { u32 first; u32 last; struct kvm_coalesced_mmio entries[]; }}
 * with {@code struct kvm_coalesced_mmio { u64 phys_addr; u32 len; u32 pio; u8 data[8]; }}, all little-endian.
 */
class CoalescedRingTest {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** (4096 - 8) / 24, KVM_COALESCED_MMIO_MAX for 4 KiB pages. */
    private static final int PAGE_CAPACITY = 170;

    private Arena arena;
    private MemorySegment page;
    private CoalescedRing ring;

    @BeforeEach
    void setUp() {
        arena = Arena.ofConfined();
        page = arena.allocate(4096, 8);
        ring = new CoalescedRing(page);
    }

    @AfterEach
    void tearDown() {
        arena.close();
    }

    private void indices(int first, int last) {
        page.set(U32, 0, first);
        page.set(U32, 4, last);
    }

    private int first() {
        return page.get(U32, 0);
    }

    private int last() {
        return page.get(U32, 4);
    }

    private void put(int slot, long address, int len, int pio, byte... data) {
        long off = 8 + 24L * slot;
        page.set(U64, off, address);
        page.set(U32, off + 8, len);
        page.set(U32, off + 12, pio);
        MemorySegment.copy(MemorySegment.ofArray(data), 0, page, off + 16, Math.min(8, data.length));
    }

    @Test
    void capacityOfAPage() {
        assertEquals(PAGE_CAPACITY, ring.capacity());
        assertEquals(8, CoalescedRing.HEADER);
        assertEquals(24, CoalescedRing.ENTRY);
    }

    @Test
    void tooSmallSegmentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new CoalescedRing(arena.allocate(8 + 24 * 2 - 1, 8)));
        assertThrows(IllegalArgumentException.class, () -> new CoalescedRing(arena.allocate(8, 8)));
        assertThrows(IllegalArgumentException.class, () -> new CoalescedRing(MemorySegment.NULL));
        assertEquals(2, new CoalescedRing(arena.allocate(8 + 24 * 2, 8)).capacity());
    }

    @Test
    void emptyRingYieldsNothingAndKeepsIndices() {
        assertEquals(List.of(), ring.drain());
        assertEquals(0, first());
        indices(37, 37);
        put(37, 0x3F8, 1, 1, (byte) 'x'); // a stale slot must not be read
        assertEquals(List.of(), ring.drain());
        assertEquals(37, first());
        assertEquals(37, last());
    }

    @Test
    void drainsPublishedEntriesInOrderAndAdvancesFirst() {
        put(0, 0x3F8, 1, 1, (byte) 0x41);
        put(1, 0xD000_0000L, 4, 0, (byte) 0x11, (byte) 0x22, (byte) 0x33, (byte) 0x44);
        put(2, 0x80, 2, 1, (byte) 0x34, (byte) 0x12);
        put(3, 0x1234, 1, 0, (byte) 0x99); // not yet published
        indices(0, 3);
        assertEquals(List.of(
                new CoalescedRing.Entry(0x3F8, 1, true, 0x41),
                new CoalescedRing.Entry(0xD000_0000L, 4, false, 0x4433_2211L),
                new CoalescedRing.Entry(0x80, 2, true, 0x1234)), ring.drain());
        assertEquals(3, first());
        assertEquals(3, last());
        assertEquals(List.of(), ring.drain());
        assertEquals(3, first());
    }

    @Test
    void valuesAreLittleEndianAndZeroExtended() {
        put(5, 0xFEDC_BA98_7654_3210L, 8, 0, (byte) 0x01, (byte) 0x02, (byte) 0x03, (byte) 0x04,
                (byte) 0x05, (byte) 0x06, (byte) 0x07, (byte) 0x88);
        put(6, 0x10, 1, 0, (byte) 0xFF, (byte) 0xEE); // only len bytes count; high bytes not sign-extended
        put(7, 0x20, 2, 0, (byte) 0xFF, (byte) 0xFF, (byte) 0xAA);
        put(8, 0x30, 4, 7, (byte) 0x80, (byte) 0, (byte) 0, (byte) 0x80, (byte) 0xBB); // any non-zero pio word means PIO
        indices(5, 9);
        assertEquals(List.of(
                new CoalescedRing.Entry(0xFEDC_BA98_7654_3210L, 8, false, 0x8807_0605_0403_0201L),
                new CoalescedRing.Entry(0x10, 1, false, 0xFF),
                new CoalescedRing.Entry(0x20, 2, false, 0xFFFF),
                new CoalescedRing.Entry(0x30, 4, true, 0x8000_0080L)), ring.drain());
        assertEquals(9, first());
    }

    @Test
    void wrapsAroundTheEndOfTheRing() {
        put(PAGE_CAPACITY - 2, 0xA, 1, 1, (byte) 1);
        put(PAGE_CAPACITY - 1, 0xB, 1, 1, (byte) 2);
        put(0, 0xC, 1, 1, (byte) 3);
        put(1, 0xD, 1, 1, (byte) 4);
        indices(PAGE_CAPACITY - 2, 2);
        assertEquals(List.of(
                new CoalescedRing.Entry(0xA, 1, true, 1),
                new CoalescedRing.Entry(0xB, 1, true, 2),
                new CoalescedRing.Entry(0xC, 1, true, 3),
                new CoalescedRing.Entry(0xD, 1, true, 4)), ring.drain());
        assertEquals(2, first());
    }

    @Test
    void lastAtSlotZeroAfterTheFinalSlot() {
        put(PAGE_CAPACITY - 1, 0xB, 2, 0, (byte) 0xCD, (byte) 0xAB);
        indices(PAGE_CAPACITY - 1, 0);
        assertEquals(List.of(new CoalescedRing.Entry(0xB, 2, false, 0xABCD)), ring.drain());
        assertEquals(0, first());
    }

    @Test
    void fullRingDrainsCapacityMinusOneEntries() {
        // The kernel calls the ring full when (last + 1) % capacity == first.
        for (int i = 0; i < PAGE_CAPACITY; i++) put(i, i, 1, 1, (byte) i);
        indices(10, 9);
        List<CoalescedRing.Entry> out = ring.drain();
        assertEquals(PAGE_CAPACITY - 1, out.size());
        assertEquals(new CoalescedRing.Entry(10, 1, true, 10), out.getFirst());
        assertEquals(new CoalescedRing.Entry(8, 1, true, 8), out.getLast());
        assertEquals(9, first());
    }

    @Test
    void overlongLengthIsClampedToEightBytes() {
        put(0, 0x100, 9, 0, (byte) 1, (byte) 2, (byte) 3, (byte) 4, (byte) 5, (byte) 6, (byte) 7, (byte) 8);
        put(1, 0x200, Integer.MAX_VALUE, 0, (byte) 0xAA, (byte) 0xBB, (byte) 0xCC, (byte) 0xDD,
                (byte) 0xEE, (byte) 0xFF, (byte) 0x11, (byte) 0x22);
        put(2, 0x300, -1, 0, (byte) 0x55); // 0xFFFFFFFF as a u32: clamped, reads nothing
        indices(0, 3);
        assertEquals(List.of(
                new CoalescedRing.Entry(0x100, 8, false, 0x0807_0605_0403_0201L),
                new CoalescedRing.Entry(0x200, 8, false, 0x2211_FFEE_DDCC_BBAAL),
                new CoalescedRing.Entry(0x300, 0, false, 0)), ring.drain());
        assertEquals(3, first());
    }

    @Test
    void lastEntryOfAnExactlySizedRingIsReadWithinBounds() {
        MemorySegment exact = arena.allocate(8 + 24 * 3, 8);
        CoalescedRing small = new CoalescedRing(exact);
        long off = 8 + 24 * 2;
        exact.set(U64, off, 0x42);
        exact.set(U32, off + 8, 100); // clamped to 8: must not read past the segment
        exact.set(U64, off + 16, 0x0102_0304_0506_0708L);
        exact.set(U32, 0, 2);
        exact.set(U32, 4, 0);
        assertEquals(List.of(new CoalescedRing.Entry(0x42, 8, false, 0x0102_0304_0506_0708L)), small.drain());
        assertEquals(0, exact.get(U32, 0));
    }

    @Test
    void corruptFirstIsResetToLast() {
        put(0, 0x3F8, 1, 1, (byte) 1);
        indices(PAGE_CAPACITY, 3);
        assertEquals(List.of(), ring.drain());
        assertEquals(3, first());
        assertEquals(3, last());

        indices(-1, 4);
        assertEquals(List.of(), ring.drain());
        assertEquals(4, first());

        indices(Integer.MIN_VALUE, 5);
        assertEquals(List.of(), ring.drain());
        assertEquals(5, first());

        indices(Integer.MAX_VALUE, PAGE_CAPACITY - 1);
        assertEquals(List.of(), ring.drain());
        assertEquals(PAGE_CAPACITY - 1, first());
    }

    @Test
    void corruptLastResetsFirstToZero() {
        put(3, 0x3F8, 1, 1, (byte) 1);
        indices(3, PAGE_CAPACITY);
        assertEquals(List.of(), ring.drain());
        assertEquals(0, first());

        indices(3, -1);
        assertEquals(List.of(), ring.drain());
        assertEquals(0, first());

        indices(3, Integer.MAX_VALUE);
        assertEquals(List.of(), ring.drain());
        assertEquals(0, first());

        indices(-7, -1); // both corrupt
        assertEquals(List.of(), ring.drain());
        assertEquals(0, first());
    }

    @Test
    void ringWorksAgainAfterAReset() {
        indices(999, 2);
        assertEquals(List.of(), ring.drain());
        put(2, 0x80, 1, 1, (byte) 0x55);
        page.set(U32, 4, 3);
        assertEquals(List.of(new CoalescedRing.Entry(0x80, 1, true, 0x55)), ring.drain());
        assertEquals(3, first());
    }
}
