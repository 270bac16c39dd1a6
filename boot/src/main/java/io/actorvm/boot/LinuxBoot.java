package io.actorvm.boot;

import io.actorvm.kvm.DescriptorTable;
import io.actorvm.kvm.Regs;
import io.actorvm.kvm.Segment;
import io.actorvm.kvm.Sregs;
import io.actorvm.mmu.E820Entry;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The Linux 64-bit boot protocol for a bzImage: loads the protected-mode kernel at its preferred
 * address, fills the zero page ({@code struct boot_params}) and gives the boot CPU's entry state:
 * long mode with identity-mapped page tables and a flat GDT, {@code rip} at the 64-bit entry and
 * {@code rsi} pointing at the zero page.
 */
public final class LinuxBoot {
    // struct boot_params offsets (arch/x86/include/uapi/asm/bootparam.h).
    static final int ACPI_RSDP_ADDR = 0x070, E820_ENTRIES = 0x1E8, SETUP_HEADER = 0x1F1, VID_MODE = 0x1FA, TYPE_OF_LOADER = 0x210,
            LOADFLAGS = 0x211, CODE32_START = 0x214, RAMDISK_IMAGE = 0x218, RAMDISK_SIZE = 0x21C,
            HEAP_END_PTR = 0x224, CMD_LINE_PTR = 0x228, E820_TABLE = 0x2D0;
    static final int E820_MAX = 128, E820_ENTRY_SIZE = 20, ZERO_PAGE_SIZE = 4096;
    /** "Undefined" boot loader id: we have none registered. */
    static final int LOADER_UNDEFINED = 0xFF;
    static final long PAGE_PRESENT_RW = 0x3, PAGE_2M = 0x80;
    static final long CR0_PE = 1, CR0_ET = 1 << 4, CR0_PG = 1L << 31, CR4_PAE = 1 << 5, EFER_LME = 1 << 8, EFER_LMA = 1 << 10;
    static final int CODE_SELECTOR = 0x10, DATA_SELECTOR = 0x18;

    private LinuxBoot() {}

    /** Where the kernel went; {@code end} is the end of what it may use while booting (load + init_size). */
    public record Loaded(long address, long end) {}

    /** Copies the protected-mode kernel to its preferred address; refuses kernels that do not fit. */
    public static Loaded load(BzImage image, byte[] file, GuestMemory memory) {
        long address = image.prefAddress();
        if (address < BootLayout.KERNEL_MIN_ADDRESS || (address & (image.kernelAlignment() - 1)) != 0) {
            throw new KernelFormatException("bzImage pref_address 0x%x is not usable".formatted(address));
        }
        long span = Math.max(image.initSize(), image.kernelSize());
        if (!memory.isRam(GuestAddress.of(address), span)) {
            throw new KernelFormatException("the kernel needs RAM from 0x%x to 0x%x (init_size); give the VM more memory"
                    .formatted(address, address + span));
        }
        MemorySegment.copy(MemorySegment.ofArray(file), image.kernelOffset(), memory.slice(GuestAddress.of(address), image.kernelSize()), 0, image.kernelSize());
        return new Loaded(address, address + span);
    }

    /** Fills the zero page, command line, page tables and GDT; returns the boot CPU's entry state. */
    public static EntryState configure(GuestMemory memory, BzImage image, Loaded kernel, String cmdline,
                                               List<E820Entry> e820, long initrdAddress, long initrdSize, long rsdp) {
        byte[] cmd = cmdline.getBytes(StandardCharsets.US_ASCII);
        long maxCmd = Math.min(image.cmdlineSize(), BootLayout.CMDLINE_MAX - 1);
        if (cmd.length > maxCmd) throw new KernelFormatException("command line is " + cmd.length + " bytes; this kernel takes at most " + maxCmd);
        if (e820.size() > E820_MAX) throw new IllegalArgumentException("too many e820 entries: " + e820.size());
        MemorySegment line = memory.slice(GuestAddress.of(BootLayout.CMDLINE), cmd.length + 1);
        MemorySegment.copy(MemorySegment.ofArray(cmd), 0, line, 0, cmd.length);
        line.set(JAVA_BYTE, cmd.length, (byte) 0);

        MemorySegment zp = memory.slice(GuestAddress.of(BootLayout.ZERO_PAGE), ZERO_PAGE_SIZE);
        zp.fill((byte) 0);
        byte[] header = image.setupHeader();
        MemorySegment.copy(MemorySegment.ofArray(header), 0, zp, SETUP_HEADER, header.length);
        zp.set(JAVA_SHORT, VID_MODE, (short) 0xFFFF); // "normal" text mode: no video setup
        zp.set(JAVA_BYTE, TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        zp.set(JAVA_BYTE, LOADFLAGS, (byte) (image.loadFlags() | BzImage.CAN_USE_HEAP));
        zp.set(JAVA_INT, CODE32_START, (int) kernel.address());
        zp.set(JAVA_SHORT, HEAP_END_PTR, (short) 0xFE00);
        zp.set(JAVA_INT, CMD_LINE_PTR, (int) BootLayout.CMDLINE);
        zp.set(JAVA_INT, RAMDISK_IMAGE, (int) initrdAddress);
        zp.set(JAVA_INT, RAMDISK_SIZE, (int) initrdSize);
        if (rsdp != 0 && image.protocolVersion() >= 0x020E) zp.set(JAVA_LONG, ACPI_RSDP_ADDR, rsdp); // else Linux scans for it
        zp.set(JAVA_BYTE, E820_ENTRIES, (byte) e820.size());
        for (int i = 0; i < e820.size(); i++) {
            long off = E820_TABLE + (long) i * E820_ENTRY_SIZE;
            zp.set(JAVA_LONG.withByteAlignment(1), off, e820.get(i).address());
            zp.set(JAVA_LONG.withByteAlignment(1), off + 8, e820.get(i).size());
            zp.set(JAVA_INT.withByteAlignment(1), off + 16, e820.get(i).type());
        }

        writeIdentityPageTables(memory);
        writeGdt(memory);
        Regs regs = Regs.initial().withRip(kernel.address() + BzImage.ENTRY_64_OFFSET).withRsi(BootLayout.ZERO_PAGE);
        return new EntryState(regs, LinuxBoot::longMode);
    }

    /** PML4 → PDPT → 4 page directories of 2 MiB pages: the first 4 GiB identity-mapped. */
    static void writeIdentityPageTables(GuestMemory memory) {
        MemorySegment pml4 = memory.slice(GuestAddress.of(BootLayout.PML4), 4096);
        MemorySegment pdpt = memory.slice(GuestAddress.of(BootLayout.PDPT), 4096);
        MemorySegment pd = memory.slice(GuestAddress.of(BootLayout.PD), 4 * 4096);
        pml4.fill((byte) 0);
        pdpt.fill((byte) 0);
        pml4.set(JAVA_LONG, 0, BootLayout.PDPT | PAGE_PRESENT_RW);
        for (int i = 0; i < 4; i++) pdpt.set(JAVA_LONG, i * 8L, (BootLayout.PD + i * 4096L) | PAGE_PRESENT_RW);
        for (int i = 0; i < 4 * 512; i++) pd.set(JAVA_LONG, i * 8L, ((long) i << 21) | PAGE_PRESENT_RW | PAGE_2M);
    }

    /** null, null, 64-bit code (0x10), data (0x18): the selectors Linux's 64-bit entry expects to find usable. */
    static void writeGdt(GuestMemory memory) {
        MemorySegment gdt = memory.slice(GuestAddress.of(BootLayout.GDT), 32);
        gdt.set(JAVA_LONG, 0, 0);
        gdt.set(JAVA_LONG, 8, 0);
        gdt.set(JAVA_LONG, 16, 0x00AF9B000000FFFFL);
        gdt.set(JAVA_LONG, 24, 0x00CF93000000FFFFL);
    }

    /** Long mode, paging on with our identity map; keeps the fields KVM initialised (TR, LDT, APIC base). */
    static Sregs longMode(Sregs current) {
        Segment code = Segment.flat(CODE_SELECTOR, true, true);
        Segment data = Segment.flat(DATA_SELECTOR, false, false);
        return new Sregs(code, data, data, data, data, data, current.tr(), current.ldt(),
                new DescriptorTable(BootLayout.GDT, 31), new DescriptorTable(0, 0),
                CR0_PE | CR0_ET | CR0_PG, 0, BootLayout.PML4, CR4_PAE, current.cr8(), EFER_LME | EFER_LMA,
                current.apicBase(), current.interruptBitmap());
    }
}
