package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The smp guest reads our ACPI MADT, starts every application processor with INIT/SIPI through
 * the in-kernel LAPIC, and waits for each to check in.
 */
class SmpGuestTest extends ActorTestSupport {

    @ParameterizedTest(name = "{0} vCPUs")
    @ValueSource(ints = {1, 4, 8})
    void everyCpuInTheMadtComesOnline(int cpus) {
        GuestRun.assumeKvm();
        GuestRun run = new GuestRun(kit, "smp", "", 16L << 20, cpus);
        run.start();
        Vm.Terminated t = run.awaitTermination(Duration.ofSeconds(120));
        String out = run.console.text();
        assertEquals(0, t.exitStatus(), t.reason() + "\n" + out);
        assertTrue(out.contains("smp: " + cpus + " cpus in MADT\n"), out);
        for (int apic = 1; apic < cpus; apic++) assertTrue(out.contains("cpu " + apic + " online\n"), out);
        assertTrue(out.contains("smp: all " + cpus + " cpus online\n"), out);
    }
}
