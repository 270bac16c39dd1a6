package io.actorvm.io.buffering.virtq;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.io.buffering.virtq.TestDriver.Buf;
import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static io.actorvm.io.buffering.virtq.SplitQueueTest.AVAIL;
import static io.actorvm.io.buffering.virtq.SplitQueueTest.DESC;
import static io.actorvm.io.buffering.virtq.SplitQueueTest.USED;
import static io.actorvm.io.buffering.virtq.TestDriver.INDIRECT;
import static io.actorvm.io.buffering.virtq.TestDriver.NEXT;
import static io.actorvm.io.buffering.virtq.TestDriver.WRITE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hostile driver: every rule {@link SplitQueue} enforces, broken once, gives a one-line
 * {@link VirtQueueException} naming the problem, with guest memory and the queue's state untouched.
 */
class SplitQueueViolationTest {
    private static final long RAM = 2 * AddressMap.MiB;
    private static final long TABLE = 0x8000;

    private GuestMemory memory;
    private TestDriver d;
    private SplitQueue q;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.allocate(new AddressMap(RAM));
        d = new TestDriver(memory, 16, DESC, AVAIL, USED);
        q = new SplitQueue(memory, 16, DESC, AVAIL, USED, false, true);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    /** pop() must throw with {@code part} in the message and leave memory and state as they were. */
    private VirtQueueException assertViolation(SplitQueue queue, String part) {
        SplitQueue.State before = queue.state();
        MemorySegment snapshot = MemorySegment.ofArray(memory.read(GuestAddress.of(0), (int) RAM));
        VirtQueueException e = assertThrows(VirtQueueException.class, queue::pop);
        assertTrue(e.getMessage().contains(part), () -> "expected '" + part + "' in: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
        assertEquals(before, queue.state(), "queue state unchanged");
        assertEquals(-1, snapshot.mismatch(memory.slice(GuestAddress.of(0), RAM)), "guest memory unchanged");
        // Still broken when asked again: no half-consumed chain, no skipping past the bad entry.
        assertThrows(VirtQueueException.class, queue::pop);
        return e;
    }

    private VirtQueueException assertViolation(String part) {
        return assertViolation(q, part);
    }

    private static VirtQueueException badQueue(GuestMemory memory, int size, long desc, long avail, long used, String part) {
        VirtQueueException e = assertThrows(VirtQueueException.class, () -> new SplitQueue(memory, size, desc, avail, used, false, false));
        assertTrue(e.getMessage().contains(part), () -> "expected '" + part + "' in: " + e.getMessage());
        return e;
    }

    // --- queue configuration (the driver writes size and addresses into transport registers) ---

    @Test
    void sizeMustBeAPowerOfTwoUpTo32768() {
        for (int size : new int[] {0, 3, 24, 65536, -16}) badQueue(memory, size, DESC, AVAIL, USED, "queue size " + size);
        for (int size : new int[] {1, 2, 256}) new SplitQueue(memory, size, DESC, AVAIL, USED, false, false);
    }

    @Test
    void areasMustBeAligned() {
        badQueue(memory, 16, DESC + 8, AVAIL, USED, "descriptor table 0x1008 is not 16-byte aligned");
        badQueue(memory, 16, DESC, AVAIL + 1, USED, "available ring 0x3001 is not 2-byte aligned");
        badQueue(memory, 16, DESC, AVAIL, USED + 2, "used ring 0x4002 is not 4-byte aligned");
    }

    @Test
    void areasMustLieEntirelyInRam() {
        badQueue(memory, 16, RAM - 128, AVAIL, USED, "descriptor table 0x1fff80+0x100 is not in RAM");
        badQueue(memory, 16, DESC, RAM - 36, USED, "available ring");
        badQueue(memory, 16, DESC, AVAIL, RAM - 132, "used ring");
        badQueue(memory, 16, DESC, AVAIL, 0xFFFF_FFFF_FFFF_FFF0L, "used ring 0xfffffffffffffff0");
        badQueue(memory, 16, 3L << 30, AVAIL, USED, "not in RAM");
        // Exactly at the end of RAM is fine.
        new SplitQueue(memory, 16, RAM - 256, RAM - 300, USED, false, false);
    }

    @Test
    void areasMustNotOverlap() {
        badQueue(memory, 16, DESC, DESC + 0xF0, USED, "descriptor table 0x1000+0x100 overlaps available ring");
        badQueue(memory, 16, DESC, AVAIL, AVAIL + 0x20, "used ring 0x3020+0x86 overlaps available ring");
        badQueue(memory, 16, DESC, AVAIL, DESC, "used ring 0x1000+0x86 overlaps descriptor table");
    }

    // --- the available ring ---

    @Test
    void availIdxMayNotJumpMoreThanAQueueAhead() {
        SplitQueue big = new SplitQueue(memory, 256, DESC, AVAIL, USED, false, false);
        d.setAvailIdxRaw(300);
        assertEquals("avail idx jumped by 300 (queue size 256)", assertViolation(big, "avail idx jumped").getMessage());
        d.setAvailIdxRaw(17);
        assertViolation("avail idx jumped by 17 (queue size 16)");
        d.setAvailIdxRaw(65535); // "going backwards" by one is a jump of 65535
        assertViolation("avail idx jumped by 65535");
    }

    @Test
    void headMustBeInTheTable() {
        d.offer(16);
        assertEquals("avail ring slot 0: head 16 out of range (queue size 16)", assertViolation("head 16").getMessage());
    }

    // --- direct chains ---

    @Test
    void nextMustBeInTheTable() {
        d.desc(0, 0x10000, 8, NEXT, 40);
        d.offer(0);
        assertEquals("descriptor 0: next 40 out of range (queue size 16)", assertViolation("next 40").getMessage());
    }

    @Test
    void loopsAreCaught() {
        d.desc(0, 0x10000, 8, NEXT, 1);
        d.desc(1, 0x10000, 8, NEXT, 2);
        d.desc(2, 0x10000, 8, NEXT, 1);
        d.offer(0);
        assertViolation("chain loops (more than 16 descriptors from head 0)");
    }

    @Test
    void selfLoopIsCaught() {
        d.desc(5, 0x10000, 8, NEXT | WRITE, 5);
        d.offer(5);
        assertViolation("descriptor 5: chain loops");
    }

    @Test
    void zeroLengthBufferIsInvalid() {
        d.addChain(Buf.r(0x10000, 8), Buf.w(0x11000, 0));
        assertEquals("descriptor 1: zero-length buffer", assertViolation("zero-length").getMessage());
    }

    @Test
    void bufferOutsideRamIsInvalid() {
        d.addChain(Buf.r(RAM, 8));
        assertEquals("descriptor 0: buffer 0x200000+0x8 is not in RAM", assertViolation("not in RAM").getMessage());
    }

    @Test
    void bufferRunningOffTheEndOfRamIsInvalid() {
        d.addChain(Buf.w(RAM - 8, 9));
        assertViolation("buffer 0x1ffff8+0x9 is not in RAM");
    }

    @Test
    void bufferInTheMmioHoleIsInvalid() {
        d.addChain(Buf.r(AddressMap.LAPIC_ADDRESS, 0x1000));
        assertViolation("buffer 0xfee00000+0x1000 is not in RAM");
    }

    @Test
    void bufferWrappingTheAddressSpaceIsInvalid() {
        d.addChain(Buf.r(0xFFFF_FFFF_FFFF_FF00L, 0x200));
        assertViolation("buffer 0xffffffffffffff00+0x200 wraps around the address space");
    }

    @Test
    void bufferAtAHugeAddressIsInvalid() {
        d.addChain(Buf.w(0x8000_0000_0000_0000L, 0x10));
        assertViolation("buffer 0x8000000000000000+0x10 is not in RAM");
    }

    @Test
    void maximalLengthIsInvalidInSmallRam() {
        d.addChain(Buf.w(0x10000, 0xFFFF_FFFFL));
        assertViolation("buffer 0x10000+0xffffffff is not in RAM");
    }

    @Test
    void bufferStraddlingTwoRegionsIsInvalidEvenWhenBothAreRam() {
        // Two RAM regions back to back in guest-physical space but separate host mappings: a buffer
        // across the seam is all RAM, yet no single host segment holds it.
        GuestMemory split = GuestMemory.of(new AddressMap(RAM), List.of(
                new GuestMemory.Region(GuestAddress.of(0), memory.slice(GuestAddress.of(0), 0x20000)), new GuestMemory.Region(GuestAddress.of(0x20000), memory.slice(GuestAddress.of(0x40000), 0x20000))));
        SplitQueue sq = new SplitQueue(split, 16, DESC, AVAIL, USED, false, false);
        d.addChain(Buf.w(0x1FFF0, 0x20));
        assertViolation(sq, "buffer 0x1fff0+0x20 is not in RAM");
    }

    @Test
    void readableAfterWritableIsInvalid() {
        d.addChain(Buf.r(0x10000, 8), Buf.w(0x11000, 8), Buf.r(0x12000, 8));
        assertEquals("descriptor 2: device-readable buffer after a device-writable one",
                assertViolation("after a device-writable").getMessage());
    }

    @Test
    void chainLongerThanTheCapIsInvalid() {
        SplitQueue capped = new SplitQueue(memory, 16, DESC, AVAIL, USED, false, true, 4096);
        d.addChain(Buf.r(0x10000, 2000), Buf.w(0x11000, 2000), Buf.w(0x12000, 2000));
        assertViolation(capped, "descriptor 2: chain from head 0 exceeds 4096 bytes");
    }

    @Test
    void defaultCapStopsOverlappingBuffersFromAddingUpToGigabytes() {
        // 300 descriptors all naming the same 1 MiB: each is in RAM, together they claim 300 MiB.
        TestDriver big = new TestDriver(memory, 512, DESC, AVAIL, USED + 0x1000);
        SplitQueue bq = new SplitQueue(memory, 512, DESC, AVAIL, USED + 0x1000, false, false);
        Buf[] bufs = new Buf[300];
        for (int i = 0; i < bufs.length; i++) bufs[i] = Buf.w(0x100000, 1 << 20);
        big.addChain(bufs);
        assertViolation(bq, "descriptor 256: chain from head 0 exceeds 268435456 bytes");
    }

    // --- indirect descriptors ---

    @Test
    void indirectNeedsTheFeature() {
        SplitQueue plain = new SplitQueue(memory, 16, DESC, AVAIL, USED, false, false);
        d.addIndirectChain(TABLE, Buf.r(0x10000, 8));
        assertEquals("descriptor 0: INDIRECT but VIRTIO_F_INDIRECT_DESC not negotiated",
                assertViolation(plain, "INDIRECT").getMessage());
    }

    @Test
    void indirectWithNextIsInvalid() {
        d.writeDesc(TABLE, 0, 0x10000, 8, 0, 0);
        d.desc(0, TABLE, 16, INDIRECT | NEXT, 1);
        d.desc(1, 0x11000, 8, 0, 0);
        d.offer(0);
        assertViolation("descriptor 0: INDIRECT together with NEXT");
    }

    @Test
    void indirectTableLengthMustBeANonZeroMultipleOf16() {
        for (long len : new long[] {0, 8, 24, 17}) {
            d.writeDesc(TABLE, 0, 0x10000, 8, 0, 0);
            d.desc(0, TABLE, len, INDIRECT, 0);
            d.offer(0);
            assertViolation("descriptor 0: indirect table length " + len + " is not a non-zero multiple of 16");
            tearDown(); // fresh memory and queue: the previous queue is broken for good
            setUp();
        }
    }

    @Test
    void indirectTableMayNotExceed32768Entries() {
        d.desc(0, 0, 16L * 32769, INDIRECT, 0);
        d.offer(0);
        assertViolation("indirect table length 524304");
    }

    @Test
    void indirectTableMustBeInRam() {
        d.desc(0, RAM - 16, 32, INDIRECT, 0);
        d.offer(0);
        assertViolation("descriptor 0: indirect table 0x1ffff0+0x20 is not in RAM");
    }

    @Test
    void indirectTableWrappingTheAddressSpaceIsInvalid() {
        d.desc(0, -16, 32, INDIRECT, 0);
        d.offer(0);
        assertViolation("indirect table 0xfffffffffffffff0+0x20 wraps");
    }

    @Test
    void nestedIndirectIsInvalid() {
        d.writeDesc(TABLE, 0, 0x10000, 8, NEXT, 1);
        d.writeDesc(TABLE, 1, TABLE + 0x100, 16, INDIRECT, 0);
        d.desc(0, TABLE, 32, INDIRECT, 0);
        d.offer(0);
        assertEquals("indirect descriptor 1 (table of descriptor 0): nested INDIRECT", assertViolation("nested").getMessage());
    }

    @Test
    void indirectNextMustBeInTheTable() {
        d.writeDesc(TABLE, 0, 0x10000, 8, NEXT, 2);
        d.writeDesc(TABLE, 1, 0x10000, 8, 0, 0);
        d.desc(0, TABLE, 32, INDIRECT, 0);
        d.offer(0);
        assertViolation("indirect descriptor 0 (table of descriptor 0): next 2 out of range (table of 2)");
    }

    @Test
    void indirectLoopsAreCaught() {
        d.writeDesc(TABLE, 0, 0x10000, 8, NEXT, 1);
        d.writeDesc(TABLE, 1, 0x10000, 8, NEXT, 0);
        d.desc(0, TABLE, 32, INDIRECT, 0);
        d.offer(0);
        assertViolation("(table of descriptor 0): chain loops (more than 2 descriptors)");
    }

    @Test
    void indirectBuffersAreCheckedLikeDirectOnes() {
        d.writeDesc(TABLE, 0, 0x10000, 8, NEXT, 1);
        d.writeDesc(TABLE, 1, RAM - 4, 8, WRITE, 0);
        d.desc(0, TABLE, 32, INDIRECT, 0);
        d.offer(0);
        assertViolation("indirect descriptor 1: buffer 0x1ffffc+0x8 is not in RAM");
    }

    @Test
    void indirectZeroLengthBufferIsInvalid() {
        d.addIndirectChain(TABLE, Buf.r(0x10000, 8), Buf.w(0x11000, 0));
        assertViolation("indirect descriptor 1: zero-length buffer");
    }

    @Test
    void readableInsideIndirectAfterWritablePrefixIsInvalid() {
        d.writeDesc(TABLE, 0, 0x10000, 8, 0, 0);
        d.desc(0, 0x11000, 8, WRITE | NEXT, 1);
        d.desc(1, TABLE, 16, INDIRECT, 0);
        d.offer(0);
        assertViolation("indirect descriptor 0: device-readable buffer after a device-writable one");
    }

    @Test
    void indirectChainsCountTowardsTheByteCap() {
        SplitQueue capped = new SplitQueue(memory, 16, DESC, AVAIL, USED, false, true, 100);
        d.desc(0, 0x11000, 60, NEXT, 1);
        d.writeDesc(TABLE, 0, 0x10000, 41, 0, 0);
        d.desc(1, TABLE, 16, INDIRECT, 0);
        d.offer(0);
        assertViolation(capped, "indirect descriptor 0: chain from head 0 exceeds 100 bytes");
    }

    @Test
    void aGoodChainAfterABadOneIsNotReachedWithoutAReset() {
        d.addChain(Buf.r(0x10000, 0));
        d.addChain(Buf.r(0x10000, 8));
        assertViolation("zero-length");
        // The device resets the queue (a new SplitQueue once the driver sets it up again).
    }
}
