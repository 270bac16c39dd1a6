package io.actorvm.io.buffering.virtq;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest driver's side of a split virtqueue, written independently of {@link SplitQueue} from
 * the spec's layouts: fills descriptors, offers chain heads in the available ring, reads the used
 * ring. It does whatever it is told, so tests can also make it misbehave.
 */
final class TestDriver {
    static final int NEXT = 1, WRITE = 2, INDIRECT = 4;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle IDX = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    /** A buffer the driver offers: device-readable unless {@code writable}. */
    record Buf(long address, long length, boolean writable) {
        static Buf r(long address, long length) {
            return new Buf(address, length, false);
        }

        static Buf w(long address, long length) {
            return new Buf(address, length, true);
        }
    }

    /** One used ring element as the driver reads it. */
    record Used(int id, int len) {}

    final GuestMemory memory;
    final int size;
    final long desc, avail, used;
    /** The driver's shadow of avail.idx: where the next head goes. */
    int availIdx;
    private int lastUsedSeen;
    private int nextFree;

    TestDriver(GuestMemory memory, int size, long desc, long avail, long used) {
        this.memory = memory;
        this.size = size;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
        memory.slice(GuestAddress.of(desc), 16L * size).fill((byte) 0);
        memory.slice(GuestAddress.of(avail), 6 + 2L * size).fill((byte) 0);
        memory.slice(GuestAddress.of(used), 6 + 8L * size).fill((byte) 0);
    }

    /** Both rings' idx start at {@code idx}, as after {@code idx} chains went round (for wrap-around tests). */
    TestDriver startAt(int idx) {
        availIdx = idx & 0xFFFF;
        lastUsedSeen = idx & 0xFFFF;
        seg(avail, 4).set(U16, 2, (short) idx);
        seg(used, 4).set(U16, 2, (short) idx);
        return this;
    }

    MemorySegment seg(long address, long length) {
        return memory.slice(GuestAddress.of(address), length);
    }

    void writeDesc(long table, int index, long address, long length, int flags, int next) {
        MemorySegment d = seg(table + 16L * index, 16);
        d.set(U64, 0, address);
        d.set(U32, 8, (int) length);
        d.set(U16, 12, (short) flags);
        d.set(U16, 14, (short) next);
    }

    void desc(int index, long address, long length, int flags, int next) {
        writeDesc(desc, index, address, length, flags, next);
    }

    /** Puts {@code head} in the next avail slot without publishing it. */
    void place(int head) {
        seg(avail + 4 + 2L * (availIdx % size), 2).set(U16, 0, (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
    }

    /** Publishes every placed head: the release store a real driver's barrier + idx update amounts to. */
    void publish() {
        IDX.setRelease(seg(avail, 4), 2L, (short) availIdx);
    }

    /**
     * Publishes the placed heads and says whether the device asked to be notified, the way a
     * driver must: idx store, full barrier, then read the suppression fields (spec 2.7.13.4).
     */
    boolean publishAndCheckNotify(boolean eventIdx) {
        int old = Short.toUnsignedInt(seg(avail, 4).get(U16, 2));
        publish();
        VarHandle.fullFence();
        if (eventIdx) {
            int event = Short.toUnsignedInt((short) IDX.getAcquire(seg(used + 4 + 8L * size, 2), 0L));
            return ((availIdx - event - 1) & 0xFFFF) < ((availIdx - old) & 0xFFFF);
        }
        return (Short.toUnsignedInt((short) IDX.getAcquire(seg(used, 2), 0L)) & 1) == 0;
    }

    void offer(int head) {
        place(head);
        publish();
    }

    /** Writes avail.idx directly (a misbehaving driver), leaving the shadow alone. */
    void setAvailIdxRaw(int idx) {
        seg(avail, 4).set(U16, 2, (short) idx);
    }

    void setAvailFlags(int flags) {
        seg(avail, 2).set(U16, 0, (short) flags);
    }

    void setUsedEvent(int event) {
        seg(avail + 4 + 2L * size, 2).set(U16, 0, (short) event);
    }

    int usedIdx() {
        return Short.toUnsignedInt((short) IDX.getAcquire(seg(used, 4), 2L));
    }

    int usedFlags() {
        return Short.toUnsignedInt(seg(used, 2).get(U16, 0));
    }

    int availEvent() {
        return Short.toUnsignedInt(seg(used + 4 + 8L * size, 2).get(U16, 0));
    }

    Used usedAt(int idx) {
        MemorySegment e = seg(used + 4 + 8L * (idx % size), 8);
        return new Used(e.get(U32, 0), e.get(U32, 4));
    }

    /** Used elements published since the last call, in order. */
    List<Used> takeUsed() {
        int end = usedIdx();
        List<Used> out = new ArrayList<>();
        while (lastUsedSeen != end) {
            out.add(usedAt(lastUsedSeen));
            lastUsedSeen = (lastUsedSeen + 1) & 0xFFFF;
        }
        return out;
    }

    /** Fills free descriptors (round-robin) with {@code bufs} chained in order, offers the head, returns it. */
    int addChain(Buf... bufs) {
        int head = nextFree;
        for (int i = 0; i < bufs.length; i++) {
            int index = (nextFree + i) % size;
            boolean last = i == bufs.length - 1;
            desc(index, bufs[i].address(), bufs[i].length(), (bufs[i].writable() ? WRITE : 0) | (last ? 0 : NEXT),
                    last ? 0 : (index + 1) % size);
        }
        nextFree = (nextFree + bufs.length) % size;
        offer(head);
        return head;
    }

    /** One INDIRECT descriptor whose table (at {@code table}) holds {@code bufs} chained 0, 1, 2, ... */
    int addIndirectChain(long table, Buf... bufs) {
        for (int i = 0; i < bufs.length; i++) {
            boolean last = i == bufs.length - 1;
            writeDesc(table, i, bufs[i].address(), bufs[i].length(), (bufs[i].writable() ? WRITE : 0) | (last ? 0 : NEXT),
                    last ? 0 : i + 1);
        }
        int head = nextFree;
        desc(head, table, 16L * bufs.length, INDIRECT, 0);
        nextFree = (nextFree + 1) % size;
        offer(head);
        return head;
    }
}
