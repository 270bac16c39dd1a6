package io.actorvm.mmu;

import java.util.ArrayList;
import java.util.List;

/**
 * The x86 guest-physical address map of a VM with {@code ramSize} bytes of RAM: RAM from 0 up to
 * the 32-bit MMIO hole, the rest above 4 GiB. The hole holds the LAPIC, IOAPIC, device MMIO and
 * the pages KVM needs for its TSS and identity map.
 */
public record AddressMap(long ramSize) {
    public static final long MiB = 1L << 20, GiB = 1L << 30;
    /** Start of the 32-bit MMIO hole (3 GiB, as Firecracker and cloud-hypervisor use). */
    public static final long MMIO_HOLE_START = 3 * GiB;
    public static final long FOUR_GIB = 4 * GiB;
    /** Legacy areas below 1 MiB that e820 reports as reserved: EBDA from 0x9FC00, VGA, option ROMs, BIOS. */
    public static final long EBDA_START = 0x9FC00, HIGH_MEMORY_START = MiB;
    /** Device MMIO is allocated from here up; KVM's TSS pages and identity map sit just below 4 GiB. */
    public static final long DEVICE_MMIO_START = 0xD000_0000L;
    public static final long IOAPIC_ADDRESS = 0xFEC0_0000L, LAPIC_ADDRESS = 0xFEE0_0000L;
    public static final long KVM_IDENTITY_MAP_ADDRESS = 0xFFFB_C000L, KVM_TSS_ADDRESS = 0xFFFB_D000L;
    /** Smallest RAM we boot with: room for the kernel image, boot structures and a stack. */
    public static final long MIN_RAM = 2 * MiB;
    /** Largest RAM we accept; far above anything 24 GiB hosts run, far below the 52-bit physical limit. */
    public static final long MAX_RAM = 1L << 40;

    public AddressMap {
        if (ramSize < MIN_RAM || ramSize > MAX_RAM || (ramSize & 0xFFF) != 0) {
            throw new IllegalArgumentException("guest memory must be a multiple of 4 KiB between 2 MiB and 1 TiB, not " + ramSize);
        }
    }

    /** RAM regions in guest-physical order: low RAM, then high RAM above 4 GiB if any. */
    public List<RamRange> ramRanges() {
        List<RamRange> out = new ArrayList<>(2);
        long low = Math.min(ramSize, MMIO_HOLE_START);
        out.add(new RamRange(0, low));
        if (ramSize > low) out.add(new RamRange(FOUR_GIB, ramSize - low));
        return out;
    }

    /** The e820 view handed to the guest: low RAM minus the legacy area below 1 MiB, then the rest. */
    public List<E820Entry> e820() {
        List<E820Entry> out = new ArrayList<>();
        out.add(new E820Entry(0, EBDA_START, E820Entry.RAM));
        out.add(new E820Entry(EBDA_START, HIGH_MEMORY_START - EBDA_START, E820Entry.RESERVED));
        List<RamRange> ram = ramRanges();
        long lowEnd = ram.getFirst().end();
        if (lowEnd > HIGH_MEMORY_START) out.add(new E820Entry(HIGH_MEMORY_START, lowEnd - HIGH_MEMORY_START, E820Entry.RAM));
        if (ram.size() > 1) out.add(new E820Entry(ram.get(1).start(), ram.get(1).size(), E820Entry.RAM));
        return out;
    }

    /** A contiguous run of guest-physical RAM. */
    public record RamRange(long start, long size) {
        public long end() {
            return start + size;
        }
    }
}
