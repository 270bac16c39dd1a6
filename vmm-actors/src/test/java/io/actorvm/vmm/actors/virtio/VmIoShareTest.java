package io.actorvm.vmm.actors.virtio;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VmIoShareTest {
    @Test
    void aVmHoldsAtMostItsShareOfTheSharedPoolAndTheOtherVmsGoOn() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            VmIoShare flooding = new VmIoShare(pool, 3), quiet = new VmIoShare(pool, 3);
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger running = new AtomicInteger(), most = new AtomicInteger(), done = new AtomicInteger();
            for (int i = 0; i < 100; i++) {
                flooding.execute(() -> {
                    most.accumulateAndGet(running.incrementAndGet(), Math::max);
                    try {
                        release.await(10, TimeUnit.SECONDS); // a slow disk
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    running.decrementAndGet();
                    done.incrementAndGet();
                });
            }
            CountDownLatch quietDone = new CountDownLatch(10);
            for (int i = 0; i < 10; i++) quiet.execute(quietDone::countDown);
            assertTrue(quietDone.await(5, TimeUnit.SECONDS), "another VM's requests run while the flooding one waits");
            Thread.sleep(100);
            assertEquals(3, most.get(), "the flooding VM never holds more than its share");
            release.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (done.get() < 100 && System.nanoTime() < deadline) Thread.sleep(10);
            assertEquals(100, done.get(), "and every one of its requests runs, in turn");
        } finally {
            pool.shutdownNow();
        }
    }
}
