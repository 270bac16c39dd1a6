package io.actorvm.mmu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Guest RAM: the regions of an {@link AddressMap}, each backed by host memory. Every access goes
 * through a bounds check against the regions, so a guest-supplied address can never reach host
 * memory outside guest RAM; anything else is a {@link GuestMemoryException}.
 */
public final class GuestMemory implements AutoCloseable {

    /** One contiguous guest-physical region and the host memory behind it. */
    public record Region(long guestAddress, MemorySegment host) {
        public long size() {
            return host.byteSize();
        }

        public long end() {
            return guestAddress + host.byteSize();
        }

        boolean contains(long address, long length) {
            // Written so that no sum can overflow: address - guestAddress is only formed when address >= guestAddress.
            return address >= guestAddress && length >= 0 && length <= size() && address - guestAddress <= size() - length;
        }
    }

    private final AddressMap map;
    private final List<Region> regions;
    private final List<AnonymousMapping> mappings;
    /**
     * Pages the VMM itself wrote (device DMA: virtqueue buffers and used rings), one bit per page
     * and region. KVM's dirty log only sees the guest's own writes; an incremental snapshot needs both.
     */
    private final java.util.concurrent.atomic.AtomicLongArray[] written;

    private GuestMemory(AddressMap map, List<Region> regions, List<AnonymousMapping> mappings) {
        this.map = map;
        this.regions = Collections.unmodifiableList(regions);
        this.mappings = mappings;
        this.written = new java.util.concurrent.atomic.AtomicLongArray[regions.size()];
        for (int i = 0; i < regions.size(); i++) {
            written[i] = new java.util.concurrent.atomic.AtomicLongArray((int) ((regions.get(i).size() / PAGE + 63) / 64));
        }
    }

    static final long PAGE = 4096;

    /**
     * Records that the VMM wrote [address, address+length) of guest RAM (call after the write).
     * Thread-safe and lock-free: device actors and I/O threads write concurrently.
     */
    public void markWritten(long address, long length) {
        if (length <= 0) return;
        for (int i = 0; i < regions.size(); i++) {
            Region r = regions.get(i);
            if (!r.contains(address, length)) continue;
            long first = (address - r.guestAddress()) / PAGE, last = (address - r.guestAddress() + length - 1) / PAGE;
            for (long p = first; p <= last; p++) {
                int word = (int) (p >>> 6);
                long bit = 1L << (p & 63);
                written[i].getAndUpdate(word, v -> v | bit);
            }
            return;
        }
    }

    /** Pages of region {@code index} the VMM wrote since the last call, as a bitmap; clears it. */
    public long[] takeWritten(int index) {
        var bits = written[index];
        long[] out = new long[bits.length()];
        for (int w = 0; w < out.length; w++) out[w] = bits.getAndSet(w, 0);
        return out;
    }

    /** Anonymous, lazily allocated RAM for {@code map}. */
    public static GuestMemory allocate(AddressMap map) {
        List<Region> regions = new ArrayList<>();
        List<AnonymousMapping> mappings = new ArrayList<>();
        try {
            for (AddressMap.RamRange r : map.ramRanges()) {
                AnonymousMapping m = AnonymousMapping.map(r.size());
                mappings.add(m);
                regions.add(new Region(r.start(), m.segment()));
            }
        } catch (RuntimeException | Error e) {
            mappings.forEach(AnonymousMapping::close);
            throw e;
        }
        return new GuestMemory(map, regions, mappings);
    }

    /** Guest memory over existing segments (tests, restored images). */
    public static GuestMemory of(AddressMap map, List<Region> regions) {
        return new GuestMemory(map, new ArrayList<>(regions), List.of());
    }

    public AddressMap addressMap() {
        return map;
    }

    public List<Region> regions() {
        return regions;
    }

    /** True when [address, address+length) lies entirely inside one RAM region. */
    public boolean isRam(long address, long length) {
        return find(address, length) != null;
    }

    /** A view of guest RAM at [address, address+length); throws if any byte of it is not RAM. */
    public MemorySegment slice(long address, long length) {
        Region r = find(address, length);
        if (r == null) throw new GuestMemoryException(address, length);
        return r.host().asSlice(address - r.guestAddress(), length);
    }

    private Region find(long address, long length) {
        for (Region r : regions) {
            if (r.contains(address, length)) return r;
        }
        return null;
    }

    public void write(long address, byte[] data) {
        MemorySegment.copy(MemorySegment.ofArray(data), 0, slice(address, data.length), 0, data.length);
    }

    public byte[] read(long address, int length) {
        return slice(address, length).toArray(ValueLayout.JAVA_BYTE);
    }

    public long readLong(long address) {
        return slice(address, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
    }

    public void writeLong(long address, long value) {
        slice(address, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, value);
    }

    public int readInt(long address) {
        return slice(address, 4).get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }

    public void writeInt(long address, int value) {
        slice(address, 4).set(ValueLayout.JAVA_INT_UNALIGNED, 0, value);
    }

    @Override
    public void close() {
        mappings.forEach(AnonymousMapping::close);
    }
}
