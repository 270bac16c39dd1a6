package io.actorvm.vmm.boot;

/**
 * Where boot structures go in low guest memory (all below 1 MiB, in the first e820 RAM range,
 * away from the real-mode IVT/BDA at 0-0x500 and from the kernel, which loads at 1 MiB or above).
 */
public final class BootLayout {
    private BootLayout() {}

    /** PVH {@code hvm_start_info}. */
    public static final long START_INFO = 0x6000;
    /** PVH memory map (hvm_memmap_table_entry[]), right after start_info's page. */
    public static final long MEMMAP = 0x7000;
    public static final int MAX_MEMMAP_ENTRIES = 128;
    /** The kernel command line, NUL-terminated. */
    public static final long CMDLINE = 0x20000;
    public static final int CMDLINE_MAX = 4096;
    /** Nothing of the kernel may be loaded below this. */
    public static final long KERNEL_MIN_ADDRESS = 0x100000;
}
