package io.actorvm.io.buffering.virtq;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The device side of one split virtqueue (virtio 1.2 §2.7) over guest memory:
 * <pre>
 * descriptor table  16 * size         struct virtq_desc desc[size]
 * available ring     6 + 2 * size     le16 flags; le16 idx; le16 ring[size]; le16 used_event
 * used ring          6 + 8 * size     le16 flags; le16 idx; {le32 id; le32 len} ring[size]; le16 avail_event
 * </pre>
 * The driver owns the descriptor table and the available ring, we own the used ring. Everything
 * read from the driver's parts is hostile input (DESIGN principle 4): {@link #pop()} validates a
 * whole chain before handing it out and throws {@link VirtQueueException} for any violation, with
 * guest memory and our indices untouched, so the device can go to NEEDS_RESET cleanly.
 *
 * <p>Single-threaded: one ring actor owns a queue. The guest driver runs concurrently on vCPUs,
 * which is what the explicit acquire/release/fence points below are for.
 *
 * <p>Notification pattern for the ring actor, per the spec's "re-check after re-enabling" note:
 * on a guest notify, {@code setNotification(false)}, pop and complete until empty, then
 * {@link #enableNotificationAndCheck()}; if that returns true, go round again. With EVENT_IDX the
 * driver only notifies when it passes the {@code avail_event} we last wrote, so skipping the final
 * enable would leave the queue silent.
 */
public final class SplitQueue {
    /** Largest queue size the spec allows (the largest power of two whose idx still tells full from empty). */
    public static final int MAX_SIZE = 32768;
    /** Default cap on the bytes one chain may describe; the spec's own limit (4 GiB) is no use against a hostile guest. */
    public static final long DEFAULT_MAX_CHAIN_BYTES = 256L << 20;
    /** An indirect table holds at most as many descriptors as the largest queue. */
    public static final long MAX_INDIRECT_TABLE_BYTES = (long) Descriptor.SIZE * MAX_SIZE;
    public static final int VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
    public static final int VIRTQ_USED_F_NO_NOTIFY = 1;

    /**
     * Everything needed to rebuild this queue over the same guest memory, for snapshots. The byte
     * cap is the device's configuration, not queue state, so it is passed again on restore.
     */
    public record State(int size, long descTable, long availRing, long usedRing, boolean eventIdx,
                        boolean indirectDescriptors, int lastAvailIdx, int usedIdx, int lastSignalledUsed) {}

    // Guest memory is little-endian; on our x86 hosts that is the native order, so the VarHandles
    // below compile to plain loads/stores plus the ordering the access mode asks for.
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /**
     * Aligned 16-bit access with memory-ordering modes, coordinates (segment, offset). Only used at
     * offsets the constructor's alignment checks make 2-aligned (avail.idx, used.idx, used.flags,
     * avail_event); mmap'd guest RAM is page-aligned, so guest alignment is host alignment.
     */
    private static final VarHandle IDX = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final long FLAGS = 0, IDX_OFFSET = 2, RING = 4, USED_ELEM = 8;

    private final GuestMemory memory;
    private final int size;
    private final long descTable, availRing, usedRing;
    private final boolean eventIdx, indirectDescriptors;
    private final long maxChainBytes;
    private final MemorySegment desc, avail, used;

    /** Next avail ring entry we will consume (free-running, 16 bits). */
    private int lastAvailIdx;
    /** Next used ring entry we will fill; ours alone, never read back from the guest. */
    private int usedIdx;
    /** {@link #usedIdx} at the last {@link #needsInterrupt()} decision: the "old" of vring_need_event. */
    private int lastSignalledUsed;

    /** A fresh queue (indices 0) as the driver has just configured it, with the default byte cap. */
    public SplitQueue(GuestMemory memory, int size, long descTable, long availRing, long usedRing,
                      boolean eventIdx, boolean indirectDescriptors) {
        this(memory, size, descTable, availRing, usedRing, eventIdx, indirectDescriptors, DEFAULT_MAX_CHAIN_BYTES);
    }

    /**
     * A fresh queue. Size and addresses come from the guest (the transport's queue registers), so
     * bad ones are a {@link VirtQueueException}; {@code maxChainBytes} is ours (1 to 4 GiB).
     */
    public SplitQueue(GuestMemory memory, int size, long descTable, long availRing, long usedRing,
                      boolean eventIdx, boolean indirectDescriptors, long maxChainBytes) {
        this(memory, new State(size, descTable, availRing, usedRing, eventIdx, indirectDescriptors, 0, 0, 0), maxChainBytes);
    }

    /** A queue restored from {@link #state()}, with the default byte cap. */
    public SplitQueue(GuestMemory memory, State state) {
        this(memory, state, DEFAULT_MAX_CHAIN_BYTES);
    }

    /** A queue restored from {@link #state()}; reads and writes no guest memory. */
    public SplitQueue(GuestMemory memory, State state, long maxChainBytes) {
        this.memory = memory;
        if (maxChainBytes < 1 || maxChainBytes > 1L << 32) throw new IllegalArgumentException("maxChainBytes out of 1..4 GiB: " + maxChainBytes);
        int size = state.size();
        if (size < 1 || size > MAX_SIZE || Integer.bitCount(size) != 1) {
            throw VirtQueueException.of("queue size %d is not a power of two in 1..%d", size, MAX_SIZE);
        }
        checkIndex("lastAvailIdx", state.lastAvailIdx());
        checkIndex("usedIdx", state.usedIdx());
        checkIndex("lastSignalledUsed", state.lastSignalledUsed());
        if (((state.lastAvailIdx() - state.usedIdx()) & 0xFFFF) > size) {
            throw new IllegalArgumentException("more chains in flight than the queue holds: " + state);
        }
        long descBytes = (long) Descriptor.SIZE * size, availBytes = 6 + 2L * size, usedBytes = 6 + 8L * size;
        checkArea("descriptor table", state.descTable(), descBytes, 16);
        checkArea("available ring", state.availRing(), availBytes, 2);
        checkArea("used ring", state.usedRing(), usedBytes, 4);
        // No conforming driver overlaps the parts. The used ring is the one that matters: our
        // writes to it would rewrite descriptors or avail entries under the driver.
        checkApart("descriptor table", state.descTable(), descBytes, "available ring", state.availRing(), availBytes);
        checkApart("used ring", state.usedRing(), usedBytes, "descriptor table", state.descTable(), descBytes);
        checkApart("used ring", state.usedRing(), usedBytes, "available ring", state.availRing(), availBytes);

        this.size = size;
        this.descTable = state.descTable();
        this.availRing = state.availRing();
        this.usedRing = state.usedRing();
        this.eventIdx = state.eventIdx();
        this.indirectDescriptors = state.indirectDescriptors();
        this.maxChainBytes = maxChainBytes;
        this.desc = memory.slice(GuestAddress.of(descTable), descBytes);
        this.avail = memory.slice(GuestAddress.of(availRing), availBytes);
        // The used ring is written in place on every completion: a device area of guest memory.
        this.used = memory.deviceArea(GuestAddress.of(usedRing), usedBytes);
        // The ordered idx accesses need host alignment too. Guest-aligned rings in page-aligned
        // mmap'd RAM always have it; memory built over heap byte arrays (alignment 1) does not, and
        // would otherwise fail later, inside pop(), with a misaligned-access error.
        if (avail.maxByteAlignment() < 2 || used.maxByteAlignment() < 4) {
            throw new IllegalArgumentException("guest memory at the rings is not aligned on the host (heap-backed?)");
        }
        this.lastAvailIdx = state.lastAvailIdx();
        this.usedIdx = state.usedIdx();
        this.lastSignalledUsed = state.lastSignalledUsed();
    }

    public State state() {
        return new State(size, descTable, availRing, usedRing, eventIdx, indirectDescriptors, lastAvailIdx, usedIdx, lastSignalledUsed);
    }

    public int size() {
        return size;
    }

    /**
     * The next chain the driver made available, validated, or empty when there is none. Reads
     * guest memory only; on a violation nothing has changed, not even our avail index.
     */
    public Optional<DescriptorChain> pop() {
        int availIdx = availIdx();
        int pending = (availIdx - lastAvailIdx) & 0xFFFF;
        if (pending == 0) return Optional.empty();
        // The ring has `size` slots: a driver can never be further ahead than that, so more means
        // a corrupt or hostile idx, and reading on would hand out stale ring entries.
        if (pending > size) throw VirtQueueException.of("avail idx jumped by %d (queue size %d)", pending, size);
        int slot = lastAvailIdx & (size - 1);
        // Plain read: ordered after the acquire of avail.idx above.
        int head = Short.toUnsignedInt(avail.get(U16, RING + 2L * slot));
        if (head >= size) throw VirtQueueException.of("avail ring slot %d: head %d out of range (queue size %d)", slot, head, size);
        DescriptorChain chain = walk(head);
        lastAvailIdx = (lastAvailIdx + 1) & 0xFFFF;
        return Optional.of(chain);
    }

    /**
     * Returns chain {@code head} to the driver with {@code writtenLength} bytes written into it,
     * and publishes it. Any data the device wrote into the chain's buffers must be written before
     * this call: the release store of used.idx is what makes it visible to the driver.
     */
    public void addUsed(int head, int writtenLength) {
        if (head < 0 || head >= size) throw new IllegalArgumentException("head %d out of range (queue size %d)".formatted(head, size));
        if (writtenLength < 0) throw new IllegalArgumentException("negative written length: " + writtenLength);
        if (usedIdx == lastAvailIdx) throw new IllegalStateException("addUsed without a popped chain in flight");
        long elem = RING + USED_ELEM * (usedIdx & (size - 1));
        used.set(U32, elem, head);
        used.set(U32, elem + 4, writtenLength);
        usedIdx = (usedIdx + 1) & 0xFFFF;
        // Release: the element above (and the buffer contents before it) become visible to the
        // driver no later than the idx that exposes them (spec: "set len prior to updating idx").
        IDX.setRelease(used, IDX_OFFSET, (short) usedIdx);
    }

    /**
     * Whether the driver wants a used-buffer notification for what was added since the last
     * decision (false when nothing was). Without EVENT_IDX: unless avail.flags has NO_INTERRUPT.
     * With EVENT_IDX: when used.idx passed {@code used_event} in this batch (vring_need_event).
     */
    public boolean needsInterrupt() {
        int old = lastSignalledUsed, now = usedIdx;
        lastSignalledUsed = now;
        if (old == now) return false;
        // Full fence: our used.idx store must be globally visible before we read the driver's
        // suppression fields. The driver does the mirror image (write used_event, fence, re-read
        // used.idx); without the store-load barrier (which x86 TSO does not give) both sides can
        // read stale values and the interrupt is lost.
        VarHandle.fullFence();
        if (eventIdx) {
            int usedEvent = Short.toUnsignedInt(avail.get(U16, RING + 2L * size));
            return needEvent(usedEvent, now, old);
        }
        return (avail.get(U16, FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
    }

    /**
     * Asks the driver to notify (or not) when it makes buffers available. Without EVENT_IDX that
     * is VIRTQ_USED_F_NO_NOTIFY in used.flags. With EVENT_IDX, enabling writes avail_event = our
     * avail index (notify as soon as anything new arrives); disabling writes nothing, since the
     * driver only notifies when it passes avail_event, which it already has.
     */
    public void setNotification(boolean enabled) {
        if (eventIdx) {
            if (enabled) IDX.setRelease(used, RING + USED_ELEM * size, (short) lastAvailIdx);
        } else {
            IDX.setRelease(used, FLAGS, (short) (enabled ? 0 : VIRTQ_USED_F_NO_NOTIFY));
        }
    }

    /**
     * Re-enables notifications, then re-checks avail.idx: true if buffers arrived that the driver
     * may not notify us about (it checked our flags before we re-enabled), so the caller must
     * process them now.
     */
    public boolean enableNotificationAndCheck() {
        setNotification(true);
        // Full fence: the enable above must be visible before we read avail.idx, mirroring the
        // driver's "update idx, barrier, read flags/avail_event". A store followed by a load needs
        // a full barrier even on x86.
        VarHandle.fullFence();
        return availIdx() != lastAvailIdx;
    }

    /** vring_need_event: did the used idx move from {@code old} past {@code event} to {@code now}? All u16 arithmetic. */
    static boolean needEvent(int event, int now, int old) {
        return ((now - event - 1) & 0xFFFF) < ((now - old) & 0xFFFF);
    }

    private int availIdx() {
        // Acquire: pairs with the driver's barrier before it bumps idx, so the ring entries and
        // descriptors behind this idx are read after it, never a stale copy from before.
        return Short.toUnsignedInt((short) IDX.getAcquire(avail, IDX_OFFSET));
    }

    private DescriptorChain walk(int head) {
        ChainBuilder chain = new ChainBuilder(head);
        int index = head;
        // Each descriptor can appear once in a chain, so more than `size` of them is a loop.
        for (int count = 1; ; count++) {
            if (count > size) throw VirtQueueException.of("descriptor %d: chain loops (more than %d descriptors from head %d)", index, size, head);
            Descriptor d = Descriptor.read(desc, index);
            if (d.isIndirect()) {
                if (!indirectDescriptors) throw VirtQueueException.of("descriptor %d: INDIRECT but VIRTIO_F_INDIRECT_DESC not negotiated", index);
                // An indirect descriptor ends the chain; its own WRITE flag is ignored (§2.7.5.3.2).
                if (d.hasNext()) throw VirtQueueException.of("descriptor %d: INDIRECT together with NEXT", index);
                walkIndirect(index, d, chain);
                return chain.build();
            }
            chain.add("descriptor", index, d);
            if (!d.hasNext()) return chain.build();
            if (d.next() >= size) throw VirtQueueException.of("descriptor %d: next %d out of range (queue size %d)", index, d.next(), size);
            index = d.next();
        }
    }

    private void walkIndirect(int parent, Descriptor table, ChainBuilder chain) {
        long bytes = table.length();
        if (bytes == 0 || bytes % Descriptor.SIZE != 0 || bytes > MAX_INDIRECT_TABLE_BYTES) {
            throw VirtQueueException.of("descriptor %d: indirect table length %d is not a non-zero multiple of 16 up to %d",
                    parent, bytes, MAX_INDIRECT_TABLE_BYTES);
        }
        checkRam("descriptor", parent, "indirect table", table.address(), bytes);
        MemorySegment entries = memory.slice(GuestAddress.of(table.address()), bytes);
        int count = (int) (bytes / Descriptor.SIZE);
        int index = 0;
        for (int n = 1; ; n++) {
            if (n > count) throw VirtQueueException.of("indirect descriptor %d (table of descriptor %d): chain loops (more than %d descriptors)", index, parent, count);
            Descriptor d = Descriptor.read(entries, index);
            if (d.isIndirect()) throw VirtQueueException.of("indirect descriptor %d (table of descriptor %d): nested INDIRECT", index, parent);
            chain.add("indirect descriptor", index, d);
            if (!d.hasNext()) return;
            if (d.next() >= count) {
                throw VirtQueueException.of("indirect descriptor %d (table of descriptor %d): next %d out of range (table of %d)", index, parent, d.next(), count);
            }
            index = d.next();
        }
    }

    /** Collects validated segments and the running checks that span the whole chain. */
    private final class ChainBuilder {
        private final int head;
        private final List<DescriptorChain.Segment> segments = new ArrayList<>();
        private boolean sawWritable;
        private long bytes;

        ChainBuilder(int head) {
            this.head = head;
        }

        void add(String kind, int index, Descriptor d) {
            if (d.length() == 0) throw VirtQueueException.of("%s %d: zero-length buffer", kind, index);
            checkRam(kind, index, "buffer", d.address(), d.length());
            if (sawWritable && !d.isWritable()) throw VirtQueueException.of("%s %d: device-readable buffer after a device-writable one", kind, index);
            sawWritable = d.isWritable();
            bytes += d.length(); // both terms <= 4 GiB: no overflow
            if (bytes > maxChainBytes) throw VirtQueueException.of("%s %d: chain from head %d exceeds %d bytes", kind, index, head, maxChainBytes);
            segments.add(new DescriptorChain.Segment(GuestAddress.of(d.address()), d.length(), d.isWritable()));
        }

        DescriptorChain build() {
            return new DescriptorChain(head, segments);
        }
    }

    private void checkRam(String kind, int index, String what, long address, long length) {
        // Guest addresses are u64: one that wraps past 2^64 must not be mistaken for a small range.
        if (Long.compareUnsigned(address + length, address) < 0) {
            throw VirtQueueException.of("%s %d: %s 0x%x+0x%x wraps around the address space", kind, index, what, address, length);
        }
        // One region, not merely RAM bytes: a range straddling two regions has no single host
        // segment behind it (and the hole between them may be MMIO).
        if (!memory.isRam(GuestAddress.of(address), length)) throw VirtQueueException.of("%s %d: %s 0x%x+0x%x is not in RAM", kind, index, what, address, length);
    }

    private void checkArea(String name, long address, long length, int alignment) {
        if ((address & (alignment - 1)) != 0) throw VirtQueueException.of("%s 0x%x is not %d-byte aligned", name, address, alignment);
        if (Long.compareUnsigned(address + length, address) < 0 || !memory.isRam(GuestAddress.of(address), length)) {
            throw VirtQueueException.of("%s 0x%x+0x%x is not in RAM", name, address, length);
        }
    }

    private static void checkApart(String a, long aStart, long aLength, String b, long bStart, long bLength) {
        // Both ranges are known to be inside RAM, so these sums do not overflow.
        if (aStart < bStart + bLength && bStart < aStart + aLength) {
            throw VirtQueueException.of("%s 0x%x+0x%x overlaps %s 0x%x+0x%x", a, aStart, aLength, b, bStart, bLength);
        }
    }

    private static void checkIndex(String name, int value) {
        if (value < 0 || value > 0xFFFF) throw new IllegalArgumentException(name + " is not a 16-bit index: " + value);
    }
}
