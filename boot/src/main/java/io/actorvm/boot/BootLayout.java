package io.actorvm.boot;

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
    /** Boot GDT for the 64-bit Linux entry: null, null, code64 (0x10), data (0x18). */
    public static final long GDT = 0x500;
    /** PVH module list (the initrd), one hvm_modlist_entry. */
    public static final long MODLIST = 0x6800;
    /** Linux's zero page ({@code struct boot_params}, 4 KiB). */
    public static final long ZERO_PAGE = 0x8000;
    /** Identity page tables for the 64-bit entry: PML4, one PDPT, four page directories (4 GiB in 2 MiB pages). */
    public static final long PML4 = 0x9000, PDPT = 0xA000, PD = 0xB000;
    /** MP floating pointer and configuration table, in the last KiB of base memory (reserved in e820). */
    public static final long MP_TABLE = 0x9FC00;
    /** ACPI tables, RSDP first: in the BIOS area Linux scans for "RSD PTR " (reserved in e820). */
    public static final long ACPI_TABLES = 0xE0000, ACPI_TABLES_END = 0x100000;
    /** Nothing of the kernel may be loaded below this. */
    public static final long KERNEL_MIN_ADDRESS = 0x100000;
}
