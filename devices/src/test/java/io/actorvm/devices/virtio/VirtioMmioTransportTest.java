package io.actorvm.devices.virtio;

import io.actorvm.devices.virtio.rng.VirtioRng;
import io.actorvm.io.buffering.virtq.SplitQueue;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

import static io.actorvm.devices.virtio.VirtioMmioTransport.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtioMmioTransportTest {
    final GuestMemory memory = GuestMemory.allocate(new AddressMap(4L << 20));
    final List<List<SplitQueue.State>> activations = new ArrayList<>();
    final List<Integer> notified = new ArrayList<>();
    int deactivations, interrupts;
    final VirtioInterrupt interrupt = new VirtioInterrupt(() -> interrupts++);
    final VirtioMmioTransport t = new VirtioMmioTransport(new VirtioRng(io.actorvm.devices.EntropySource.secureRandom()), new VirtioHost() {
        @Override
        public void activate(List<SplitQueue.State> queues) {
            activations.add(queues);
        }

        @Override
        public void deactivate() {
            deactivations++;
        }

        @Override
        public void notifyQueue(int index) {
            notified.add(index);
        }
    }, interrupt, memory);

    @AfterEach
    void close() {
        memory.close();
    }

    long r(int reg) {
        return t.read(reg, 4);
    }

    void w(int reg, long v) {
        t.write(reg, 4, v);
    }

    void negotiateAndSetUpQueue(long desc, long avail, long used, int size) {
        w(STATUS, S_ACKNOWLEDGE);
        w(STATUS, S_ACKNOWLEDGE | S_DRIVER);
        w(DRIVER_FEATURES_SEL, 1);
        w(DRIVER_FEATURES, 1); // VERSION_1
        w(STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
        w(QUEUE_SEL, 0);
        w(QUEUE_NUM, size);
        w(QUEUE_DESC_LOW, desc);
        w(QUEUE_DRIVER_LOW, avail);
        w(QUEUE_DEVICE_LOW, used);
        w(QUEUE_READY, 1);
    }

    /** Found by the register fuzz at 10^6 steps: a restore then negotiated the later, never accepted, value. */
    @Test
    void driverFeaturesWrittenAfterFeaturesOkAreIgnoredUntilAReset() {
        negotiateAndSetUpQueue(0x1000, 0x2000, 0x3000, 16);
        w(DRIVER_FEATURES_SEL, 1);
        w(DRIVER_FEATURES, 0xE);
        w(DRIVER_FEATURES_SEL, 0);
        w(DRIVER_FEATURES, 0xFFFF_FFFFL);
        assertEquals(1L << 32, t.state().driverFeatures(), "the accepted set stays");
        w(STATUS, 0);
        w(DRIVER_FEATURES_SEL, 1);
        w(DRIVER_FEATURES, 1);
        assertEquals(1L << 32, t.state().driverFeatures(), "after a reset the driver negotiates afresh");
    }

    @Test
    void identifiesItselfAsAModernVirtioDevice() {
        assertEquals(0x74726976L, r(MAGIC_VALUE));
        assertEquals(2, r(VERSION_REG));
        assertEquals(4, r(DEVICE_ID));
        w(DEVICE_FEATURES_SEL, 1);
        assertEquals(1, r(DEVICE_FEATURES) & 1, "VERSION_1 offered");
        w(QUEUE_SEL, 0);
        assertEquals(64, r(QUEUE_NUM_MAX));
        w(QUEUE_SEL, 1);
        assertEquals(0, r(QUEUE_NUM_MAX), "no queue 1");
        assertEquals(0, t.read(0x3, 1), "unaligned or narrow register reads give 0");
    }

    @Test
    void driverOkActivatesValidatedQueuesAndNotificationsReachTheHost() {
        negotiateAndSetUpQueue(0x10000, 0x11000, 0x12000, 16);
        assertEquals(S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK, r(STATUS));
        w(STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
        assertEquals(1, activations.size());
        assertNotNull(activations.getFirst().getFirst());
        w(QUEUE_NOTIFY, 0);
        w(QUEUE_NOTIFY, 7); // no such queue: ignored
        assertEquals(List.of(0), notified);
        interrupt.raise(VirtioInterrupt.USED_BUFFER);
        assertEquals(1, r(INTERRUPT_STATUS));
        w(INTERRUPT_ACK, 1);
        assertEquals(0, r(INTERRUPT_STATUS));
    }

    @Test
    void aLateAcknowledgeDoesNotClearAnInterruptRaisedAfterTheGuestRead() {
        interrupt.raise(VirtioInterrupt.USED_BUFFER);
        assertEquals(1, r(INTERRUPT_STATUS), "the guest's handler reads the status");
        // The guest walked the used ring; then a completion is published and raised, and only
        // then does the guest's buffered ack reach the transport.
        interrupt.raise(VirtioInterrupt.USED_BUFFER);
        w(INTERRUPT_ACK, 1);
        assertEquals(2, interrupts, "each raise is an edge");
        assertEquals(1, r(INTERRUPT_STATUS), "the new edge finds the cause still set");
        w(INTERRUPT_ACK, 1);
        assertEquals(0, r(INTERRUPT_STATUS), "an ack after a read with no newer raise clears it");
        assertEquals(0, interrupt.status());
    }

    @Test
    void featuresNotOfferedOrWithoutVersion1AreRefused() {
        w(STATUS, S_ACKNOWLEDGE | S_DRIVER);
        w(DRIVER_FEATURES_SEL, 0);
        w(DRIVER_FEATURES, 1L << 5); // not offered by virtio-rng
        w(DRIVER_FEATURES_SEL, 1);
        w(DRIVER_FEATURES, 1);
        w(STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
        assertEquals(0, r(STATUS) & S_FEATURES_OK);
    }

    @Test
    void queuesOutsideRamPutTheDeviceInNeedsReset() {
        negotiateAndSetUpQueue(0xFFFF_0000L, 0x11000, 0x12000, 16); // descriptor table in the MMIO hole
        w(STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
        assertTrue(activations.isEmpty());
        assertEquals(S_NEEDS_RESET, r(STATUS) & S_NEEDS_RESET);
        assertEquals(VirtioInterrupt.CONFIG_CHANGE, r(INTERRUPT_STATUS));
        assertNotNull(t.error());
        w(STATUS, 0); // reset clears it all
        assertEquals(0, r(STATUS));
        assertNull(t.error());
        assertTrue(deactivations >= 2);
    }

    @Test
    void tooLargeOrOddQueueSizesAreRefused() {
        negotiateAndSetUpQueue(0x10000, 0x11000, 0x12000, 48);
        w(STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
        assertEquals(S_NEEDS_RESET, r(STATUS) & S_NEEDS_RESET);
    }
}
