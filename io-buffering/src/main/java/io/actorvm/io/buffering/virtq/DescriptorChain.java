package io.actorvm.io.buffering.virtq;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A validated descriptor chain: the head index (what goes back in the used ring) and its buffers
 * in chain order, device-readable ones first, then device-writable ones (spec §2.7.4.2), indirect
 * tables already flattened. Every segment was checked to lie inside one RAM region when the chain
 * was popped, so the helpers here cannot reach anything the guest did not offer.
 */
public record DescriptorChain(int head, List<Segment> segments) {

    /** One guest buffer of the chain; {@code length} is at least 1 and at most a u32. */
    public record Segment(GuestAddress address, long length, boolean writable) {}

    public DescriptorChain {
        segments = List.copyOf(segments);
        // The invariants SplitQueue establishes; checked again so a hand-built chain cannot
        // smuggle in a layout the device code does not expect.
        if (head < 0 || head >= SplitQueue.MAX_SIZE) throw new IllegalArgumentException("head out of range: " + head);
        boolean writable = false;
        for (Segment s : segments) {
            if (s.length() <= 0 || s.length() > 0xFFFF_FFFFL) throw new IllegalArgumentException("segment length out of range: " + s);
            if (writable && !s.writable()) throw new IllegalArgumentException("readable segment after a writable one: " + s);
            writable = s.writable();
        }
    }

    /** Bytes the device may read: the sum of the device-readable segments. */
    public long readableLength() {
        long n = 0;
        for (Segment s : segments) if (!s.writable()) n += s.length();
        return n;
    }

    /** Bytes the device may write: the sum of the device-writable segments. */
    public long writableLength() {
        long n = 0;
        for (Segment s : segments) if (s.writable()) n += s.length();
        return n;
    }

    /** What {@link #visit} hands each piece of guest buffer to; may do host I/O. */
    @FunctionalInterface
    public interface PartVisitor {
        void part(GuestAddress address, long length) throws java.io.IOException;
    }

    /**
     * Walks the readable (or writable) bytes of the chain as if they were one buffer, from
     * {@code skip} for {@code length} bytes, handing each piece that lies in one segment to
     * {@code visitor} in order: how a device moves data between guest RAM and a host file with no
     * copy on the heap. Returns the bytes visited: fewer than {@code length} when the chain ends first.
     */
    public long visit(boolean writable, long skip, long length, PartVisitor visitor) throws java.io.IOException {
        if (skip < 0 || length < 0) throw new IllegalArgumentException("negative skip or length: " + skip + ", " + length);
        long done = 0;
        for (Segment s : segments) {
            if (s.writable() != writable) continue;
            if (done == length) break;
            if (skip >= s.length()) {
                skip -= s.length();
                continue;
            }
            long n = Math.min(s.length() - skip, length - done);
            visitor.part(s.address().plus(skip), n);
            done += n;
            skip = 0;
        }
        return done;
    }

    /**
     * Copies the readable bytes, in chain order, up to {@code max} of them. The bound is the
     * caller's: a chain may legally describe up to the queue's byte cap, far more than a device
     * wants on its heap for one request.
     */
    public byte[] readAll(GuestMemory memory, int max) {
        if (max < 0) throw new IllegalArgumentException("negative max: " + max);
        byte[] out = new byte[(int) Math.min(readableLength(), max)];
        MemorySegment dst = MemorySegment.ofArray(out);
        long done = 0;
        for (Segment s : segments) {
            if (s.writable() || done == out.length) break;
            long n = Math.min(s.length(), out.length - done);
            MemorySegment.copy(memory.slice(s.address(), n), 0, dst, done, n);
            done += n;
        }
        return out;
    }

    /**
     * Scatters {@code data} into the writable segments, starting {@code offsetInWritable} bytes
     * into them (as if they were one buffer), and returns how many bytes were written: fewer than
     * {@code data.length} when the writable space ends first, never a byte beyond it.
     */
    public int write(GuestMemory memory, long offsetInWritable, byte[] data) {
        return (int) write(memory, offsetInWritable, MemorySegment.ofArray(data));
    }

    /** As {@link #write(GuestMemory, long, byte[])}, from any segment (heap or native). */
    public long write(GuestMemory memory, long offsetInWritable, MemorySegment data) {
        if (offsetInWritable < 0) throw new IllegalArgumentException("negative offset: " + offsetInWritable);
        long skip = offsetInWritable, done = 0, total = data.byteSize();
        for (Segment s : segments) {
            if (!s.writable()) continue;
            if (done == total) break;
            if (skip >= s.length()) {
                skip -= s.length();
                continue;
            }
            long n = Math.min(s.length() - skip, total - done);
            memory.copyIn(s.address().plus(skip), data, done, n);
            done += n;
            skip = 0;
        }
        return done;
    }
}
