package io.actorvm.mmu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WrittenPagesTest {
    @Test
    void vmmWritesAreTrackedPerPageAndTakenOnce() {
        try (GuestMemory m = GuestMemory.allocate(new AddressMap(4L << 20))) {
            m.write(GuestAddress.of(0x1000), new byte[1]);                                   // page 1
            m.copyIn(GuestAddress.of(0x2FFF), MemorySegment.ofArray(new byte[2]), 0, 2);     // pages 2 and 3 (straddles)
            assertThrows(GuestMemoryException.class, () -> m.write(GuestAddress.of(0x3F8000), new byte[0x10000])); // past RAM's end: refused, nothing marked
            m.copyIn(GuestAddress.of(0x5000), MemorySegment.ofArray(new byte[1]), 0, 0);     // nothing written
            long[] bits = m.takeWritten(0);
            assertEquals(0b1110L, bits[0]);
            for (int w = 1; w < bits.length; w++) assertEquals(0L, bits[w], "word " + w);
            assertArrayEquals(new long[bits.length], m.takeWritten(0), "taking clears");
        }
    }

    @Test
    void scalarWritesMarkTheirPages() {
        try (GuestMemory m = GuestMemory.allocate(new AddressMap(4L << 20))) {
            m.writeLong(GuestAddress.of(0x6FFC), 1);  // pages 6 and 7
            m.writeInt(GuestAddress.of(0x9000), 1);   // page 9
            assertEquals((1L << 6) | (1L << 7) | (1L << 9), m.takeWritten(0)[0]);
        }
    }

    @Test
    void aDeviceAreaCountsAsWrittenAtEveryTake() {
        try (GuestMemory m = GuestMemory.allocate(new AddressMap(4L << 20))) {
            MemorySegment ring = m.deviceArea(GuestAddress.of(0xAFF0), 0x20); // pages 10 and 11
            ring.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, 7);
            long both = (1L << 10) | (1L << 11);
            assertEquals(both, m.takeWritten(0)[0]);
            assertEquals(both, m.takeWritten(0)[0], "still written: the VMM may write it at any time");
        }
    }
}
