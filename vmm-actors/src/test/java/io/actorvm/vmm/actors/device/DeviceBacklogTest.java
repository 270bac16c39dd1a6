package io.actorvm.vmm.actors.device;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.devices.record.DeviceTape;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The backlog ring under its device actor: order per vCPU, no access stranded, none lost to a restart. */
class DeviceBacklogTest {
    static final ActorTestKit kit = ActorTestKit.create();

    @AfterAll
    static void tearDown() {
        kit.shutdownTestKit();
    }

    /** A write of this value makes the model throw. */
    static final long FAULT = -7;

    /** One register per writer; a write must be exactly one more than the last at its offset. Throws on {@link #FAULT}. */
    static final class Counters implements BusDevice {
        final long[] last = new long[8];
        final AtomicReference<String> disorder = new AtomicReference<>();

        @Override
        public String name() {
            return "counters";
        }

        @Override
        public long read(long offset, int size) {
            return last[(int) offset];
        }

        @Override
        public void write(long offset, int size, long value) {
            if (value == FAULT) throw new IllegalStateException("write fault");
            if (value != last[(int) offset] + 1) disorder.compareAndSet(null, "offset " + offset + ": " + value + " after " + last[(int) offset]);
            last[(int) offset] = value;
        }

        record Metrics() implements DeviceMetrics {}

        @Override
        public Metrics metrics() {
            return new Metrics();
        }
    }

    /** What a reply channel does, as a future. */
    static long read(DeviceBacklog backlog, ActorRef<DeviceActor.Command> dev, long offset) throws Exception {
        CompletableFuture<Long> answer = new CompletableFuture<>();
        wake(dev, backlog.read(offset, 8, (ticket, value) -> answer.complete(value), 1));
        return answer.get(10, TimeUnit.SECONDS);
    }

    static void wake(ActorRef<DeviceActor.Command> dev, boolean idle) {
        if (idle) dev.tell(DeviceActor.DrainBacklog.INSTANCE);
    }

    @Test
    void fourWritersKeepTheirOwnOrderAndEveryAccessIsTaken() throws Exception {
        Counters model = new Counters();
        DeviceBacklog backlog = new DeviceBacklog(16); // small: writers wrap the ring and stall often
        var dev = kit.spawn(DeviceActor.create(model, backlog, DeviceTape.NONE));
        int writers = 4, writes = 50_000;
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int offset = w;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 1; i <= writes; i++) wake(dev, backlog.write(offset, 8, i));
                    // A read after its own writes sees the last of them.
                    assertEquals(writes, read(backlog, dev, offset));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join(60_000);
            assertTrue(!t.isAlive(), "a writer is stuck: an access was stranded");
        }
        assertNull(model.disorder.get());
        for (int w = 0; w < writers; w++) assertEquals(writes, read(backlog, dev, w));
        assertEquals(0, backlog.depth());
        assertTrue(backlog.wakeups() <= (long) writers * (writes + 2), "more wake-ups than accesses: " + backlog.wakeups());
    }

    @Test
    void aModelThatThrowsMidTurnLosesOnlyThatAccess() throws Exception {
        Counters model = new Counters();
        DeviceBacklog backlog = new DeviceBacklog(64);
        var dev = kit.spawn(DeviceActor.create(model, backlog, DeviceTape.NONE));
        // Put all of them before the actor can take any: the fault comes in the middle of one turn.
        boolean idle = false;
        for (int i = 1; i <= 10; i++) idle |= backlog.write(1, 8, i);
        idle |= backlog.write(1, 8, FAULT);
        for (int i = 11; i <= 20; i++) idle |= backlog.write(1, 8, i);
        wake(dev, idle);
        // The restarted actor goes on with the rest of the backlog by itself: nobody tells it again.
        assertEquals(20, read(backlog, dev, 1));
        assertNull(model.disorder.get());
        assertEquals(0, backlog.depth());
    }

    @Test
    void aHostRequestComesAfterEveryAccessPutBeforeIt() {
        Counters model = new Counters();
        DeviceBacklog backlog = new DeviceBacklog(64);
        var dev = kit.spawn(DeviceActor.create(model, backlog, DeviceTape.NONE));
        // Put without telling the actor (as if its drain message were still on the way): the
        // stop's metrics request, a snapshot's capture, must still see all of them done.
        for (int i = 1; i <= 50; i++) {
            try {
                backlog.write(2, 8, i);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        TestProbe<DeviceActor.Metrics> probe = kit.createTestProbe();
        dev.tell(new DeviceActor.GetMetrics(probe.getRef()));
        assertEquals(0, probe.receiveMessage().backlogDepth());
        assertEquals(50, model.last[2]);
        assertNull(model.disorder.get());
    }
}
