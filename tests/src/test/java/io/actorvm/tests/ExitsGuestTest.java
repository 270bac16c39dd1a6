package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** N port writes, N port reads, N MMIO writes: each is one exit, routed and counted. */
class ExitsGuestTest extends ActorTestSupport {

    @Test
    void everyAccessToUnclaimedAddressesBehavesAsOnAPcAndIsCounted() {
        GuestRun.assumeKvm();
        int n = 700;
        GuestRun run = new GuestRun(kit, "exits", "n=" + n, 16L << 20, 1);
        run.start();
        Vm.Terminated t = run.awaitTermination(Duration.ofSeconds(120));

        // Reads of an unclaimed port return all ones, so the OR of every byte read is 0xff.
        assertEquals("exits: out\nexits: in\nexits: mmio\nexits: done\nexits pio_out=%d pio_in=%d mmio_out=%d in_or=0xff\n"
                .formatted(n, n, n), run.console.text());
        assertEquals(0, t.exitStatus(), t.reason());
        Map<String, Long> io = run.stats().io();
        assertEquals(n, io.get("unknown_port_writes"));
        assertEquals(n, io.get("unknown_port_reads"));
        assertEquals(n, io.get("unknown_mmio_writes"));
        assertEquals(n, io.get("mmio_writes"));
    }
}
