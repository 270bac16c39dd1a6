package io.actorvm.io.buffering;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IoRangeTest {

    @Test
    void rejectsEmptyNegativeAndOverflowingRanges() {
        assertThrows(IllegalArgumentException.class, () -> new IoRange(0x3F8, 0));
        assertThrows(IllegalArgumentException.class, () -> new IoRange(0x3F8, -1));
        assertThrows(IllegalArgumentException.class, () -> new IoRange(-1, 8));
        assertThrows(IllegalArgumentException.class, () -> new IoRange(Long.MIN_VALUE, 8));
        assertThrows(IllegalArgumentException.class, () -> new IoRange(Long.MAX_VALUE, 1));
        assertThrows(IllegalArgumentException.class, () -> new IoRange(1, Long.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> new IoRange(Long.MAX_VALUE - 3, 8));
    }

    @Test
    void rangeMayEndExactlyAtLongMaxValue() {
        IoRange r = new IoRange(Long.MAX_VALUE - 1, 1);
        assertEquals(Long.MAX_VALUE, r.end());
        assertTrue(r.contains(Long.MAX_VALUE - 1));
        assertFalse(r.contains(Long.MAX_VALUE));
        assertEquals(Long.MAX_VALUE, new IoRange(0, Long.MAX_VALUE).end());
    }

    @Test
    void containsIsHalfOpen() {
        IoRange r = new IoRange(0x3F8, 8);
        assertEquals(0x400, r.end());
        assertTrue(r.contains(0x3F8));
        assertTrue(r.contains(0x3FF));
        assertFalse(r.contains(0x400));
        assertFalse(r.contains(0x3F7));
        assertFalse(r.contains(-1));
        assertFalse(r.contains(Long.MIN_VALUE));
        assertFalse(r.contains(Long.MAX_VALUE));
    }

    @Test
    void overlapsIsSymmetricAndExcludesNeighbours() {
        IoRange a = new IoRange(0x100, 0x10);
        IoRange[] overlapping = {new IoRange(0x100, 0x10), new IoRange(0xF0, 0x11), new IoRange(0x10F, 1),
                new IoRange(0x104, 2), new IoRange(0, 0x1000)};
        for (IoRange b : overlapping) {
            assertTrue(a.overlaps(b), b.toString());
            assertTrue(b.overlaps(a), b.toString());
        }
        IoRange[] apart = {new IoRange(0xF0, 0x10), new IoRange(0x110, 1), new IoRange(0x200, 0x10)};
        for (IoRange b : apart) {
            assertFalse(a.overlaps(b), b.toString());
            assertFalse(b.overlaps(a), b.toString());
        }
    }
}
