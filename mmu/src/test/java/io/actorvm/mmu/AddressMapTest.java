package io.actorvm.mmu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static io.actorvm.mmu.AddressMap.GiB;
import static io.actorvm.mmu.AddressMap.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AddressMapTest {

    @Test
    void smallGuestHasOneLowRange() {
        assertEquals(List.of(new AddressMap.RamRange(0, 16 * MiB)), new AddressMap(16 * MiB).ramRanges());
    }

    @Test
    void fourGiBGuestIsSplitAroundTheMmioHole() {
        List<AddressMap.RamRange> ranges = new AddressMap(4 * GiB).ramRanges();
        assertEquals(List.of(new AddressMap.RamRange(0, 3 * GiB), new AddressMap.RamRange(4 * GiB, GiB)), ranges);
        assertEquals(0xC000_0000L, ranges.get(0).end());
        assertEquals(0x1_4000_0000L, ranges.get(1).end());
    }

    @Test
    void exactlyThreeGiBFitsBelowTheHole() {
        assertEquals(List.of(new AddressMap.RamRange(0, 3 * GiB)), new AddressMap(3 * GiB).ramRanges());
    }

    @Test
    void onePageAboveThreeGiBGoesToFourGiB() {
        assertEquals(List.of(new AddressMap.RamRange(0, 3 * GiB), new AddressMap.RamRange(4 * GiB, 4096)),
                new AddressMap(3 * GiB + 4096).ramRanges());
    }

    @Test
    void e820OfSixteenMiBGuest() {
        assertEquals(List.of(
                        new E820Entry(0, 0x9FC00, E820Entry.RAM),
                        new E820Entry(0x9FC00, 0x60400, E820Entry.RESERVED),
                        new E820Entry(0x10_0000, 15 * MiB, E820Entry.RAM)),
                new AddressMap(16 * MiB).e820());
    }

    @Test
    void e820OfFourGiBGuest() {
        assertEquals(List.of(
                        new E820Entry(0, 0x9FC00, E820Entry.RAM),
                        new E820Entry(0x9FC00, 0x60400, E820Entry.RESERVED),
                        new E820Entry(0x10_0000, 0xC000_0000L - 0x10_0000, E820Entry.RAM),
                        new E820Entry(0x1_0000_0000L, 0x4000_0000L, E820Entry.RAM)),
                new AddressMap(4 * GiB).e820());
    }

    @Test
    void e820OfSmallestGuest() {
        assertEquals(List.of(
                        new E820Entry(0, 0x9FC00, E820Entry.RAM),
                        new E820Entry(0x9FC00, 0x60400, E820Entry.RESERVED),
                        new E820Entry(MiB, MiB, E820Entry.RAM)),
                new AddressMap(2 * MiB).e820());
    }

    @ParameterizedTest
    @ValueSource(longs = {2 * MiB, 16 * MiB, 3 * GiB - 4096, 3 * GiB, 3 * GiB + 4096, 4 * GiB, 24 * GiB, 1L << 40})
    void rangesCoverRamExactlyAndAvoidTheHole(long size) {
        AddressMap map = new AddressMap(size);
        List<AddressMap.RamRange> ranges = map.ramRanges();
        assertEquals(size, ranges.stream().mapToLong(AddressMap.RamRange::size).sum());
        for (AddressMap.RamRange r : ranges) {
            assertTrue(r.size() > 0, r.toString());
            assertTrue(r.end() <= AddressMap.MMIO_HOLE_START || r.start() >= AddressMap.FOUR_GIB,
                    r + " overlaps the MMIO hole");
        }
        List<E820Entry> e820 = map.e820();
        for (int i = 1; i < e820.size(); i++) {
            assertTrue(e820.get(i).address() >= e820.get(i - 1).end(), "e820 not sorted/disjoint: " + e820);
        }
        long ram = e820.stream().filter(e -> e.type() == E820Entry.RAM).mapToLong(E820Entry::size).sum();
        // The legacy hole below 1 MiB is RAM in the slot but reported reserved.
        assertEquals(size - (AddressMap.HIGH_MEMORY_START - AddressMap.EBDA_START), ram);
        for (E820Entry e : e820) {
            boolean inSomeRange = ranges.stream().anyMatch(r -> e.address() >= r.start() && e.end() <= r.end());
            assertTrue(inSomeRange, e + " is outside guest RAM");
        }
    }

    @Test
    void fixedDevicesLieInTheHole() {
        for (long a : new long[] {AddressMap.IOAPIC_ADDRESS, AddressMap.LAPIC_ADDRESS, AddressMap.KVM_TSS_ADDRESS,
                AddressMap.KVM_IDENTITY_MAP_ADDRESS, AddressMap.DEVICE_MMIO_START}) {
            assertTrue(a >= AddressMap.MMIO_HOLE_START && a < AddressMap.FOUR_GIB, Long.toHexString(a));
        }
        // KVM's TSS takes three pages and the identity map one, both below 4 GiB and not overlapping.
        assertTrue(AddressMap.KVM_TSS_ADDRESS + 3 * 4096 <= AddressMap.FOUR_GIB);
        assertTrue(AddressMap.KVM_IDENTITY_MAP_ADDRESS + 4096 <= AddressMap.KVM_TSS_ADDRESS);
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 4096, 2 * MiB - 4096, -4096, -2 * MiB, 16 * MiB + 1, 16 * MiB + 2048, 16 * MiB - 1,
            (1L << 40) + 4096, 2L << 40, Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE & ~0xFFFL})
    void rejectsBadSizes(long size) {
        assertThrows(IllegalArgumentException.class, () -> new AddressMap(size));
    }

    @Test
    void acceptsTheLimits() {
        assertEquals(2 * MiB, new AddressMap(2 * MiB).ramSize());
        assertEquals(1L << 40, new AddressMap(1L << 40).ramSize());
        assertEquals(List.of(new AddressMap.RamRange(0, 3 * GiB), new AddressMap.RamRange(4 * GiB, (1L << 40) - 3 * GiB)),
                new AddressMap(1L << 40).ramRanges());
    }

    @Test
    void e820EntryRejectsEmptyRanges() {
        assertThrows(IllegalArgumentException.class, () -> new E820Entry(0x1000, 0, E820Entry.RAM));
        assertThrows(IllegalArgumentException.class, () -> new E820Entry(0x1000, -1, E820Entry.RAM));
        assertEquals(0x3000, new E820Entry(0x1000, 0x2000, E820Entry.RAM).end());
    }
}
