package io.actorvm.vmm.actors.vcpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VcpuControlTest {

    @Test
    void aPausedVcpuStoppedAndInterruptedAtOnceLeavesAsAStop() throws Exception {
        for (int round = 0; round < 50; round++) {
            VcpuControl control = new VcpuControl();
            control.request(VcpuControl.Target.PAUSE);
            CountDownLatch paused = new CountDownLatch(1);
            CompletableFuture<Object> outcome = new CompletableFuture<>();
            Thread vcpu = Thread.ofPlatform().start(() -> {
                try {
                    outcome.complete(control.awaitRunnable(paused::countDown));
                } catch (InterruptedException e) {
                    outcome.complete(e);
                }
            });
            assertTrue(paused.await(5, TimeUnit.SECONDS));
            // The interrupt reaching the waiting thread before the notify (the language allows a wait
            // to end either way when both come): the stop is still a stop.
            synchronized (control) {
                vcpu.interrupt();
                control.request(VcpuControl.Target.STOP);
            }
            assertEquals(Boolean.FALSE, outcome.get(5, TimeUnit.SECONDS), "round " + round);
        }
    }
}
