package io.actorvm.mmu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class WrittenPagesTest {
    @Test
    void vmmWritesAreTrackedPerPageAndTakenOnce() {
        try (GuestMemory m = GuestMemory.allocate(new AddressMap(4L << 20))) {
            m.markWritten(0x1000, 1);          // page 1
            m.markWritten(0x2FFF, 2);          // pages 2 and 3 (straddles)
            m.markWritten(0x3F0000, 0x10000);  // beyond RAM's end: ignored, not a crash
            m.markWritten(0x5000, 0);          // nothing written
            long[] bits = m.takeWritten(0);
            assertEquals(0b1110L, bits[0]);
            assertArrayEquals(new long[bits.length], m.takeWritten(0), "taking clears");
        }
    }
}
