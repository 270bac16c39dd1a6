package io.actorvm.mmu;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;

import static io.actorvm.mmu.AddressMap.GiB;
import static io.actorvm.mmu.AddressMap.MiB;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestMemoryTest {
    private static final long SIZE = 16 * MiB;
    private GuestMemory mem;

    @BeforeEach
    void allocate() {
        mem = GuestMemory.allocate(new AddressMap(SIZE));
    }

    @AfterEach
    void free() {
        mem.close();
    }

    private static void assertRejected(Executable access) {
        assertThrows(GuestMemoryException.class, access);
    }

    /** The last 16 bytes of RAM, which every rejected straddling access below must leave untouched. */
    private byte[] tail() {
        return mem.read(GuestAddress.of(SIZE - 16), 16);
    }

    @Test
    void allocatesOneZeroedRegionAtZero() {
        assertEquals(1, mem.regions().size());
        GuestMemory.Region r = mem.regions().getFirst();
        assertEquals(0, r.guestAddress().value());
        assertEquals(SIZE, r.size());
        assertEquals(SIZE, r.end().value());
        assertArrayEquals(new byte[64], mem.read(GuestAddress.of(0), 64));
        assertArrayEquals(new byte[64], mem.read(GuestAddress.of(SIZE - 64), 64));
        assertEquals(new AddressMap(SIZE), mem.addressMap());
    }

    @Test
    void bytesRoundTrip() {
        byte[] data = {1, 2, 3, (byte) 0xFF, 0, 0x7F, (byte) 0x80};
        mem.write(GuestAddress.of(0x1234), data);
        assertArrayEquals(data, mem.read(GuestAddress.of(0x1234), data.length));
        assertArrayEquals(new byte[] {0, 1, 2, 3, (byte) 0xFF, 0, 0x7F, (byte) 0x80, 0}, mem.read(GuestAddress.of(0x1233), 9));
    }

    @Test
    void longsAndIntsAreLittleEndianAndMayBeUnaligned() {
        mem.writeLong(GuestAddress.of(0x101), 0x1122_3344_5566_7788L);
        assertEquals(0x1122_3344_5566_7788L, mem.readLong(GuestAddress.of(0x101)));
        assertArrayEquals(new byte[] {(byte) 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}, mem.read(GuestAddress.of(0x101), 8));
        mem.writeInt(GuestAddress.of(0x203), 0xCAFE_BABE);
        assertEquals(0xCAFE_BABE, mem.readInt(GuestAddress.of(0x203)));
        assertArrayEquals(new byte[] {(byte) 0xBE, (byte) 0xBA, (byte) 0xFE, (byte) 0xCA}, mem.read(GuestAddress.of(0x203), 4));
    }

    @Test
    void lastBytesOfRamAreAccessible() {
        mem.writeLong(GuestAddress.of(SIZE - 8), -2L);
        assertEquals(-2L, mem.readLong(GuestAddress.of(SIZE - 8)));
        mem.writeInt(GuestAddress.of(SIZE - 4), 0x0102_0304);
        assertEquals(0x0102_0304, mem.readInt(GuestAddress.of(SIZE - 4)));
        mem.write(GuestAddress.of(SIZE - 1), new byte[] {0x5A});
        assertArrayEquals(new byte[] {0x5A}, mem.read(GuestAddress.of(SIZE - 1), 1));
        assertTrue(mem.isRam(GuestAddress.of(0), SIZE));
        assertTrue(mem.isRam(GuestAddress.of(SIZE - 1), 1));
    }

    @Test
    void sliceIsAViewOfGuestRam() {
        MemorySegment s = mem.slice(GuestAddress.of(0x3000), 16);
        assertEquals(16, s.byteSize());
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 4, 0x0A0B0C0D);
        assertEquals(0x0A0B0C0D, mem.readInt(GuestAddress.of(0x3004)));
        assertThrows(IndexOutOfBoundsException.class, () -> s.get(ValueLayout.JAVA_BYTE, 16));
    }

    @Test
    void accessesStraddlingTheEndOfRamAreRejectedWithoutPartialWrites() {
        mem.write(GuestAddress.of(SIZE - 16), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
        byte[] before = tail();
        assertRejected(() -> mem.write(GuestAddress.of(SIZE - 4), new byte[] {-1, -1, -1, -1, -1, -1, -1, -1}));
        assertRejected(() -> mem.writeLong(GuestAddress.of(SIZE - 7), -1L));
        assertRejected(() -> mem.writeLong(GuestAddress.of(SIZE - 1), -1L));
        assertRejected(() -> mem.writeInt(GuestAddress.of(SIZE - 3), -1));
        assertRejected(() -> mem.writeInt(GuestAddress.of(SIZE), -1));
        assertRejected(() -> mem.write(GuestAddress.of(SIZE), new byte[1]));
        assertArrayEquals(before, tail());
        assertRejected(() -> mem.read(GuestAddress.of(SIZE - 4), 5));
        assertRejected(() -> mem.read(GuestAddress.of(SIZE), 1));
        assertRejected(() -> mem.readLong(GuestAddress.of(SIZE - 7)));
        assertRejected(() -> mem.readInt(GuestAddress.of(SIZE - 1)));
        assertRejected(() -> mem.slice(GuestAddress.of(SIZE - 1), 2));
        assertFalse(mem.isRam(GuestAddress.of(SIZE - 1), 2));
        assertFalse(mem.isRam(GuestAddress.of(0), SIZE + 1));
        assertFalse(mem.isRam(GuestAddress.of(SIZE), 1));
    }

    @Test
    void negativeAddressesAreRejected() {
        byte[] before = mem.read(GuestAddress.of(0), 16);
        assertRejected(() -> mem.read(GuestAddress.of(-1), 1));
        assertRejected(() -> mem.read(GuestAddress.of(-8), 16)); // would wrap round onto address 8
        assertRejected(() -> mem.readLong(GuestAddress.of(-1)));
        assertRejected(() -> mem.readLong(GuestAddress.of(-8)));
        assertRejected(() -> mem.readInt(GuestAddress.of(Long.MIN_VALUE)));
        assertRejected(() -> mem.write(GuestAddress.of(-4), new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));
        assertRejected(() -> mem.writeLong(GuestAddress.of(-4), -1L));
        assertRejected(() -> mem.writeInt(GuestAddress.of(Long.MIN_VALUE), -1));
        assertRejected(() -> mem.slice(GuestAddress.of(-SIZE), SIZE + 1));
        assertFalse(mem.isRam(GuestAddress.of(-1), 2));
        assertArrayEquals(before, mem.read(GuestAddress.of(0), 16));
    }

    @Test
    void hugeAndNegativeLengthsAreRejected() {
        assertRejected(() -> mem.read(GuestAddress.of(0), Integer.MAX_VALUE));
        assertRejected(() -> mem.read(GuestAddress.of(0), -1));
        assertRejected(() -> mem.read(GuestAddress.of(0x1000), Integer.MIN_VALUE));
        assertRejected(() -> mem.slice(GuestAddress.of(0), Long.MAX_VALUE));
        assertRejected(() -> mem.slice(GuestAddress.of(1), Long.MAX_VALUE));
        assertRejected(() -> mem.slice(GuestAddress.of(SIZE - 1), Long.MAX_VALUE));
        assertRejected(() -> mem.slice(GuestAddress.of(0), Long.MIN_VALUE));
        assertRejected(() -> mem.slice(GuestAddress.of(0x1000), -0x1000)); // address + length would be 0
        assertRejected(() -> mem.slice(GuestAddress.of(0), SIZE + 1));
        assertFalse(mem.isRam(GuestAddress.of(0), Long.MAX_VALUE));
        assertFalse(mem.isRam(GuestAddress.of(0), -1));
    }

    @Test
    void addressesNearLongMaxValueAreRejected() {
        assertRejected(() -> mem.readLong(GuestAddress.of(Long.MAX_VALUE)));
        assertRejected(() -> mem.readLong(GuestAddress.of(Long.MAX_VALUE - 7)));
        assertRejected(() -> mem.readInt(GuestAddress.of(Long.MAX_VALUE - 2))); // address + length overflows
        assertRejected(() -> mem.writeLong(GuestAddress.of(Long.MAX_VALUE), 1));
        assertRejected(() -> mem.write(GuestAddress.of(Long.MAX_VALUE), new byte[1]));
        assertRejected(() -> mem.read(GuestAddress.of(Long.MAX_VALUE), 0));
        assertRejected(() -> mem.slice(GuestAddress.of(Long.MAX_VALUE), 1));
        assertFalse(mem.isRam(GuestAddress.of(Long.MAX_VALUE), 1));
    }

    @Test
    void exceptionNamesTheRange() {
        GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> mem.readLong(GuestAddress.of(SIZE - 4)));
        assertEquals("guest-physical range 0xfffffc+0x8 is not RAM", e.getMessage());
    }

    @Test
    void zeroLengthAccessInsideRamIsEmpty() {
        assertArrayEquals(new byte[0], mem.read(GuestAddress.of(0x1000), 0));
        mem.write(GuestAddress.of(0x1000), new byte[0]);
        assertEquals(0, mem.slice(GuestAddress.of(0x1000), 0).byteSize());
    }

    /** A 4 GiB guest: 3 GiB below the hole, 1 GiB at 4 GiB. MAP_NORESERVE makes this cheap. */
    @Test
    void theMmioHoleIsNotRam() {
        try (GuestMemory big = GuestMemory.allocate(new AddressMap(4 * GiB))) {
            assertEquals(2, big.regions().size());
            assertEquals(0, big.regions().get(0).guestAddress().value());
            assertEquals(3 * GiB, big.regions().get(0).size());
            assertEquals(4 * GiB, big.regions().get(1).guestAddress().value());
            assertEquals(GiB, big.regions().get(1).size());

            big.writeLong(GuestAddress.of(3 * GiB - 8), 0x1111_1111_1111_1111L);
            big.writeLong(GuestAddress.of(4 * GiB), 0x2222_2222_2222_2222L);
            big.writeLong(GuestAddress.of(5 * GiB - 8), 0x3333_3333_3333_3333L);
            assertEquals(0x1111_1111_1111_1111L, big.readLong(GuestAddress.of(3 * GiB - 8)));
            assertEquals(0x2222_2222_2222_2222L, big.readLong(GuestAddress.of(4 * GiB)));
            assertEquals(0x3333_3333_3333_3333L, big.readLong(GuestAddress.of(5 * GiB - 8)));
            // The high region is not an alias of low RAM.
            assertEquals(0, big.readLong(GuestAddress.of(0)));
            assertEquals(0, big.readLong(GuestAddress.of(GiB)));

            for (long a : new long[] {3 * GiB, 3 * GiB + 4096, AddressMap.DEVICE_MMIO_START, AddressMap.IOAPIC_ADDRESS,
                    AddressMap.LAPIC_ADDRESS, AddressMap.KVM_TSS_ADDRESS, 4 * GiB - 8, 5 * GiB}) {
                assertRejected(() -> big.readLong(GuestAddress.of(a)));
                assertRejected(() -> big.writeLong(GuestAddress.of(a), -1L));
                assertFalse(big.isRam(GuestAddress.of(a), 1), Long.toHexString(a));
            }
            assertRejected(() -> big.readLong(GuestAddress.of(3 * GiB - 4)));   // straddles into the hole
            assertRejected(() -> big.readLong(GuestAddress.of(4 * GiB - 4)));   // straddles out of the hole
            assertRejected(() -> big.writeLong(GuestAddress.of(5 * GiB - 4), -1L)); // straddles the end of high RAM
            assertRejected(() -> big.slice(GuestAddress.of(3 * GiB - 8), GiB + 16)); // spans both regions and the hole
            assertRejected(() -> big.slice(GuestAddress.of(0), 5 * GiB));
            assertEquals(0x1111_1111_1111_1111L, big.readLong(GuestAddress.of(3 * GiB - 8)));
            assertEquals(0x2222_2222_2222_2222L, big.readLong(GuestAddress.of(4 * GiB)));
            assertEquals(0x3333_3333_3333_3333L, big.readLong(GuestAddress.of(5 * GiB - 8)));
        }
    }

    @Test
    void memoryOverGivenSegments() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment low = arena.allocate(0x10000, 4096);
            MemorySegment high = arena.allocate(0x1000, 4096);
            GuestMemory m = GuestMemory.of(new AddressMap(4 * GiB),
                    List.of(new GuestMemory.Region(GuestAddress.of(0), low), new GuestMemory.Region(GuestAddress.of(4 * GiB), high)));
            m.writeInt(GuestAddress.of(0xFFFC), 7);
            m.writeInt(GuestAddress.of(4 * GiB + 0xFFC), 9);
            assertEquals(7, low.get(ValueLayout.JAVA_INT_UNALIGNED, 0xFFFC));
            assertEquals(9, high.get(ValueLayout.JAVA_INT_UNALIGNED, 0xFFC));
            assertRejected(() -> m.readInt(GuestAddress.of(0xFFFE)));
            assertRejected(() -> m.readInt(GuestAddress.of(0x10000)));
            assertRejected(() -> m.readInt(GuestAddress.of(4 * GiB - 4)));
            assertRejected(() -> m.readInt(GuestAddress.of(4 * GiB + 0xFFE)));
            assertRejected(() -> m.readInt(GuestAddress.of(4 * GiB + 0x1000)));
            assertRejected(() -> m.readInt(GuestAddress.of(3 * GiB)));
            byte[] highBytes = high.toArray(ValueLayout.JAVA_BYTE);
            assertRejected(() -> m.write(GuestAddress.of(4 * GiB + 0xFF0), new byte[32]));
            assertArrayEquals(highBytes, high.toArray(ValueLayout.JAVA_BYTE));
            m.close(); // owns no mappings: must not unmap the arena's memory
            assertEquals(9, high.get(ValueLayout.JAVA_INT_UNALIGNED, 0xFFC));
        }
    }

    @Test
    void regionsAreReadOnly() {
        assertThrows(UnsupportedOperationException.class, () -> mem.regions().clear());
    }

    @Test
    void anonymousMappingRejectsBadSizesAndClosesOnce() {
        for (long bad : new long[] {0, -4096, 1, 4095, 4097}) {
            assertThrows(IllegalArgumentException.class, () -> PrivateMapping.anonymous(bad), Long.toString(bad));
        }
        PrivateMapping m = PrivateMapping.anonymous(8192);
        assertEquals(8192, m.segment().byteSize());
        byte[] zero = new byte[8192];
        assertTrue(Arrays.equals(zero, m.segment().toArray(ValueLayout.JAVA_BYTE)));
        m.close();
        m.close(); // idempotent
    }

    @Test
    void aMemoryFileIsMappedCopyOnWriteAndNeverWritten(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        AddressMap map = new AddressMap(4 * GiB); // two RAM ranges, below and above the PCI hole
        assertEquals(2, map.ramRanges().size());
        long below = map.ramRanges().getFirst().size();
        java.nio.file.Path file = dir.resolve("mem");
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(4 * GiB); // sparse
            raf.seek(0x1000);
            raf.write("low page".getBytes());
            raf.seek(below); // the first byte of the range above 4 GiB
            raf.write("high page".getBytes());
        }
        GuestMemory m = GuestMemory.mapFile(map, file);
        try {
            assertArrayEquals("low page".getBytes(), m.read(GuestAddress.of(0x1000), 8));
            assertArrayEquals("high page".getBytes(), m.read(GuestAddress.of(4 * GiB), 9));
            m.write(GuestAddress.of(0x1000), "LOW".getBytes());
            assertArrayEquals("LOW page".getBytes(), m.read(GuestAddress.of(0x1000), 8));
        } finally {
            m.close();
        }
        byte[] onDisk = new byte[8];
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "r")) {
            raf.seek(0x1000);
            raf.readFully(onDisk);
        }
        assertArrayEquals("low page".getBytes(), onDisk, "the file is never written");
        java.nio.file.Path shorter = dir.resolve("short");
        java.nio.file.Files.write(shorter, new byte[4096]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GuestMemory.mapFile(map, shorter));
        assertTrue(e.getMessage().contains("holds 4096 bytes"), e.getMessage());
    }
}
