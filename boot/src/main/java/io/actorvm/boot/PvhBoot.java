package io.actorvm.boot;

import io.actorvm.kvm.Regs;
import io.actorvm.kvm.Sregs;
import io.actorvm.mmu.E820Entry;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Configures a PVH boot (xen/include/public/arch-x86/hvm/start_info.h): writes {@code hvm_start_info}
 * with the command line and memory map into guest memory, and gives the boot CPU's entry state:
 * 32-bit protected mode, paging off, flat segments, {@code ebx} = start_info's address.
 */
public final class PvhBoot {
    public static final int START_INFO_MAGIC = 0x336EC578;
    /** Version 1 adds the memory map fields. */
    public static final int START_INFO_VERSION = 1;
    static final int START_INFO_SIZE = 56, MEMMAP_ENTRY_SIZE = 24;

    private PvhBoot() {}

    static final int MODLIST_ENTRY_SIZE = 32;

    /** Writes start_info, memmap and command line; returns the BSP's entry state. */
    public static EntryState configure(GuestMemory memory, long entry, String cmdline, List<E820Entry> e820) {
        return configure(memory, entry, cmdline, e820, 0, 0, 0);
    }

    /** As above, with an initrd already in guest memory handed over as the one PVH module. */
    public static EntryState configure(GuestMemory memory, long entry, String cmdline, List<E820Entry> e820,
                                       long initrdAddress, long initrdSize, long rsdp) {
        byte[] cmd = cmdline.getBytes(StandardCharsets.US_ASCII);
        if (cmd.length + 1 > BootLayout.CMDLINE_MAX) {
            throw new IllegalArgumentException("command line is " + cmd.length + " bytes; at most " + (BootLayout.CMDLINE_MAX - 1) + " fit");
        }
        if (e820.size() > BootLayout.MAX_MEMMAP_ENTRIES) throw new IllegalArgumentException("too many memory map entries");
        MemorySegment line = memory.slice(GuestAddress.of(BootLayout.CMDLINE), cmd.length + 1);
        MemorySegment.copy(MemorySegment.ofArray(cmd), 0, line, 0, cmd.length);
        line.set(java.lang.foreign.ValueLayout.JAVA_BYTE, cmd.length, (byte) 0);

        MemorySegment map = memory.slice(GuestAddress.of(BootLayout.MEMMAP), (long) MEMMAP_ENTRY_SIZE * e820.size());
        for (int i = 0; i < e820.size(); i++) {
            long off = (long) i * MEMMAP_ENTRY_SIZE;
            map.set(JAVA_LONG, off, e820.get(i).address());
            map.set(JAVA_LONG, off + 8, e820.get(i).size());
            map.set(JAVA_INT, off + 16, e820.get(i).type());
            map.set(JAVA_INT, off + 20, 0);
        }

        MemorySegment si = memory.slice(GuestAddress.of(BootLayout.START_INFO), START_INFO_SIZE);
        si.fill((byte) 0);
        si.set(JAVA_INT, 0, START_INFO_MAGIC);
        si.set(JAVA_INT, 4, START_INFO_VERSION);
        si.set(JAVA_LONG, 24, BootLayout.CMDLINE);   // cmdline_paddr
        si.set(JAVA_LONG, 32, rsdp);                 // rsdp_paddr (0: none)
        si.set(JAVA_LONG, 40, BootLayout.MEMMAP);    // memmap_paddr
        si.set(JAVA_INT, 48, e820.size());           // memmap_entries
        if (initrdSize > 0) {
            MemorySegment mod = memory.slice(GuestAddress.of(BootLayout.MODLIST), MODLIST_ENTRY_SIZE);
            mod.fill((byte) 0);
            mod.set(JAVA_LONG, 0, initrdAddress);    // paddr
            mod.set(JAVA_LONG, 8, initrdSize);       // size
            si.set(JAVA_INT, 12, 1);                 // nr_modules
            si.set(JAVA_LONG, 16, BootLayout.MODLIST); // modlist_paddr
        }

        Regs regs = Regs.initial().withRip(entry).withRbx(BootLayout.START_INFO);
        return new EntryState(regs, Sregs::flatProtectedMode);
    }
}
