package io.actorvm.mmu;

/** One range of the BIOS e820 memory map, as boot protocols hand it to the guest. */
public record E820Entry(long address, long size, int type) {
    public static final int RAM = 1, RESERVED = 2, ACPI = 3, NVS = 4;

    public E820Entry {
        if (size <= 0) throw new IllegalArgumentException("empty e820 range at 0x" + Long.toHexString(address));
    }

    public long end() {
        return address + size;
    }
}
