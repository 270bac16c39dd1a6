package io.actorvm.boot.acpi;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AcpiTablesTest {
    static int sum(byte[] b, int len) {
        int s = 0;
        for (int i = 0; i < len; i++) s += b[i];
        return s & 0xFF;
    }

    @Test
    void tablesLinkUpAndChecksum() {
        AcpiTables.Tables t = AcpiTables.build(0xE0000, 3);
        Map<Long, byte[]> at = new HashMap<>();
        t.blobs().forEach(b -> at.put(b.address(), b.bytes()));
        assertTrue(t.end() <= 0x100000);

        byte[] rsdp = at.get(t.rsdpAddress());
        assertEquals("RSD PTR ", new String(rsdp, 0, 8));
        assertEquals(0, sum(rsdp, 20));
        assertEquals(0, sum(rsdp, 36));
        assertEquals(2, rsdp[15]);
        long xsdtAt = ByteBuffer.wrap(rsdp).order(ByteOrder.LITTLE_ENDIAN).getLong(24);

        byte[] xsdt = at.get(xsdtAt);
        assertEquals("XSDT", new String(xsdt, 0, 4));
        assertEquals(0, sum(xsdt, xsdt.length));
        ByteBuffer x = ByteBuffer.wrap(xsdt).order(ByteOrder.LITTLE_ENDIAN);
        byte[] fadt = at.get(x.getLong(36));
        byte[] madt = at.get(x.getLong(44));
        assertEquals("FACP", new String(fadt, 0, 4));
        assertEquals("APIC", new String(madt, 0, 4));

        ByteBuffer f = ByteBuffer.wrap(fadt).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(276, f.getInt(4));
        assertEquals(0, sum(fadt, fadt.length));
        assertTrue((f.getInt(112) & (1 << 20)) != 0, "hardware-reduced");
        assertEquals(0x600, f.getLong(244 + 4), "sleep control register is our port");
        byte[] dsdt = at.get(f.getLong(140));
        assertEquals("DSDT", new String(dsdt, 0, 4));
        assertEquals(0, sum(dsdt, dsdt.length));
        assertEquals("_S5_", new String(dsdt, 37, 4));

        ByteBuffer m = ByteBuffer.wrap(madt).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0, sum(madt, madt.length));
        assertEquals(0xFEE00000L, Integer.toUnsignedLong(m.getInt(36)));
        for (int cpu = 0; cpu < 3; cpu++) {
            int e = 44 + cpu * 8;
            assertEquals(0, madt[e]);
            assertEquals(cpu, madt[e + 3]);
            assertEquals(1, m.getInt(e + 4));
        }
        int ioapic = 44 + 3 * 8;
        assertEquals(1, madt[ioapic]);
        assertEquals(3, madt[ioapic + 2]);
        assertEquals(0xFEC00000L, Integer.toUnsignedLong(m.getInt(ioapic + 4)));
        assertEquals(madt.length, ioapic + 12 + 6);
    }

    @Test
    void eisaIdsAreCompressedAsAcpiSpellsThem() {
        // EisaId("PNP0501") is 0x0105D041 in every DSDT; AML stores it as a DWord constant.
        assertEquals("0c41d00501", java.util.HexFormat.of().formatHex(Aml.eisaId("PNP0501")));
        assertEquals("0c41d00303", java.util.HexFormat.of().formatHex(Aml.eisaId("PNP0303")));
    }

    @Test
    void dsdtDescribesTheIsaDevicesWithTheirPortsAndInterrupts() {
        byte[] dsdt = AcpiTables.dsdt(java.util.List.of(new AcpiTables.MmioDevice(0xD0000000L, 0x1000, 5)));
        String hex = java.util.HexFormat.of().formatHex(dsdt);
        // COM1: I/O 0x3F8, 8 ports, IRQ 4 (mask 0x0010); PS/2: 0x60 and 0x64, IRQ 1; RTC: 0x70, 2 ports, IRQ 8.
        assertTrue(hex.contains("4701f803f80301082210007900"), hex);
        assertTrue(hex.contains("470160006000010147016400640001012202007900"), hex);
        assertTrue(hex.contains("47017000700001022200017900"), hex);
        for (String name : new String[] {"COM1", "PS2K", "RTC_", "VR00", "LNRO0005"}) {
            assertTrue(new String(dsdt, java.nio.charset.StandardCharsets.ISO_8859_1).contains(name), name);
        }
    }
}
