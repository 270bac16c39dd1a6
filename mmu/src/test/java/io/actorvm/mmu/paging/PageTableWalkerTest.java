package io.actorvm.mmu.paging;

import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.actorvm.mmu.paging.PageTableWalker.P;
import static io.actorvm.mmu.paging.PageTableWalker.PS;
import static io.actorvm.mmu.paging.PageTableWalker.RW;
import static io.actorvm.mmu.paging.PageTableWalker.US;
import static io.actorvm.mmu.paging.PageTableWalker.XD;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Page tables built by hand in guest memory, walked as the MMU would. */
class PageTableWalkerTest {
    static final long ALL = P | RW | US;
    final GuestMemory memory = GuestMemory.allocate(new AddressMap(64L << 20));
    long nextTable = 0x10_000; // tables come from here, 4 KiB each
    final long root = newTable();

    @AfterEach
    void close() {
        memory.close();
    }

    long newTable() {
        long t = nextTable;
        nextTable += 4096;
        memory.write(GuestAddress.of(t), new byte[4096]);
        return t;
    }

    static int index(long va, int level) {
        return (int) ((va >>> (12 + 9 * (level - 1))) & 511);
    }

    long entryAddress(long table, long va, int level) {
        return table + 8L * index(va, level);
    }

    /**
     * Maps {@code va} by a leaf at {@code leafLevel} (1: 4 KiB, 2: 2 MiB, 3: 1 GiB) to {@code pa},
     * with {@code flags} on the leaf and {@code upper} on every table entry above it.
     */
    void map(int levels, long va, long pa, int leafLevel, long flags, long upper) {
        long table = root;
        for (int level = levels; level > leafLevel; level--) {
            long at = entryAddress(table, va, level);
            long e = memory.readLong(GuestAddress.of(at));
            if ((e & P) == 0) {
                e = newTable() | upper;
                memory.writeLong(GuestAddress.of(at), e);
            }
            table = e & PageTableWalker.ADDRESS;
        }
        memory.writeLong(GuestAddress.of(entryAddress(table, va, leafLevel)), pa | flags | (leafLevel > 1 ? PS : 0));
    }

    /** The entry at {@code level} on the way to {@code va} (which must be mapped down to it). */
    long entryOf(int levels, long va, int level) {
        long table = root;
        for (int l = levels; l > level; l--) table = memory.readLong(GuestAddress.of(entryAddress(table, va, l))) & PageTableWalker.ADDRESS;
        return entryAddress(table, va, level);
    }

    PageTableWalker walker(PagingMode mode, boolean nxe) {
        return new PageTableWalker(memory, mode, root, nxe);
    }

    @Test
    void pagesOfEachSizeTranslateWithTheirOffset() {
        long va4k = 0x0000_7F12_3456_7000L, va2m = 0x0000_0040_0020_0000L, va1g = 0xFFFF_8000_4000_0000L;
        map(4, va4k, 0x30_0000, 1, ALL, ALL);
        map(4, va2m, 0x60_0000, 2, ALL, ALL);
        map(4, va1g, 0x1_4000_0000L, 3, ALL, ALL);
        PageTableWalker w = walker(PagingMode.LEVEL4, true);
        assertEquals(new PageWalk.Translation(va4k + 0x123, 0x30_0123, 4096, true, true, true), w.translate(va4k + 0x123));
        assertEquals(new PageWalk.Translation(va2m + 0x1_2345, 0x61_2345, 2 << 20, true, true, true), w.translate(va2m + 0x1_2345));
        assertEquals(new PageWalk.Translation(va1g + 0x2345_6789, 0x1_6345_6789L, 1L << 30, true, true, true), w.translate(va1g + 0x2345_6789));
    }

    @Test
    void permissionsAreTheStrictestOfEveryLevel() {
        long va = 0x0000_0012_0000_0000L;
        map(4, va, 0x40_0000, 1, ALL, ALL);
        long pde = entryOf(4, va, 2), pml4e = entryOf(4, va, 4), pdpte = entryOf(4, va, 3);
        memory.writeLong(GuestAddress.of(pde), memory.readLong(GuestAddress.of(pde)) & ~RW);
        memory.writeLong(GuestAddress.of(pml4e), memory.readLong(GuestAddress.of(pml4e)) & ~US);
        memory.writeLong(GuestAddress.of(pdpte), memory.readLong(GuestAddress.of(pdpte)) | XD);
        var t = assertInstanceOf(PageWalk.Translation.class, walker(PagingMode.LEVEL4, true).translate(va));
        assertFalse(t.writable());
        assertFalse(t.user());
        assertFalse(t.executable());
        // XD is reserved unless EFER.NXE is on.
        var f = assertInstanceOf(PageWalk.Fault.class, walker(PagingMode.LEVEL4, false).translate(va));
        assertEquals(3, f.level());
    }

    @Test
    void badEntriesEndTheWalkAtTheirLevel() {
        long va = 0x0000_0001_0020_0000L;
        PageTableWalker w = walker(PagingMode.LEVEL4, true);
        assertEquals(4, ((PageWalk.Fault) w.translate(va)).level(), "nothing mapped: the PML4 entry is not present");
        map(4, va, 0x80_0000, 2, ALL, ALL);
        assertInstanceOf(PageWalk.Translation.class, w.translate(va));
        assertEquals(2, ((PageWalk.Fault) w.translate(0x0000_0001_0000_0000L)).level(), "the empty entry beside it in the same page directory");

        long pde = entryOf(4, va, 2);
        memory.writeLong(GuestAddress.of(pde), 0x80_0000 | ALL | PS | (1 << 13)); // reserved bit in a 2 MiB entry
        assertTrue(((PageWalk.Fault) w.translate(va)).reason().contains("reserved"));

        long pml4e = entryOf(4, va, 4);
        long saved = memory.readLong(GuestAddress.of(pml4e));
        memory.writeLong(GuestAddress.of(pml4e), saved | PS);
        assertEquals(4, ((PageWalk.Fault) w.translate(va)).level(), "PS in a PML4 entry is reserved");
        memory.writeLong(GuestAddress.of(pml4e), (saved & ~PageTableWalker.ADDRESS) | 0x10_0000_0000L); // a table far outside RAM
        var f = (PageWalk.Fault) w.translate(va);
        assertEquals(3, f.level());
        assertTrue(f.reason().contains("not in RAM"), f.reason());

        assertEquals(0, ((PageWalk.Fault) w.translate(0x0000_8000_0000_0000L)).level(), "not canonical");
    }

    @Test
    void fiveLevelPagingUsesBits56To48() {
        long va = 0x0001_0000_0000_5000L; // bit 48: canonical only with 57-bit addresses
        map(5, va, 0x50_0000, 1, ALL, ALL);
        var t = assertInstanceOf(PageWalk.Translation.class, walker(PagingMode.LEVEL5, true).translate(va + 8));
        assertEquals(0x50_0008, t.physical());
        assertEquals(0, ((PageWalk.Fault) walker(PagingMode.LEVEL4, true).translate(va)).level(), "not canonical with 48 bits");
        assertInstanceOf(PageWalk.Fault.class, walker(PagingMode.LEVEL5, true).translate(0x0080_0000_0000_0000L), "bit 55 set, 63:56 clear");
    }

    @Test
    void theModeComesFromTheControlRegisters() {
        assertEquals(PagingMode.NONE, PagingMode.of(0x11, 0x20, 0x500));
        assertEquals(PagingMode.LEGACY_32, PagingMode.of(0x8000_0011L, 0, 0));
        assertEquals(PagingMode.PAE, PagingMode.of(0x8000_0011L, 0x20, 0));
        assertEquals(PagingMode.LEVEL4, PagingMode.of(0x8000_0011L, 0x20, 0x500));
        assertEquals(PagingMode.LEVEL5, PagingMode.of(0x8000_0011L, 0x1020, 0x500));
        PageTableWalker off = PageTableWalker.of(memory, 0x11, root, 0, 0);
        assertEquals(0x1234, ((PageWalk.Translation) off.translate(0x1234)).physical());
        assertInstanceOf(PageWalk.Fault.class, walker(PagingMode.PAE, false).translate(0x1000));
    }

    @Test
    void aReadFollowsThePagesItSpansAndStopsAtAHole() {
        long va = 0x0000_0000_4000_0000L;
        map(4, va, 0x20_0000, 1, ALL, ALL);
        map(4, va + 4096, 0x9_0000, 1, ALL, ALL); // the next page lies below the first one
        byte[] a = new byte[16], b = new byte[16];
        for (int i = 0; i < 16; i++) {
            a[i] = (byte) i;
            b[i] = (byte) (100 + i);
        }
        memory.write(GuestAddress.of(0x20_0000 + 4096 - 16), a);
        memory.write(GuestAddress.of(0x9_0000), b);
        byte[] both = walker(PagingMode.LEVEL4, true).read(va + 4096 - 16, 32);
        assertArrayEquals(a, java.util.Arrays.copyOfRange(both, 0, 16));
        assertArrayEquals(b, java.util.Arrays.copyOfRange(both, 16, 32));
        var e = assertThrows(PageFaultException.class, () -> walker(PagingMode.LEVEL4, true).read(va + 2 * 4096 - 4, 8));
        assertEquals(va + 2 * 4096, e.fault().virtual());
        map(4, va + 3 * 4096, 0x7000_0000L, 1, ALL, ALL); // mapped, but beyond RAM
        assertThrows(PageFaultException.class, () -> walker(PagingMode.LEVEL4, true).read(va + 3 * 4096, 4));
    }
}
