package io.actorvm.vmm.actors.console;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConsoleSinkTest {

    @Test
    void aBlockedDestinationHoldsAtMostTheCapacityAndTheRestIsDroppedAndCounted() throws Exception {
        CountDownLatch blocked = new CountDownLatch(1);
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        try (ConsoleSink sink = new ConsoleSink("test", bytes -> {
            try {
                blocked.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            written.writeBytes(bytes);
        })) {
            byte[] chunk = new byte[4096];
            int chunks = 3 * ConsoleSink.CAPACITY / chunk.length;
            for (int i = 0; i < chunks; i++) sink.offer(chunk); // never blocks
            assertTrue(sink.queued() <= ConsoleSink.CAPACITY, "queued " + sink.queued());
            long taken = (long) chunks * chunk.length - sink.dropped();
            assertTrue(sink.dropped() >= 2L * ConsoleSink.CAPACITY - chunk.length, "dropped " + sink.dropped());
            blocked.countDown();
            assertTrue(sink.awaitDrained(Duration.ofSeconds(10)));
            assertEquals(taken, written.size());
            sink.offer(new byte[] {1, 2, 3});
            assertTrue(sink.awaitDrained(Duration.ofSeconds(10)));
            assertEquals(taken + 3, written.size());
        }
    }
}
