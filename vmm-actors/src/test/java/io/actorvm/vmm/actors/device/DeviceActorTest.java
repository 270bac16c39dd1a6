package io.actorvm.vmm.actors.device;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.io.buffering.BufferedWrite;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DeviceActorTest {
    static final ActorTestKit kit = ActorTestKit.create();

    @AfterAll
    static void tearDown() {
        kit.shutdownTestKit();
    }

    /** A register file that fails on writes of 0xBAD and on reads at offset 7. */
    static final class Fragile implements BusDevice {
        final long[] regs = new long[8];

        @Override
        public String name() {
            return "fragile";
        }

        @Override
        public long read(long offset, int size) {
            if (offset == 7) throw new IllegalStateException("read fault");
            return regs[(int) offset];
        }

        @Override
        public void write(long offset, int size, long value) {
            if (value == 0xBAD) throw new IllegalStateException("write fault");
            regs[(int) offset] = value;
        }

        record Metrics() implements DeviceMetrics {}

        @Override
        public Metrics metrics() {
            return new Metrics();
        }
    }

    @Test
    void readsSeeEarlierWritesInMailboxOrder() {
        var dev = kit.spawn(DeviceActor.create(new Fragile()));
        TestProbe<DeviceActor.ReadResult> probe = kit.createTestProbe();
        dev.tell(new DeviceActor.Write(1, 1, 11));
        dev.tell(new DeviceActor.WriteBatch(List.of(new BufferedWrite(2, 1, 22), new BufferedWrite(1, 1, 12))));
        dev.tell(new DeviceActor.Read(1, 1, probe.getRef()));
        dev.tell(new DeviceActor.Read(2, 1, probe.getRef()));
        assertEquals(12, probe.receiveMessage().value());
        assertEquals(22, probe.receiveMessage().value());
    }

    @Test
    void aFailingModelIsRestartedWithItsStateKeptAndFailuresCounted() {
        var dev = kit.spawn(DeviceActor.create(new Fragile()));
        TestProbe<DeviceActor.ReadResult> reads = kit.createTestProbe();
        TestProbe<DeviceActor.Metrics> metrics = kit.createTestProbe();
        dev.tell(new DeviceActor.Write(3, 1, 33));
        dev.tell(new DeviceActor.Write(4, 1, 0xBAD));       // throws: restart
        dev.tell(new DeviceActor.Read(7, 1, reads.getRef())); // throws: the vCPU still gets all ones
        assertEquals(-1L, reads.receiveMessage().value());
        dev.tell(new DeviceActor.Read(3, 1, reads.getRef()));
        assertEquals(33, reads.receiveMessage().value());     // state survived both restarts
        dev.tell(new DeviceActor.WriteBatch(List.of(new BufferedWrite(5, 1, 55))));
        dev.tell(new DeviceActor.GetMetrics(metrics.getRef()));
        DeviceActor.Metrics m = metrics.receiveMessage();
        assertEquals(2, m.failures());
        assertEquals(1, m.batches());
        assertEquals(1, m.batchedWrites());
    }
}
