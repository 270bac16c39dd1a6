package io.actorvm.vmm.actors.virtio;

import io.actorvm.devices.virtio.VirtioInterrupt;
import io.actorvm.io.buffering.virtq.SplitQueue;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class RingActorTest {
    static final ActorTestKit kit = ActorTestKit.create();

    @AfterAll
    static void tearDown() {
        kit.shutdownTestKit();
    }

    /**
     * A snapshot reads guest memory and the ring's indices while the ring is quiesced: a frame the
     * host delivers then must wait, not land in a guest buffer, and land once the ring takes work again.
     */
    @Test
    void aQuiescedReceiveRingHoldsHostDataUntilItIsReleased() {
        try (GuestMemory memory = GuestMemory.allocate(new AddressMap(2L << 20))) {
            // The driver's side: one device-writable 256-byte buffer at 0x4000 in a ring of 8.
            ByteBuffer desc = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(0x4000).putInt(256).putShort((short) 2);
            memory.write(GuestAddress.of(0x1000), desc.array());
            memory.write(GuestAddress.of(0x2000), ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN)
                    .putShort((short) 0).putShort((short) 1).putShort((short) 0).array());
            SplitQueue queue = new SplitQueue(memory, new SplitQueue.State(8, 0x1000, 0x2000, 0x3000, false, false, 0, 0, 0));
            TestProbe<RingActor.Failed> failures = kit.createTestProbe();
            ActorRef<RingActor.Command> ring = kit.spawn(RingActor.inbound(0, queue,
                    (data, chain, mem) -> chain.write(mem, 0, data), memory, new VirtioInterrupt(() -> {}), failures.getRef(),
                    io.actorvm.vmm.actors.device.GuestLogLimit.perDevice(), io.actorvm.devices.record.DeviceTape.NONE));

            TestProbe<Done> quiet = kit.createTestProbe();
            ring.tell(new RingActor.Quiesce(quiet.getRef()));
            quiet.expectMessage(Done.getInstance());
            byte[] frame = "a frame from the switch".getBytes();
            ring.tell(new RingActor.Deliver(frame));
            TestProbe<SplitQueue.State> state = kit.createTestProbe();
            ring.tell(new RingActor.GetState(state.getRef()));
            assertEquals(0, state.receiveMessage().usedIdx(), "nothing used while quiesced");
            assertArrayEquals(new byte[frame.length], memory.read(GuestAddress.of(0x4000), frame.length), "guest memory untouched");

            ring.tell(new RingActor.Unquiesce());
            ring.tell(new RingActor.GetState(state.getRef()));
            assertEquals(1, state.receiveMessage().usedIdx());
            assertArrayEquals(frame, memory.read(GuestAddress.of(0x4000), frame.length));
            failures.expectNoMessage();
        }
    }
}
