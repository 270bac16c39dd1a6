package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pause, resume and stop a running guest; bad kernels are refused with one-line reasons. */
class LifecycleTest extends ActorTestSupport {

    private static Vm.State state(GuestRun run) {
        TestProbe<Vm.Status> probe = kit.createTestProbe();
        run.vm.tell(new Vm.GetStatus(probe.getRef()));
        return probe.expectMessageClass(Vm.Status.class).state();
    }

    @Test
    void pausedGuestMakesNoProgressAndResumesWhereItWas() throws InterruptedException {
        GuestRun.assumeKvm();
        GuestRun run = new GuestRun(kit, "counter", "every=2000", 16L << 20, 2);
        run.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> run.console.text().split("\n").length >= 3);

        assertTrue(run.command(Vm.Pause::new).isSuccess());
        assertEquals(Vm.State.PAUSED, state(run));
        Thread.sleep(200); // output already in device mailboxes lands now
        String atPause = run.console.text();
        Thread.sleep(1000);
        assertEquals(atPause, run.console.text(), "a paused guest must not run");

        assertTrue(run.command(Vm.Resume::new).isSuccess());
        assertEquals(Vm.State.RUNNING, state(run));
        await().atMost(Duration.ofSeconds(60)).until(() -> run.console.text().length() > atPause.length() + 20);
        // The counter continues from where it was, it does not restart.
        String[] lines = run.console.text().split("\n");
        long previous = -1;
        for (int i = 0; i < lines.length - 1; i++) {
            long count = Long.parseLong(lines[i].replace("count ", "").trim());
            assertTrue(count > previous, "counts increase: " + count + " after " + previous);
            previous = count;
        }

        assertTrue(run.command(r -> new Vm.Stop("test done", r)).isSuccess());
        Vm.Terminated t = run.awaitTermination(Duration.ofSeconds(30));
        assertEquals("test done", t.reason());
        assertEquals(0, t.exitStatus());
        assertFalse(t.error());
        assertEquals(Vm.State.STOPPED, state(run));
    }

    @Test
    void missingKernelIsRefusedAtStart() {
        GuestRun.assumeKvm();
        var config = new io.actorvm.vmm.actors.VmConfig("bad", Path.of("/nonexistent/kernel.elf"), "", 16L << 20, 1);
        var vm = kit.spawn(Vm.create(config));
        TestProbe<org.apache.pekko.pattern.StatusReply<org.apache.pekko.Done>> probe = kit.createTestProbe();
        vm.tell(new Vm.Start(probe.getRef()));
        var reply = probe.expectMessageClass(org.apache.pekko.pattern.StatusReply.class);
        assertTrue(reply.isError());
        assertEquals("kernel file /nonexistent/kernel.elf does not exist", reply.getError().getMessage());
    }
}
