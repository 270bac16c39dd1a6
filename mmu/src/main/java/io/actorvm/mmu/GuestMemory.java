package io.actorvm.mmu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Guest RAM: the regions of an {@link AddressMap}, each backed by host memory. Every access goes
 * through a bounds check against the regions, so a guest-supplied address can never reach host
 * memory outside guest RAM; anything else is a {@link GuestMemoryException}.
 *
 * <p>It also knows which pages the VMM wrote (device DMA, used rings, boot tables), which KVM's
 * dirty log does not see: every write method marks its pages, and {@link #takeWritten} hands them
 * to an incremental snapshot. Nobody marks pages by hand; code that writes guest memory through a
 * view it keeps ({@link #deviceArea}) declares the area once.
 */
public final class GuestMemory implements AutoCloseable {

    /** One contiguous guest-physical region and the host memory behind it. */
    public record Region(GuestAddress guestAddress, MemorySegment host) {
        public Region {
            java.util.Objects.requireNonNull(guestAddress, "guestAddress");
        }

        public long size() {
            return host.byteSize();
        }

        /** The first address past the region. */
        public GuestAddress end() {
            return guestAddress.plus(host.byteSize());
        }

        boolean contains(long address, long length) {
            // Written so that no sum can overflow: address - start is only formed when address >= start.
            long start = guestAddress.value();
            return Long.compareUnsigned(address, start) >= 0 && length >= 0 && length <= size()
                    && Long.compareUnsigned(address - start, size() - length) <= 0;
        }
    }

    private final AddressMap map;
    private final List<Region> regions;
    private final List<PrivateMapping> mappings;
    /**
     * Pages the VMM wrote since the last {@link #takeWritten}, one bit per page and region. KVM's
     * dirty log only sees the guest's own writes; an incremental snapshot needs both.
     */
    private final long[][] written;
    /**
     * Pages of {@link #deviceArea}s: the VMM writes them in place at any time (a used ring on every
     * completion), so they count as written at every take. A bitmap, not a list of areas, so a
     * guest that resets its devices over and over cannot grow it.
     */
    private final long[][] alwaysWritten;
    /** Atomic bit operations on the bitmaps' words: device actors and I/O threads write concurrently. */
    private static final VarHandle WORD = MethodHandles.arrayElementVarHandle(long[].class);

    private GuestMemory(AddressMap map, List<Region> regions, List<PrivateMapping> mappings) {
        this.map = map;
        this.regions = Collections.unmodifiableList(regions);
        this.mappings = mappings;
        this.written = new long[regions.size()][];
        this.alwaysWritten = new long[regions.size()][];
        for (int i = 0; i < regions.size(); i++) {
            written[i] = new long[(int) ((regions.get(i).size() / PAGE + 63) / 64)];
            alwaysWritten[i] = new long[written[i].length];
        }
    }

    static final long PAGE = 4096;

    /** Sets the bits of the pages of [address, address+length) in {@code bitmaps}; RAM outside one region is ignored. */
    private void mark(long[][] bitmaps, long address, long length) {
        if (length <= 0) return;
        for (int i = 0; i < regions.size(); i++) {
            Region r = regions.get(i);
            if (!r.contains(address, length)) continue;
            long offset = address - r.guestAddress().value();
            long first = offset / PAGE, last = (offset + length - 1) / PAGE;
            for (long p = first; p <= last; p++) WORD.getAndBitwiseOr(bitmaps[i], (int) (p >>> 6), 1L << (p & 63));
            return;
        }
    }

    /**
     * Pages of region {@code index} the VMM wrote since the last call (and every page of a device
     * area), as a bitmap; clears the former.
     */
    public long[] takeWritten(int index) {
        long[] bits = written[index], always = alwaysWritten[index];
        long[] out = new long[bits.length];
        for (int w = 0; w < out.length; w++) out[w] = (long) WORD.getAndSet(bits, w, 0L) | (long) WORD.getVolatile(always, w);
        return out;
    }

    /**
     * A view of guest RAM at [address, address+length) that the VMM keeps and writes in place for
     * as long as the guest uses it (a virtqueue's used ring): from now on its pages count as written
     * at every {@link #takeWritten}, whenever the writes happen. Throws if any byte is not RAM.
     */
    public MemorySegment deviceArea(GuestAddress address, long length) {
        MemorySegment view = slice(address, length);
        mark(alwaysWritten, address.value(), length);
        return view;
    }

    /** Anonymous, lazily allocated RAM for {@code map}. */
    public static GuestMemory allocate(AddressMap map) {
        return allocate(map, HugePages.NONE);
    }

    /** Anonymous RAM for {@code map} on pages of the kind {@code huge} says (see {@link PrivateMapping#anonymous(long, HugePages)}). */
    public static GuestMemory allocate(AddressMap map, HugePages huge) {
        List<Region> regions = new ArrayList<>();
        List<PrivateMapping> mappings = new ArrayList<>();
        try {
            for (AddressMap.RamRange r : map.ramRanges()) {
                PrivateMapping m = PrivateMapping.anonymous(r.size(), huge);
                mappings.add(m);
                regions.add(new Region(GuestAddress.of(r.start()), m.segment()));
            }
        } catch (RuntimeException | Error e) {
            mappings.forEach(PrivateMapping::close);
            throw e;
        }
        return new GuestMemory(map, regions, mappings);
    }

    /**
     * RAM for {@code map} mapped copy-on-write from {@code file}, which holds the RAM ranges end to
     * end (a snapshot's memory file): nothing is read until the guest touches it, and the file is
     * never written. The file must be exactly as long as the RAM (else IllegalArgumentException).
     */
    public static GuestMemory mapFile(AddressMap map, java.nio.file.Path file) {
        long total = map.ramRanges().stream().mapToLong(AddressMap.RamRange::size).sum();
        long size;
        try {
            size = java.nio.file.Files.size(file);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("cannot read memory file " + file + ": " + e.getMessage());
        }
        // A shorter file would fault the vCPU that touches past its end (SIGBUS): refuse it now.
        if (size != total) throw new IllegalArgumentException("memory file " + file + " holds " + size + " bytes, the RAM is " + total);
        List<Region> regions = new ArrayList<>();
        List<PrivateMapping> mappings = new ArrayList<>();
        long offset = 0;
        try {
            for (AddressMap.RamRange r : map.ramRanges()) {
                PrivateMapping m = PrivateMapping.ofFile(file, offset, r.size());
                mappings.add(m);
                regions.add(new Region(GuestAddress.of(r.start()), m.segment()));
                offset += r.size();
            }
        } catch (RuntimeException | Error e) {
            mappings.forEach(PrivateMapping::close);
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
    public boolean isRam(GuestAddress address, long length) {
        return find(address.value(), length) != null;
    }

    /**
     * A view of guest RAM at [address, address+length) for reading; throws if any byte of it is not
     * RAM. Writes go through the write methods, {@link #copyIn} or a {@link #deviceArea}, which
     * record the pages for incremental snapshots.
     */
    public MemorySegment slice(GuestAddress address, long length) {
        Region r = find(address.value(), length);
        if (r == null) throw new GuestMemoryException(address.value(), length);
        return r.host().asSlice(address.offsetFrom(r.guestAddress()), length);
    }

    private Region find(long address, long length) {
        for (Region r : regions) {
            if (r.contains(address, length)) return r;
        }
        return null;
    }

    /**
     * A view of guest RAM at [address, address+length) for a device to write into in place (a
     * disk read lands here with no copy); its pages count as written from now on. Throws if any
     * byte is not RAM.
     */
    public MemorySegment dmaTarget(GuestAddress address, long length) {
        MemorySegment view = slice(address, length);
        mark(written, address.value(), length);
        return view;
    }

    public void write(GuestAddress address, byte[] data) {
        copyIn(address, MemorySegment.ofArray(data), 0, data.length);
    }

    /** Copies {@code length} bytes of {@code source} from {@code sourceOffset} into guest RAM at {@code address} (device DMA). */
    public void copyIn(GuestAddress address, MemorySegment source, long sourceOffset, long length) {
        MemorySegment.copy(source, sourceOffset, slice(address, length), 0, length);
        mark(written, address.value(), length);
    }

    public byte[] read(GuestAddress address, int length) {
        return slice(address, length).toArray(ValueLayout.JAVA_BYTE);
    }

    public long readLong(GuestAddress address) {
        return slice(address, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
    }

    public void writeLong(GuestAddress address, long value) {
        slice(address, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, value);
        mark(written, address.value(), 8);
    }

    public int readInt(GuestAddress address) {
        return slice(address, 4).get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }

    public void writeInt(GuestAddress address, int value) {
        slice(address, 4).set(ValueLayout.JAVA_INT_UNALIGNED, 0, value);
        mark(written, address.value(), 4);
    }

    @Override
    public void close() {
        mappings.forEach(PrivateMapping::close);
    }
}
