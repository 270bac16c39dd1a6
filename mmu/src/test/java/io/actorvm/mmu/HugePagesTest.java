package io.actorvm.mmu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Guest RAM on huge pages, checked with the kernel's own accounting (smaps, meminfo). */
class HugePagesTest {
    private static final Path NR_HUGEPAGES = Path.of("/proc/sys/vm/nr_hugepages");

    @Test
    void flagsParseAndNameTheChoices() {
        assertEquals(HugePages.HUGETLB_2M, HugePages.parse("2M"));
        assertEquals(HugePages.TRANSPARENT, HugePages.parse("thp"));
        assertEquals(HugePages.NONE, HugePages.parse("none"));
        var e = assertThrows(IllegalArgumentException.class, () -> HugePages.parse("1G"));
        assertTrue(e.getMessage().contains("none, thp or 2M"), e.getMessage());
    }

    @Test
    void transparentHugePagesBackTouchedRam() throws IOException {
        String thp = Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
        assumeTrue(!thp.contains("[never]"), "transparent huge pages are off on this host: " + thp.strip());
        long size = 16L << 20;
        try (PrivateMapping m = PrivateMapping.anonymous(size, HugePages.TRANSPARENT)) {
            touch(m.segment());
            long huge = anonHugeKb(m.segment());
            // 16 MiB hold at least seven 2 MiB-aligned stretches whatever the mapping's alignment.
            assertTrue(huge >= 2048, "AnonHugePages of the mapping: " + huge + " kB");
        }
        try (PrivateMapping m = PrivateMapping.anonymous(size, HugePages.NONE)) {
            touch(m.segment());
            if (thp.contains("[madvise]")) assertEquals(0, anonHugeKb(m.segment()), "4 KiB pages were asked for");
        }
    }

    @Test
    void hugetlbPagesAreTakenFromThePoolAtMapTimeAndGivenBack() throws IOException {
        assumeTrue(Files.isWritable(NR_HUGEPAGES), "cannot size the huge page pool here (not root)");
        long before = Long.parseLong(Files.readString(NR_HUGEPAGES).strip());
        try {
            Files.writeString(NR_HUGEPAGES, Long.toString(before + 4));
            assumeTrue(meminfo("HugePages_Free") >= 4, "the kernel found no 4 free huge pages to add to the pool");
            long free = meminfo("HugePages_Free"), reserved = meminfo("HugePages_Rsvd");
            try (PrivateMapping m = PrivateMapping.anonymous(8L << 20, HugePages.HUGETLB_2M)) {
                // Reserved at mmap, before any touch: the guest can never fault on an empty pool.
                assertEquals(reserved + 4, meminfo("HugePages_Rsvd"));
                touch(m.segment());
                assertEquals(free - 4, meminfo("HugePages_Free"));
                assertEquals(0x5A, m.segment().get(ValueLayout.JAVA_BYTE, (8L << 20) - 1));
            }
            assertEquals(free, meminfo("HugePages_Free"));

            // More than the pool holds: a one-line error naming the pool, nothing mapped.
            var e = assertThrows(IllegalStateException.class, () -> PrivateMapping.anonymous((free + 1) * HugePages.TWO_MIB, HugePages.HUGETLB_2M));
            assertTrue(e.getMessage().contains("/proc/sys/vm/nr_hugepages"), e.getMessage());
            assertEquals(free, meminfo("HugePages_Free"));
        } finally {
            Files.writeString(NR_HUGEPAGES, Long.toString(before));
        }
    }

    @Test
    void hugetlbRamMustBeWholeHugePages() {
        var e = assertThrows(IllegalArgumentException.class, () -> PrivateMapping.anonymous(3L << 20, HugePages.HUGETLB_2M));
        assertTrue(e.getMessage().contains("2 MiB"), e.getMessage());
    }

    private static void touch(MemorySegment s) {
        for (long at = 0; at < s.byteSize(); at += 4096) s.set(ValueLayout.JAVA_BYTE, at, (byte) 0x5A);
        s.set(ValueLayout.JAVA_BYTE, s.byteSize() - 1, (byte) 0x5A);
    }

    /** AnonHugePages (kB) of the smaps entry that holds {@code s}. */
    private static long anonHugeKb(MemorySegment s) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        long start = s.address();
        boolean inside = false;
        for (String l : lines) {
            if (l.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                String[] range = l.substring(0, l.indexOf(' ')).split("-");
                inside = Long.parseUnsignedLong(range[0], 16) <= start && start < Long.parseUnsignedLong(range[1], 16);
            } else if (inside && l.startsWith("AnonHugePages:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        throw new AssertionError("no smaps entry holds 0x" + Long.toHexString(start));
    }

    private static long meminfo(String key) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (l.startsWith(key + ":")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
        }
        throw new AssertionError("no " + key + " in /proc/meminfo");
    }
}
