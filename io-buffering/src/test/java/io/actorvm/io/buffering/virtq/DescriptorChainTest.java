package io.actorvm.io.buffering.virtq;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.io.buffering.virtq.DescriptorChain.Segment;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Reading and scattering through a chain stays inside its readable and writable segments. */
class DescriptorChainTest {
    private GuestMemory memory;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.allocate(new AddressMap(2 * AddressMap.MiB));
        byte[] pattern = new byte[0x40000];
        for (int i = 0; i < pattern.length; i++) pattern[i] = (byte) (i * 31 + 7);
        memory.write(GuestAddress.of(0), pattern);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    private static byte[] seq(int n, int start) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (start + i);
        return b;
    }

    private static byte[] concat(byte[]... parts) {
        byte[] out = new byte[Arrays.stream(parts).mapToInt(p -> p.length).sum()];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Readable 10 @0x10000 and 20 @0x20000; writable 10 @0x30000, 5 @0x30100, 20 @0x30200. */
    private static DescriptorChain chain() {
        return new DescriptorChain(3, List.of(new Segment(GuestAddress.of(0x10000), 10, false), new Segment(GuestAddress.of(0x20000), 20, false),
                new Segment(GuestAddress.of(0x30000), 10, true), new Segment(GuestAddress.of(0x30100), 5, true), new Segment(GuestAddress.of(0x30200), 20, true)));
    }

    @Test
    void lengths() {
        assertEquals(30, chain().readableLength());
        assertEquals(35, chain().writableLength());
    }

    @Test
    void readAllConcatenatesReadableSegmentsUpToMax() {
        byte[] all = concat(memory.read(GuestAddress.of(0x10000), 10), memory.read(GuestAddress.of(0x20000), 20));
        assertArrayEquals(all, chain().readAll(memory, 1000));
        assertArrayEquals(Arrays.copyOf(all, 15), chain().readAll(memory, 15));
        assertArrayEquals(Arrays.copyOf(all, 10), chain().readAll(memory, 10));
        assertEquals(0, chain().readAll(memory, 0).length);
        assertThrows(IllegalArgumentException.class, () -> chain().readAll(memory, -1));
    }

    @Test
    void readAllNeverReadsWritableSegments() {
        DescriptorChain writeOnly = new DescriptorChain(0, List.of(new Segment(GuestAddress.of(0x30000), 64, true)));
        assertEquals(0, writeOnly.readAll(memory, 100).length);
    }

    @Test
    void writeScattersAcrossWritableSegmentsOnly() {
        byte[] before = memory.read(GuestAddress.of(0), 0x40000);
        assertEquals(35, chain().write(memory, 0, seq(35, 100)));
        byte[] expected = before.clone();
        System.arraycopy(seq(10, 100), 0, expected, 0x30000, 10);
        System.arraycopy(seq(5, 110), 0, expected, 0x30100, 5);
        System.arraycopy(seq(20, 115), 0, expected, 0x30200, 20);
        assertArrayEquals(expected, memory.read(GuestAddress.of(0), 0x40000));
    }

    @Test
    void writeAtAnOffsetIsCutAtTheEndOfWritableSpace() {
        byte[] before = memory.read(GuestAddress.of(0), 0x40000);
        assertEquals(23, chain().write(memory, 12, seq(100, 1)));
        byte[] expected = before.clone();
        System.arraycopy(seq(3, 1), 0, expected, 0x30102, 3);
        System.arraycopy(seq(20, 4), 0, expected, 0x30200, 20);
        assertArrayEquals(expected, memory.read(GuestAddress.of(0), 0x40000));
    }

    @Test
    void writeBeyondWritableSpaceWritesNothing() {
        byte[] before = memory.read(GuestAddress.of(0), 0x40000);
        assertEquals(0, chain().write(memory, 35, seq(4, 1)));
        assertEquals(0, chain().write(memory, 1L << 40, seq(4, 1)));
        assertEquals(0, chain().write(memory, 0, new byte[0]));
        assertArrayEquals(before, memory.read(GuestAddress.of(0), 0x40000));
        assertThrows(IllegalArgumentException.class, () -> chain().write(memory, -1, seq(1, 1)));
    }

    @Test
    void writeFromANativeSegment() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(8);
            src.copyFrom(MemorySegment.ofArray(seq(8, 50)));
            assertEquals(8, chain().write(memory, 8, src));
        }
        assertArrayEquals(seq(2, 50), memory.read(GuestAddress.of(0x30008), 2));
        assertArrayEquals(seq(5, 52), memory.read(GuestAddress.of(0x30100), 5));
        assertArrayEquals(seq(1, 57), memory.read(GuestAddress.of(0x30200), 1));
    }

    @Test
    void handBuiltChainsKeepTheInvariants() {
        assertThrows(IllegalArgumentException.class,
                () -> new DescriptorChain(0, List.of(new Segment(GuestAddress.of(0), 1, true), new Segment(GuestAddress.of(0), 1, false))));
        assertThrows(IllegalArgumentException.class, () -> new DescriptorChain(0, List.of(new Segment(GuestAddress.of(0), 0, true))));
        assertThrows(IllegalArgumentException.class, () -> new DescriptorChain(32768, List.of()));
    }
}
