package io.actorvm.vmm.actors.io;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.io.buffering.IoBus;
import io.actorvm.io.buffering.IoRange;
import io.actorvm.kvm.VmExit;
import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.device.DeviceBacklog;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exit path's bounds: a device's backlog never grows past its capacity, and a stopping vCPU never waits. */
class ExitRouterTest {
    static final ActorTestKit kit = ActorTestKit.create();
    static final int PORT = 0x3F8;

    @AfterAll
    static void tearDown() {
        kit.shutdownTestKit();
    }

    /** A register that is slow to write (a console that cannot keep up) and remembers the last value and the count. */
    static final class SlowRegister implements BusDevice {
        final AtomicLong last = new AtomicLong();
        final AtomicInteger writes = new AtomicInteger();
        final CountDownLatch gate;
        volatile long nanosPerWrite;

        SlowRegister(CountDownLatch gate, long nanosPerWrite) {
            this.gate = gate;
            this.nanosPerWrite = nanosPerWrite;
        }

        @Override
        public String name() {
            return "slow";
        }

        @Override
        public long read(long offset, int size) {
            return offset == 0 ? last.get() : writes.get();
        }

        @Override
        public void write(long offset, int size, long value) {
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            long until = System.nanoTime() + nanosPerWrite;
            while (System.nanoTime() < until) Thread.onSpinWait();
            last.set(value);
            writes.incrementAndGet();
        }

        record Metrics() implements DeviceMetrics {}

        @Override
        public Metrics metrics() {
            return new Metrics();
        }
    }

    record Rig(ExitRouter router, DeviceBacklog backlog, SlowRegister model, IoStats stats) {}

    static Rig rig(int capacity, CountDownLatch gate, long nanosPerWrite) {
        SlowRegister model = new SlowRegister(gate, nanosPerWrite);
        DeviceBacklog backlog = new DeviceBacklog(capacity);
        var ref = kit.spawn(DeviceActor.create(model, backlog, io.actorvm.devices.record.DeviceTape.NONE));
        IoBus<DeviceRef> ports = new IoBus<>();
        ports.register(new IoRange(PORT, 8), new DeviceRef("slow", ref, backlog));
        IoStats stats = new IoStats();
        return new Rig(new ExitRouter(ports, new IoBus<>(), null, stats), backlog, model, stats);
    }

    @Test
    void aWriterFasterThanItsDeviceWaitsAndTheBacklogStaysWithinItsCapacity() throws Exception {
        int capacity = 16, writes = 5000;
        Rig rig = rig(capacity, new CountDownLatch(0), 20_000); // 20 µs per write: far slower than the writer
        AtomicInteger deepest = new AtomicInteger();
        Thread vcpu = Thread.ofPlatform().start(() -> {
            for (int i = 1; i <= writes; i++) {
                rig.router().portOut(new VmExit.PortOut(PORT, 1, 1, new byte[] {(byte) i}));
                deepest.accumulateAndGet(rig.backlog().depth(), Math::max);
            }
        });
        vcpu.join(60_000);
        assertFalse(vcpu.isAlive());
        assertTrue(deepest.get() <= capacity, "backlog depth " + deepest.get());
        assertTrue(rig.backlog().stalls() > 0, "the writer never had to wait");
        // A read is answered after every write before it.
        byte[] in = rig.router().portIn(new VmExit.PortIn(PORT + 1, 4, 1));
        assertEquals(writes, (in[0] & 0xFF) | (in[1] & 0xFF) << 8 | (in[2] & 0xFF) << 16);
        assertEquals(0, rig.stats().readTimeouts.sum());
    }

    @Test
    void aRepOutsIsOneAccessWrittenItemByItemInOrder() {
        Rig rig = rig(2, new CountDownLatch(0), 0); // one place for the 2048-item rep outs, one for the read after it
        byte[] data = new byte[4096];
        for (int i = 0; i < data.length; i += 2) data[i] = (byte) (i / 2);
        rig.router().portOut(new VmExit.PortOut(PORT, 2, data.length / 2, data));
        byte[] count = rig.router().portIn(new VmExit.PortIn(PORT + 1, 2, 1));
        assertEquals(2048, (count[0] & 0xFF) | (count[1] & 0xFF) << 8);
        assertArrayEquals(new byte[] {(byte) 0xFF, 0}, rig.router().portIn(new VmExit.PortIn(PORT, 2, 1)));
        assertEquals(0, rig.backlog().stalls());
    }

    @Test
    void aVcpuStoppedWhileItsDeviceIsStuckLeavesAtOnce() throws Exception {
        CountDownLatch stuck = new CountDownLatch(1);
        Rig rig = rig(4, stuck, 0);
        AtomicLong leftAfter = new AtomicLong(-1);
        Thread vcpu = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < 100 && !Thread.currentThread().isInterrupted(); i++) {
                rig.router().portOut(new VmExit.PortOut(PORT, 1, 1, new byte[] {1}));
            }
            long t0 = System.nanoTime();
            rig.router().portIn(new VmExit.PortIn(PORT, 1, 1)); // interrupted already: does not wait
            leftAfter.set(System.nanoTime() - t0);
        });
        TimeUnit.MILLISECONDS.sleep(300);
        assertTrue(vcpu.isAlive(), "the writer should be waiting for its stuck device");
        long t0 = System.nanoTime();
        vcpu.interrupt();
        vcpu.join(1000);
        assertFalse(vcpu.isAlive(), "an interrupted vCPU still waits");
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(1));
        assertTrue(leftAfter.get() < TimeUnit.MILLISECONDS.toNanos(100), "the read waited " + leftAfter.get() + " ns");
        assertEquals(2, rig.stats().stoppedAccesses.sum());
        stuck.countDown();
    }
}
