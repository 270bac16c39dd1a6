package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.device.DeviceActor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The hello guest through the full actor path: KVM_RUN → exit messages → device actors → console. */
class HelloGuestTest extends ActorTestSupport {

    @ParameterizedTest(name = "{0} vCPU(s)")
    @ValueSource(ints = {1, 2})
    void printsAndExitsWithStatusZero(int cpus) {
        GuestRun.assumeKvm();
        GuestRun run = new GuestRun(kit, "hello", "", 16L << 20, cpus);
        run.start();
        Vm.Terminated t = run.awaitTermination(Duration.ofSeconds(60));

        assertEquals("hello from guest\n", run.console.text());
        assertEquals(0, t.exitStatus(), t.reason());
        assertFalse(t.error());

        Vm.Stats stats = run.stats();
        DeviceActor.Metrics post = stats.devices().stream().filter(d -> d.device().equals("post-code")).findFirst().orElseThrow();
        // The guest writes POST codes 0x01 and 0x02; KVM coalesces them and we deliver them as batches.
        assertEquals(2L, post.counters().get("writes"));
        assertEquals(2L, post.counters().get("last_code"));
        assertTrue(post.batches() >= 1, "POST codes arrive as coalesced batches");
        assertEquals(post.batchedWrites(), stats.io().get("coalesced_writes"));
        assertEquals(17L, stats.devices().stream().filter(d -> d.device().equals("serial")).findFirst().orElseThrow()
                .counters().get("tx_bytes"));
        assertEquals(0L, stats.io().get("unknown_port_writes"));
        assertTrue(List.of("exits", "port_writes", "port_reads").stream().allMatch(k -> stats.io().get(k) > 0));
    }
}
