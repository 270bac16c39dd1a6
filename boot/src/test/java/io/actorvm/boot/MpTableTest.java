package io.actorvm.boot;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MpTableTest {
    static int sum(byte[] b, int from, int len) {
        int s = 0;
        for (int i = from; i < from + len; i++) s += b[i];
        return s & 0xFF;
    }

    @Test
    void floatingPointerAndTableAreValidWithOneProcessorEntryPerCpu() {
        long at = BootLayout.MP_TABLE;
        byte[] t = MpTable.build(at, 4, 0xA00F11, 0x178BFBFF);
        ByteBuffer b = ByteBuffer.wrap(t).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("_MP_", new String(t, 0, 4));
        assertEquals(at + 16, Integer.toUnsignedLong(b.getInt(4)));
        assertEquals(0, sum(t, 0, 16), "floating pointer checksum");
        assertEquals("PCMP", new String(t, 16, 4));
        int length = Short.toUnsignedInt(b.getShort(20));
        assertEquals(t.length - 16, length);
        assertEquals(0, sum(t, 16, length), "configuration table checksum");
        int entries = Short.toUnsignedInt(b.getShort(16 + 34));
        assertEquals(4 + 1 + 1 + 16 + 2, entries);
        assertEquals(0xFEE00000L, Integer.toUnsignedLong(b.getInt(16 + 36)));
        // Processors: ids 0..3, the first is the BSP, all enabled.
        for (int cpu = 0; cpu < 4; cpu++) {
            int e = 16 + 44 + cpu * 20;
            assertEquals(0, t[e]);
            assertEquals(cpu, t[e + 1]);
            assertEquals(cpu == 0 ? 3 : 1, t[e + 3]);
            assertEquals(0xA00F11, b.getInt(e + 4));
        }
        int ioapic = 16 + 44 + 4 * 20 + 8;
        assertEquals(2, t[ioapic]);
        assertEquals(4, t[ioapic + 1]); // IOAPIC id after the LAPIC ids
        assertEquals(0xFEC00000L, Integer.toUnsignedLong(b.getInt(ioapic + 4)));
        int irq9 = ioapic + 8 + 9 * 8;
        assertEquals(3, t[irq9]);
        assertEquals(9, t[irq9 + 5]);
        assertEquals(9, t[irq9 + 7]);
    }

    @Test
    void fitsInTheLastKibOfBaseMemory() {
        assertEquals(1024 >= MpTable.build(0, MpTable.MAX_CPUS, 0, 0).length, true);
        assertThrows(IllegalArgumentException.class, () -> MpTable.build(0, MpTable.MAX_CPUS + 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> MpTable.build(0, 0, 0, 0));
    }
}
