package io.actorvm.devices.record;

import io.actorvm.devices.proto.Segment;
import io.actorvm.io.buffering.virtq.DescriptorChain;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * A descriptor chain as a recording keeps it: its segments, the bytes the device may read (taken
 * when the request is popped), and a checksum of what the device wrote. A replay puts the bytes
 * back into its scratch memory at the same addresses and hands the model the same chain.
 */
public final class ChainData {
    private ChainData() {}

    /** Readable bytes kept per request; virtio-blk's largest request is 4 MiB. */
    public static final int MAX_READABLE = 32 << 20;

    public static List<Segment> segments(DescriptorChain chain) {
        List<Segment> out = new ArrayList<>(chain.segments().size());
        for (DescriptorChain.Segment s : chain.segments()) {
            out.add(Segment.newBuilder().setAddress(s.address().value()).setLength(s.length()).setWritable(s.writable()).build());
        }
        return out;
    }

    /** The chain back from a recording; a {@link DivergenceException} if the recording's segments are not a chain. */
    public static DescriptorChain chain(int head, List<Segment> segments) {
        List<DescriptorChain.Segment> out = new ArrayList<>(segments.size());
        for (Segment s : segments) out.add(new DescriptorChain.Segment(GuestAddress.of(s.getAddress()), s.getLength(), s.getWritable()));
        try {
            return new DescriptorChain(head, out);
        } catch (IllegalArgumentException e) {
            throw new DivergenceException("the recorded chain " + head + " is not a valid chain: " + e.getMessage());
        }
    }

    /** The device-readable bytes, as the device would see them now. */
    public static byte[] readable(DescriptorChain chain, GuestMemory memory) {
        return chain.readAll(memory, MAX_READABLE);
    }

    /** Replay: puts recorded readable bytes back where the chain says they were. */
    public static void putReadable(DescriptorChain chain, GuestMemory memory, byte[] bytes) {
        long done = 0;
        for (DescriptorChain.Segment s : chain.segments()) {
            if (s.writable() || done == bytes.length) break;
            long n = Math.min(s.length(), bytes.length - done);
            memory.copyIn(s.address(), MemorySegment.ofArray(bytes), done, n);
            done += n;
        }
    }

    /** CRC-32C of the first {@code written} device-writable bytes (what the device reported writing). */
    public static int writtenCrc(DescriptorChain chain, GuestMemory memory, long written) {
        CRC32C crc = new CRC32C();
        try {
            chain.visit(true, 0, Math.max(0, Math.min(written, chain.writableLength())),
                    (address, n) -> crc.update(memory.slice(address, n).asByteBuffer()));
        } catch (IOException e) {
            throw new IllegalStateException(e); // the visitor does no I/O
        }
        return (int) crc.getValue();
    }
}
