package io.actorvm.vmm.actors.virtio;

import io.actorvm.devices.virtio.VirtioInterrupt;
import io.actorvm.devices.virtio.VirtioMmioTransport;
import io.actorvm.devices.virtio.rng.VirtioRng;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;
import io.actorvm.vmm.actors.device.DeviceActor;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A driver resets a device while a request is in flight on the host (here virtio-rng, its
 * entropy source held): the reset completes only once that request is done, the driver's next
 * access waits until then, and the request's completion is not written into the ring the driver
 * gave up. The transport, its actor and the rings actor are the runtime's own; only the host's
 * entropy is a latch.
 */
class VirtioResetTest {
    static final ActorTestKit kit = ActorTestKit.create();
    // virtio-mmio registers (virtio 1.2, 4.2.2)
    static final int DRIVER_FEATURES = 0x020, DRIVER_FEATURES_SEL = 0x024, QUEUE_SEL = 0x030, QUEUE_NUM = 0x038,
            QUEUE_READY = 0x044, QUEUE_NOTIFY = 0x050, STATUS = 0x070, QUEUE_DESC_LOW = 0x080, QUEUE_DRIVER_LOW = 0x090,
            QUEUE_DEVICE_LOW = 0x0A0;

    @AfterAll
    static void tearDown() {
        kit.shutdownTestKit();
    }

    @Test
    void aResetWaitsForTheRequestInFlightAndDropsItsCompletion() throws Exception {
        CountDownLatch entropyHeld = new CountDownLatch(1), entropyAsked = new CountDownLatch(1);
        VirtioRng rng = new VirtioRng(into -> {
            entropyAsked.countDown();
            try {
                entropyHeld.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try (GuestMemory memory = GuestMemory.allocate(new AddressMap(2L << 20))) {
            VirtioHostAdapter host = new VirtioHostAdapter();
            VirtioInterrupt interrupt = new VirtioInterrupt(() -> {});
            ActorRef<DeviceActor.Command> transport = kit.spawn(DeviceActor.create(new VirtioMmioTransport(rng, host, interrupt, memory)));
            host.bind(kit.spawn(VirtioRings.create(rng, interrupt, memory, transport,
                    new VmIoShare(java.util.concurrent.ForkJoinPool.commonPool(), 4), io.actorvm.devices.record.DeviceTape.NONE)));

            // One device-writable buffer of 64 bytes at 0x4000 in a ring of 8: desc 0x1000, avail 0x2000, used 0x3000.
            memory.write(GuestAddress.of(0x1000), ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(0x4000).putInt(64).putShort((short) 2).array());
            memory.write(GuestAddress.of(0x2000), ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN)
                    .putShort((short) 0).putShort((short) 1).putShort((short) 0).array());
            for (long[] w : new long[][] {{STATUS, 1}, {STATUS, 3}, {DRIVER_FEATURES_SEL, 1}, {DRIVER_FEATURES, 1},
                    {STATUS, 11}, {QUEUE_SEL, 0}, {QUEUE_NUM, 8}, {QUEUE_DESC_LOW, 0x1000}, {QUEUE_DRIVER_LOW, 0x2000},
                    {QUEUE_DEVICE_LOW, 0x3000}, {QUEUE_READY, 1}, {STATUS, 15}, {QUEUE_NOTIFY, 0}}) {
                transport.tell(new DeviceActor.Write(w[0], 4, w[1]));
            }
            assertTrue(entropyAsked.await(10, TimeUnit.SECONDS), "the request reached the host");

            transport.tell(new DeviceActor.Write(STATUS, 4, 0)); // reset, with the request in flight
            TestProbe<DeviceActor.ReadResult> status = kit.createTestProbe();
            transport.tell(new DeviceActor.Read(STATUS, 4, status.getRef()));
            status.expectNoMessage(Duration.ofMillis(500)); // the driver's read waits for the reset to finish

            entropyHeld.countDown();
            assertEquals(0, status.receiveMessage(Duration.ofSeconds(10)).value(), "then the reset is done");
            Thread.sleep(200);
            assertEquals(0, ByteBuffer.wrap(memory.read(GuestAddress.of(0x3002), 2)).order(ByteOrder.LITTLE_ENDIAN).getShort(),
                    "the completion was not published into the abandoned used ring");
        }
    }
}
