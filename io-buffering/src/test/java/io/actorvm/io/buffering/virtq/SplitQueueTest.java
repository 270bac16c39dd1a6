package io.actorvm.io.buffering.virtq;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.io.buffering.virtq.DescriptorChain.Segment;
import io.actorvm.io.buffering.virtq.TestDriver.Buf;
import io.actorvm.io.buffering.virtq.TestDriver.Used;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The well-behaved driver: chains come out as offered, used ring and notifications as the spec says. */
class SplitQueueTest {
    static final long DESC = 0x1000, AVAIL = 0x3000, USED = 0x4000;

    private GuestMemory memory;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.allocate(new AddressMap(2 * AddressMap.MiB));
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    private SplitQueue queue(int size, boolean eventIdx) {
        return new SplitQueue(memory, size, DESC, AVAIL, USED, eventIdx, true);
    }

    private TestDriver driver(int size) {
        return new TestDriver(memory, size, DESC, AVAIL, USED);
    }

    @Test
    void emptyQueuePopsNothing() {
        driver(16);
        SplitQueue q = queue(16, false);
        assertEquals(Optional.empty(), q.pop());
        assertEquals(0, q.state().lastAvailIdx());
    }

    @Test
    void directChainComesOutInOrderReadableThenWritable() {
        TestDriver d = driver(16);
        SplitQueue q = queue(16, false);
        int head = d.addChain(Buf.r(0x10000, 100), Buf.r(0x11000, 50), Buf.w(0x12000, 200));

        DescriptorChain chain = q.pop().orElseThrow();
        assertEquals(head, chain.head());
        assertEquals(List.of(new Segment(GuestAddress.of(0x10000), 100, false), new Segment(GuestAddress.of(0x11000), 50, false), new Segment(GuestAddress.of(0x12000), 200, true)),
                chain.segments());
        assertEquals(150, chain.readableLength());
        assertEquals(200, chain.writableLength());
        assertEquals(Optional.empty(), q.pop());
    }

    @Test
    void chainsFollowNextInWhateverOrderTheTableHasThem() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, false);
        d.desc(5, 0x10000, 1, TestDriver.NEXT, 2);
        d.desc(2, 0x11000, 2, TestDriver.NEXT, 7);
        d.desc(7, 0x12000, 3, TestDriver.WRITE, 0);
        d.offer(5);
        assertEquals(List.of(new Segment(GuestAddress.of(0x10000), 1, false), new Segment(GuestAddress.of(0x11000), 2, false), new Segment(GuestAddress.of(0x12000), 3, true)),
                q.pop().orElseThrow().segments());
    }

    @Test
    void chainAsLongAsTheQueueIsAccepted() {
        TestDriver d = driver(4);
        SplitQueue q = queue(4, false);
        d.addChain(Buf.r(0x10000, 1), Buf.r(0x10001, 1), Buf.w(0x10002, 1), Buf.w(0x10003, 1));
        assertEquals(4, q.pop().orElseThrow().segments().size());
    }

    @Test
    void writeOnlyAndReadOnlyChainsAreBothFine() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, false);
        d.addChain(Buf.w(0x10000, 64));
        d.addChain(Buf.r(0x20000, 64));
        assertEquals(64, q.pop().orElseThrow().writableLength());
        assertEquals(64, q.pop().orElseThrow().readableLength());
    }

    @Test
    void indirectChainIsFlattenedAfterTheDirectPrefix() {
        TestDriver d = driver(16);
        SplitQueue q = queue(16, false);
        long table = 0x8000;
        // Table entries chained 0 -> 2 -> 1, as next allows; the prefix is a direct readable descriptor.
        d.writeDesc(table, 0, 0x10000, 16, TestDriver.NEXT, 2);
        d.writeDesc(table, 2, 0x11000, 32, TestDriver.NEXT | TestDriver.WRITE, 1);
        d.writeDesc(table, 1, 0x12000, 64, TestDriver.WRITE, 0);
        d.desc(3, 0x13000, 8, TestDriver.NEXT, 9);
        // WRITE on the INDIRECT descriptor itself must be ignored (spec 2.7.5.3.2).
        d.desc(9, table, 48, TestDriver.INDIRECT | TestDriver.WRITE, 0);
        d.offer(3);

        DescriptorChain chain = q.pop().orElseThrow();
        assertEquals(3, chain.head());
        assertEquals(List.of(new Segment(GuestAddress.of(0x13000), 8, false), new Segment(GuestAddress.of(0x10000), 16, false),
                new Segment(GuestAddress.of(0x11000), 32, true), new Segment(GuestAddress.of(0x12000), 64, true)), chain.segments());
    }

    @Test
    void indirectTableMayBeUnalignedAndLongerThanTheQueue() {
        TestDriver d = driver(2);
        SplitQueue q = queue(2, false);
        Buf[] bufs = new Buf[10];
        for (int i = 0; i < bufs.length; i++) bufs[i] = i < 4 ? Buf.r(0x10000 + i * 0x100, 0x100) : Buf.w(0x20000 + i * 0x100, 0x80);
        int head = d.addIndirectChain(0x8003, bufs);
        DescriptorChain chain = q.pop().orElseThrow();
        assertEquals(head, chain.head());
        assertEquals(10, chain.segments().size());
        assertEquals(0x400, chain.readableLength());
        assertEquals(6 * 0x80, chain.writableLength());
    }

    @Test
    void severalChainsComeOutFifo() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, false);
        List<Integer> heads = new ArrayList<>();
        for (int i = 0; i < 5; i++) heads.add(d.addChain(Buf.r(0x10000 + i, 1)));
        for (int head : heads) assertEquals(head, q.pop().orElseThrow().head());
        assertEquals(Optional.empty(), q.pop());
    }

    @Test
    void addUsedWritesTheElementThenPublishesIdx() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, false);
        int a = d.addChain(Buf.w(0x10000, 100));
        int b = d.addChain(Buf.w(0x11000, 100));
        q.pop();
        q.pop();
        q.addUsed(b, 7);
        q.addUsed(a, 100);
        assertEquals(2, d.usedIdx());
        assertEquals(List.of(new Used(b, 7), new Used(a, 100)), d.takeUsed());
    }

    @Test
    void usedIdxIsOursNotWhatTheGuestScribbled() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, false);
        d.addChain(Buf.w(0x10000, 1));
        d.addChain(Buf.w(0x10000, 1));
        q.pop();
        q.addUsed(0, 1);
        memory.slice(GuestAddress.of(USED + 2), 2).fill((byte) 0x55); // the guest overwrites used.idx
        q.pop();
        q.addUsed(1, 1);
        assertEquals(2, d.usedIdx());
        assertEquals(new Used(1, 1), d.usedAt(1));
    }

    @Test
    void addUsedRejectsDeviceBugs() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, false);
        assertThrows(IllegalStateException.class, () -> q.addUsed(0, 0));
        d.addChain(Buf.w(0x10000, 1));
        q.pop();
        assertThrows(IllegalArgumentException.class, () -> q.addUsed(8, 0));
        assertThrows(IllegalArgumentException.class, () -> q.addUsed(0, -1));
        q.addUsed(0, 1);
        assertThrows(IllegalStateException.class, () -> q.addUsed(0, 1));
    }

    @Test
    void indicesWrapAt65536() {
        int size = 4;
        TestDriver d = driver(size).startAt(65533);
        SplitQueue q = new SplitQueue(memory, new SplitQueue.State(size, DESC, AVAIL, USED, true, true, 65533, 65533, 65533));
        d.setUsedEvent(65535);
        for (int round = 0; round < 3; round++) {
            // Three chains per round: the 16-bit idx wraps in round 0, the 4-slot rings every round.
            List<Integer> heads = new ArrayList<>();
            for (int i = 0; i < 3; i++) heads.add(d.addChain(Buf.w(0x11000 + 0x100L * round + i, 1 + i)));
            List<Used> expected = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                DescriptorChain c = q.pop().orElseThrow();
                assertEquals(heads.get(i), c.head());
                assertEquals(List.of(new Segment(GuestAddress.of(0x11000 + 0x100L * round + i), 1 + i, true)), c.segments());
                q.addUsed(c.head(), i + 1);
                expected.add(new Used(c.head(), i + 1));
            }
            assertEquals(Optional.empty(), q.pop());
            // used.idx goes 65533 -> 0 in round 0, writing entry 65535 == used_event; later rounds do not.
            assertEquals(round == 0, q.needsInterrupt(), "round " + round);
            assertEquals(expected, d.takeUsed());
        }
        assertEquals(6, d.usedIdx());
        assertEquals(new SplitQueue.State(size, DESC, AVAIL, USED, true, true, 6, 6, 6), q.state());
    }

    @Test
    void availIdxExactlyAQueueAheadIsAccepted() {
        int size = 4;
        TestDriver d = driver(size).startAt(65534);
        SplitQueue q = new SplitQueue(memory, new SplitQueue.State(size, DESC, AVAIL, USED, false, false, 65534, 65534, 65534));
        for (int i = 0; i < size; i++) {
            d.desc(i, 0x10000, 1, 0, 0);
            d.place(i);
        }
        d.publish();
        for (int i = 0; i < size; i++) assertEquals(i, q.pop().orElseThrow().head());
        assertEquals(Optional.empty(), q.pop());
    }

    @Test
    void needsInterruptWithoutEventIdxFollowsNoInterrupt() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, false);
        assertFalse(q.needsInterrupt(), "nothing used yet");
        d.addChain(Buf.w(0x10000, 1));
        d.addChain(Buf.w(0x10000, 1));
        d.addChain(Buf.w(0x10000, 1));
        q.pop();
        q.addUsed(0, 1);
        assertTrue(q.needsInterrupt());
        assertFalse(q.needsInterrupt(), "nothing new since the last decision");
        d.setAvailFlags(SplitQueue.VIRTQ_AVAIL_F_NO_INTERRUPT);
        q.pop();
        q.addUsed(1, 1);
        assertFalse(q.needsInterrupt());
        d.setAvailFlags(0);
        q.pop();
        q.addUsed(2, 1);
        assertTrue(q.needsInterrupt());
    }

    @Test
    void needsInterruptWithEventIdxFiresWhenUsedIdxPassesUsedEvent() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, true);
        // With EVENT_IDX the NO_INTERRUPT flag must be ignored.
        d.setAvailFlags(SplitQueue.VIRTQ_AVAIL_F_NO_INTERRUPT);
        d.setUsedEvent(0);
        for (int i = 0; i < 8; i++) d.addChain(Buf.w(0x10000, 1));

        q.pop();
        q.addUsed(0, 1); // used idx 0 -> 1: the entry at index 0 == used_event was written
        assertTrue(q.needsInterrupt());
        q.pop();
        q.addUsed(1, 1); // 1 -> 2: used_event 0 already passed
        assertFalse(q.needsInterrupt());

        d.setUsedEvent(4);
        for (int i = 2; i < 4; i++) {
            q.pop();
            q.addUsed(i, 1);
        }
        assertFalse(q.needsInterrupt(), "2 -> 4 does not write entry 4");
        q.pop();
        q.addUsed(4, 1);
        q.pop();
        q.addUsed(5, 1);
        assertTrue(q.needsInterrupt(), "4 -> 6 in one batch passes used_event 4");
    }

    @Test
    void needEventIsTheSpecsU16Comparison() {
        assertTrue(SplitQueue.needEvent(0, 1, 0));
        assertFalse(SplitQueue.needEvent(1, 1, 0));
        assertTrue(SplitQueue.needEvent(5, 10, 3));
        assertFalse(SplitQueue.needEvent(10, 10, 3));
        assertFalse(SplitQueue.needEvent(2, 10, 3));
        assertTrue(SplitQueue.needEvent(65535, 1, 65534), "wraps");
        assertTrue(SplitQueue.needEvent(0, 2, 65535), "wraps");
        assertFalse(SplitQueue.needEvent(1, 1, 1), "nothing new");
    }

    @Test
    void setNotificationWithoutEventIdxTogglesNoNotify() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, false);
        memory.slice(GuestAddress.of(USED + 4 + 8 * 8), 2).fill((byte) 0x77);
        q.setNotification(false);
        assertEquals(SplitQueue.VIRTQ_USED_F_NO_NOTIFY, d.usedFlags());
        q.setNotification(true);
        assertEquals(0, d.usedFlags());
        assertEquals(0x7777, d.availEvent(), "avail_event is not ours to touch without EVENT_IDX");
    }

    @Test
    void setNotificationWithEventIdxWritesAvailEvent() {
        TestDriver d = driver(8);
        SplitQueue q = queue(8, true);
        d.addChain(Buf.r(0x10000, 1));
        d.addChain(Buf.r(0x10000, 1));
        q.pop();
        q.pop();
        q.setNotification(true);
        assertEquals(2, d.availEvent());
        assertEquals(0, d.usedFlags(), "flags stay 0 with EVENT_IDX");
        d.addChain(Buf.r(0x10000, 1));
        q.setNotification(false);
        assertEquals(2, d.availEvent(), "disabling writes nothing");
        assertEquals(0, d.usedFlags());
    }

    @Test
    void enableNotificationAndCheckReportsBuffersThatRacedIn() {
        for (boolean eventIdx : new boolean[] {false, true}) {
            TestDriver d = driver(8);
            SplitQueue q = queue(8, eventIdx);
            q.setNotification(false);
            d.addChain(Buf.r(0x10000, 1));
            q.pop();
            assertFalse(q.enableNotificationAndCheck(), "drained");
            q.setNotification(false);
            d.addChain(Buf.r(0x10000, 1)); // arrives while notifications are off
            assertTrue(q.enableNotificationAndCheck());
            if (eventIdx) assertEquals(1, d.availEvent());
            else assertEquals(0, d.usedFlags());
            q.pop();
            assertFalse(q.enableNotificationAndCheck());
            if (eventIdx) assertEquals(2, d.availEvent());
        }
    }

    @Test
    void stateRoundTripContinuesWhereItStopped() {
        TestDriver d = driver(8).startAt(100);
        SplitQueue q = new SplitQueue(memory, new SplitQueue.State(8, DESC, AVAIL, USED, true, false, 100, 100, 100));
        for (int i = 0; i < 3; i++) d.addChain(Buf.r(0x10000 + i, 1), Buf.w(0x20000, 4));
        q.pop();
        q.pop();
        q.addUsed(0, 4);
        q.needsInterrupt();
        q.addUsed(2, 4);
        SplitQueue.State s = q.state();
        assertEquals(new SplitQueue.State(8, DESC, AVAIL, USED, true, false, 102, 102, 101), s);

        byte[] before = memory.read(GuestAddress.of(0), 0x10000);
        SplitQueue restored = new SplitQueue(memory, s);
        assertArrayEquals(before, memory.read(GuestAddress.of(0), 0x10000), "restoring touches no guest memory");
        assertEquals(s, restored.state());
        assertEquals(new Segment(GuestAddress.of(0x10002), 1, false), restored.pop().orElseThrow().segments().getFirst());
        restored.addUsed(4, 4);
        assertEquals(List.of(new Used(0, 4), new Used(2, 4), new Used(4, 4)), d.takeUsed());
        d.setUsedEvent(101);
        assertTrue(restored.needsInterrupt(), "old idx 101 came through the snapshot");
    }

    @Test
    void restoreRejectsImpossibleState() {
        driver(8);
        assertThrows(IllegalArgumentException.class,
                () -> new SplitQueue(memory, new SplitQueue.State(8, DESC, AVAIL, USED, false, false, 65536, 0, 0)));
        assertThrows(IllegalArgumentException.class,
                () -> new SplitQueue(memory, new SplitQueue.State(8, DESC, AVAIL, USED, false, false, 0, -1, 0)));
        assertThrows(IllegalArgumentException.class,
                () -> new SplitQueue(memory, new SplitQueue.State(8, DESC, AVAIL, USED, false, false, 9, 0, 0)),
                "9 chains in flight in an 8-entry queue");
        assertThrows(IllegalArgumentException.class,
                () -> new SplitQueue(memory, new SplitQueue.State(8, DESC, AVAIL, USED, false, false, 0, 0, 0), 0));
    }

    @Test
    void heapBackedMemoryIsRefusedUpFront() {
        // Byte arrays only guarantee 1-byte alignment: the ordered 16-bit idx accesses cannot work.
        GuestMemory heap = GuestMemory.of(new AddressMap(2 * AddressMap.MiB),
                List.of(new GuestMemory.Region(GuestAddress.of(0), java.lang.foreign.MemorySegment.ofArray(new byte[0x10000]))));
        assertThrows(IllegalArgumentException.class, () -> new SplitQueue(heap, 16, DESC, AVAIL, USED, false, false));
    }

    @Test
    void largestQueueFits() {
        long desc = 0x100000, avail = 0x80000, used = 0x20000;
        TestDriver d = new TestDriver(memory, 32768, desc, avail, used);
        SplitQueue q = new SplitQueue(memory, 32768, desc, avail, used, true, true);
        d.desc(32767, 0x1000, 16, 0, 0);
        d.offer(32767);
        assertEquals(32767, q.pop().orElseThrow().head());
        q.addUsed(32767, 0);
        assertEquals(new Used(32767, 0), d.takeUsed().getFirst());
    }
}
