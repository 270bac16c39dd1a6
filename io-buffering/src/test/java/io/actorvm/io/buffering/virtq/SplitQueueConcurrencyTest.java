package io.actorvm.io.buffering.virtq;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.io.buffering.virtq.TestDriver.Used;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A driver thread and a device thread on one queue at full speed, as a vCPU and a ring actor would
 * be: the driver writes a sequence number into each request and offers it, the device echoes it
 * into the writable buffer and completes it, the driver checks the echo when it reclaims the
 * descriptors. Catches ordering mistakes (data read before the idx that published it, used.idx
 * visible before the element or the data) and lost notifications (the device parks while buffers
 * wait, because its re-enable and the driver's publish raced).
 */
class SplitQueueConcurrencyTest {
    private static final int SIZE = 64, CHAINS = 200_000;
    private static final long DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000, READ_BUFS = 0x10000, WRITE_BUFS = 0x20000;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private GuestMemory memory;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.allocate(new AddressMap(2 * AddressMap.MiB));
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    @ParameterizedTest(name = "eventIdx={0}")
    @ValueSource(booleans = {false, true})
    void driverAndDeviceRaceWithoutLosingOrReorderingAnything(boolean eventIdx) throws Exception {
        TestDriver d = new TestDriver(memory, SIZE, DESC, AVAIL, USED).startAt(65000); // wraps during the run
        SplitQueue q = new SplitQueue(memory, new SplitQueue.State(SIZE, DESC, AVAIL, USED, eventIdx, false, 65000, 65000, 65000));
        Semaphore kick = new Semaphore(0);
        long[] notifications = new long[1];

        // A device taking over a queue (fresh or restored) enables notifications and looks once:
        // avail_event in guest memory is whatever it was (0 here, far behind idx 65000).
        q.setNotification(true);
        kick.release();
        CompletableFuture<Void> device = CompletableFuture.runAsync(() -> {
            long expected = 0;
            while (expected < CHAINS) {
                try {
                    if (!kick.tryAcquire(10, TimeUnit.SECONDS)) {
                        throw new AssertionError("lost notification: device idle at %d of %d, %s".formatted(expected, CHAINS, q.state()));
                    }
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
                kick.drainPermits();
                q.setNotification(false);
                do {
                    for (Optional<DescriptorChain> c; (c = q.pop()).isPresent(); ) {
                        DescriptorChain chain = c.get();
                        long seq = MemorySegment.ofArray(chain.readAll(memory, 8)).get(U64, 0);
                        if (seq != expected) throw new AssertionError("chain %d carried %d".formatted(expected, seq));
                        MemorySegment echo = MemorySegment.ofArray(new long[] {~seq});
                        if (chain.write(memory, 0, echo) != 8) throw new AssertionError("short write");
                        q.addUsed(chain.head(), 8);
                        expected++;
                    }
                } while (q.enableNotificationAndCheck());
                q.needsInterrupt();
            }
        });

        // The driver: slot s owns descriptors 2s (request, readable) and 2s+1 (reply, writable).
        ArrayDeque<Integer> free = new ArrayDeque<>();
        for (int s = 0; s < SIZE / 2; s++) free.add(s);
        long[] inFlightSeq = new long[SIZE / 2];
        long sent = 0, reclaimed = 0;
        while (reclaimed < CHAINS) {
            int batch = 0;
            // Alternate 1000-chain phases: streaming (send whenever a slot is free) and synchronous
            // (send a batch, wait for all of it). In the synchronous phase a lost notification is
            // fatal: nothing else will wake the device, and the driver waits for it.
            boolean synchronous = (sent / 1000) % 2 == 1;
            while (sent < CHAINS && !free.isEmpty() && batch < 1 + (int) (sent % 5) && !(synchronous && sent > reclaimed && batch == 0)) {
                int slot = free.poll();
                memory.slice(GuestAddress.of(READ_BUFS + 8L * slot), 8).set(U64, 0, sent);
                memory.slice(GuestAddress.of(WRITE_BUFS + 8L * slot), 8).set(U64, 0, 0);
                d.desc(2 * slot, READ_BUFS + 8L * slot, 8, TestDriver.NEXT, 2 * slot + 1);
                d.desc(2 * slot + 1, WRITE_BUFS + 8L * slot, 8, TestDriver.WRITE, 0);
                d.place(2 * slot);
                inFlightSeq[slot] = sent++;
                batch++;
            }
            if (batch > 0 && d.publishAndCheckNotify(eventIdx)) {
                notifications[0]++;
                kick.release();
            }
            for (Used u : d.takeUsed()) {
                int slot = u.id() / 2;
                long echo = memory.slice(GuestAddress.of(WRITE_BUFS + 8L * slot), 8).get(U64, 0);
                if (u.len() != 8 || echo != ~inFlightSeq[slot]) {
                    throw new AssertionError("used %s: echo %x for request %d".formatted(u, echo, inFlightSeq[slot]));
                }
                free.add(slot);
                reclaimed++;
            }
            if (device.isDone()) device.get(); // surface a device failure instead of spinning
            Thread.onSpinWait();
        }
        device.get(30, TimeUnit.SECONDS);
        assertEquals((65000 + CHAINS) & 0xFFFF, d.usedIdx());
        System.out.printf("SplitQueueConcurrencyTest eventIdx=%b: %,d chains, %,d notifications%n", eventIdx, CHAINS, notifications[0]);
    }
}
