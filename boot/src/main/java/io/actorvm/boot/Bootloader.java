package io.actorvm.boot;

import io.actorvm.mmu.AddressMap;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;

import java.lang.foreign.MemorySegment;

/**
 * Boots whichever kernel format it is given: a bzImage through the Linux 64-bit boot protocol,
 * an ELF (Linux's vmlinux or a test guest) through its PVH entry. Both get the initrd placed high
 * in low RAM and the command line; the result is the boot CPU's entry state.
 */
public final class Bootloader {
    /** Where a PVH initrd may go at most (the 32-bit entry reaches it before paging is up). */
    static final long PVH_INITRD_ADDR_MAX = 0xFFFF_FFFFL;

    private Bootloader() {}

    /** The kernel's format, after checking it: a one-line {@link KernelFormatException} otherwise. */
    public enum Format { BZIMAGE, ELF_PVH }

    public static Format check(byte[] kernel) {
        if (BzImage.looksLikeBzImage(kernel)) {
            BzImage.parse(kernel);
            return Format.BZIMAGE;
        }
        if (ElfKernel.looksLikeElf(kernel)) {
            ElfKernel.parse(kernel);
            return Format.ELF_PVH;
        }
        throw new KernelFormatException("kernel is neither a Linux bzImage nor an ELF file");
    }

    /** Loads {@code kernel} (and {@code initrd}, may be null) into {@code memory} and configures the boot. */
    public static EntryState boot(byte[] kernel, byte[] initrd, String cmdline, GuestMemory memory) {
        return boot(kernel, initrd, cmdline, memory, 0);
    }

    /** As above, telling the kernel where the ACPI RSDP is (0: no ACPI tables). */
    public static EntryState boot(byte[] kernel, byte[] initrd, String cmdline, GuestMemory memory, long rsdp) {
        AddressMap map = memory.addressMap();
        long lowRamEnd = map.ramRanges().getFirst().end();
        return switch (check(kernel)) {
            case BZIMAGE -> {
                BzImage image = BzImage.parse(kernel);
                LinuxBoot.Loaded loaded = LinuxBoot.load(image, kernel, memory);
                long initrdAt = initrd == null ? 0 : copy(initrd, InitrdPlacement.place(initrd.length, lowRamEnd,
                        image.initrdAddrMax(), loaded.end()), memory);
                yield LinuxBoot.configure(memory, image, loaded, cmdline, map.e820(), initrdAt, initrd == null ? 0 : initrd.length, rsdp);
            }
            case ELF_PVH -> {
                ElfKernel elf = ElfKernel.parse(kernel);
                KernelLoader.load(elf, kernel, memory);
                long kernelEnd = elf.segments().stream().mapToLong(ElfKernel.LoadSegment::end).max().orElseThrow();
                long initrdAt = initrd == null ? 0 : copy(initrd, InitrdPlacement.place(initrd.length, lowRamEnd,
                        PVH_INITRD_ADDR_MAX, kernelEnd), memory);
                yield PvhBoot.configure(memory, elf.pvhEntry(), cmdline, map.e820(), initrdAt, initrd == null ? 0 : initrd.length, rsdp);
            }
        };
    }

    private static long copy(byte[] data, long address, GuestMemory memory) {
        MemorySegment.copy(MemorySegment.ofArray(data), 0, memory.slice(GuestAddress.of(address), data.length), 0, data.length);
        return address;
    }
}
