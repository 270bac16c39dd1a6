package io.actorvm.tests;

import io.actorvm.mmu.HugePages;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A guest whose RAM is 2 MiB hugetlbfs pages: KVM runs it on them (the pool's pages are taken
 * while it runs and given back when it ends), and what it writes and reads is what it gets.
 */
class HugePagesGuestTest extends ActorTestSupport {
    private static final Path NR_HUGEPAGES = Path.of("/proc/sys/vm/nr_hugepages");

    @Test
    void aGuestRunsOnTwoMegabytePagesFromThePool() throws IOException {
        GuestRun.assumeKvm();
        assumeTrue(Files.isWritable(NR_HUGEPAGES), "cannot size the huge page pool here (not root)");
        long memory = 48L << 20, pages = memory / HugePages.TWO_MIB;
        long before = Long.parseLong(Files.readString(NR_HUGEPAGES).strip());
        try {
            Files.writeString(NR_HUGEPAGES, Long.toString(before + pages));
            long free = meminfo("HugePages_Free");
            assumeTrue(free >= pages, "the kernel found only " + free + " free huge pages for the pool");
            VmConfig config = new VmConfig("memtouch", GuestRun.guest("memtouch"), "mb=16 rounds=2", memory, 1)
                    .withHugePages(HugePages.HUGETLB_2M);
            GuestRun run = new GuestRun(kit, config);
            run.start();
            // Every page of its RAM came from the pool when it started: faulted in, or reserved
            // (meminfo counts a reserved page as free until it is faulted in).
            assertEquals(free - pages, meminfo("HugePages_Free") - meminfo("HugePages_Rsvd"),
                    "pool pages neither in use nor reserved while the guest runs");
            Vm.Terminated t = run.awaitTermination(Duration.ofSeconds(120));
            assertEquals(0, t.exitStatus(), t.reason() + "\n" + run.console.text());
            assertTrue(run.console.text().contains("memtouch: done\n"), run.console.text());
            // Touch wrote (page >> 12) & 0xFF into every page; 2 × 4096 random reads sum those bytes.
            assertTrue(run.console.text().matches("(?s).*memtouch: sum=[1-9][0-9]*\n.*"), run.console.text());
            assertEquals(free, meminfo("HugePages_Free"), "the pages went back to the pool when the VM ended");
        } finally {
            Files.writeString(NR_HUGEPAGES, Long.toString(before));
        }
    }

    private static long meminfo(String key) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (l.startsWith(key + ":")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
        }
        throw new AssertionError("no " + key + " in /proc/meminfo");
    }
}
