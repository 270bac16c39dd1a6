package io.actorvm.mmu.paging;

import io.actorvm.mmu.GuestAddress;
import io.actorvm.mmu.GuestMemory;

/**
 * Translates a vCPU's virtual addresses by walking its page tables in guest memory, as the MMU
 * would (Intel SDM vol. 3 §4.5, AMD APM vol. 2 §5.3): 4- and 5-level paging, 4 KiB, 2 MiB and
 * 1 GiB pages, write, user and execute permissions combined over the levels. For inspection
 * (replay, a debugger, {@code inspect mem}): it reads the tables only, never setting accessed or
 * dirty bits. The tables are the guest's: every entry is checked, an entry pointing outside RAM
 * or with a reserved bit set ends the walk with a {@link PageWalk.Fault}, never an exception.
 */
public final class PageTableWalker {
    static final long P = 1, RW = 1 << 1, US = 1 << 2, PS = 1 << 7, XD = 1L << 63;
    /** Bits 51:12: a table's or a 4 KiB page's address (the architectural maximum, MAXPHYADDR 52). */
    static final long ADDRESS = 0x000F_FFFF_FFFF_F000L;
    static final long GIB_ADDRESS = 0x000F_FFFF_C000_0000L, GIB_RESERVED = 0x3FFF_E000L;
    static final long MIB2_ADDRESS = 0x000F_FFFF_FFE0_0000L, MIB2_RESERVED = 0x001F_E000L;
    /** Longest read through {@link #read}: a debugger's or inspector's request, not a bulk copy. */
    public static final int MAX_READ = 16 << 20;

    private final GuestMemory memory;
    private final PagingMode mode;
    private final long cr3;
    private final boolean nxe;

    public PageTableWalker(GuestMemory memory, PagingMode mode, long cr3, boolean nxe) {
        this.memory = memory;
        this.mode = mode;
        this.cr3 = cr3;
        this.nxe = nxe;
    }

    /** The walker for a vCPU with these control registers and EFER. */
    public static PageTableWalker of(GuestMemory memory, long cr0, long cr3, long cr4, long efer) {
        return new PageTableWalker(memory, PagingMode.of(cr0, cr4, efer), cr3, (efer & PagingMode.EFER_NXE) != 0);
    }

    public PagingMode mode() {
        return mode;
    }

    public PageWalk translate(long virtual) {
        switch (mode) {
            case NONE -> {
                return new PageWalk.Translation(virtual, virtual, 4096, true, true, true);
            }
            case LEGACY_32, PAE -> {
                return new PageWalk.Fault(virtual, 0, mode + " paging is not walked (long mode only)");
            }
            default -> {
                return walk(virtual, mode.levels());
            }
        }
    }

    private PageWalk walk(long virtual, int levels) {
        int bits = 12 + 9 * levels; // 48 or 57
        if ((virtual << (64 - bits)) >> (64 - bits) != virtual) {
            return new PageWalk.Fault(virtual, 0, "not canonical for " + levels + "-level paging");
        }
        long table = cr3 & ADDRESS;
        boolean writable = true, user = true, executable = true;
        for (int level = levels; level >= 1; level--) {
            long at = table + 8L * ((virtual >>> (12 + 9 * (level - 1))) & 511);
            if (!memory.isRam(GuestAddress.of(at), 8)) {
                return new PageWalk.Fault(virtual, level, "its table entry at 0x%x is not in RAM".formatted(at));
            }
            long e = memory.readLong(GuestAddress.of(at));
            if ((e & P) == 0) return new PageWalk.Fault(virtual, level, "not present");
            if ((e & XD) != 0 && !nxe) return new PageWalk.Fault(virtual, level, "XD set while EFER.NXE is clear (reserved)");
            writable &= (e & RW) != 0;
            user &= (e & US) != 0;
            executable &= (e & XD) == 0;
            boolean large = (e & PS) != 0 && level > 1; // at level 1, bit 7 is PAT
            if (large && level > 3) return new PageWalk.Fault(virtual, level, "PS set in a level-" + level + " entry (reserved)");
            if (large && level == 3) {
                if ((e & GIB_RESERVED) != 0) return new PageWalk.Fault(virtual, level, "reserved bits 29:13 set in a 1 GiB page entry");
                return new PageWalk.Translation(virtual, (e & GIB_ADDRESS) | (virtual & ((1L << 30) - 1)), 1L << 30, writable, user, executable);
            }
            if (large) {
                if ((e & MIB2_RESERVED) != 0) return new PageWalk.Fault(virtual, level, "reserved bits 20:13 set in a 2 MiB page entry");
                return new PageWalk.Translation(virtual, (e & MIB2_ADDRESS) | (virtual & ((1L << 21) - 1)), 1L << 21, writable, user, executable);
            }
            if (level == 1) return new PageWalk.Translation(virtual, (e & ADDRESS) | (virtual & 0xFFF), 4096, writable, user, executable);
            table = e & ADDRESS;
        }
        throw new AssertionError("unreachable: a walk ends at level 1");
    }

    /**
     * Reads {@code length} bytes from virtual address {@code virtual}, page by page (a read may
     * span pages that lie anywhere in guest RAM). Throws {@link PageFaultException} for an address
     * without a translation or one that lands outside RAM.
     */
    public byte[] read(long virtual, int length) {
        if (length < 0 || length > MAX_READ) throw new IllegalArgumentException("read length " + length + " (at most " + MAX_READ + ")");
        byte[] out = new byte[length];
        int done = 0;
        while (done < length) {
            long va = virtual + done;
            PageWalk w = translate(va);
            if (!(w instanceof PageWalk.Translation t)) throw new PageFaultException((PageWalk.Fault) w);
            int chunk = (int) Math.min(length - done, t.pageSize() - (t.physical() & (t.pageSize() - 1)));
            if (!memory.isRam(GuestAddress.of(t.physical()), chunk)) {
                throw new PageFaultException(new PageWalk.Fault(va, 0, "it maps to 0x%x, which is not RAM".formatted(t.physical())));
            }
            System.arraycopy(memory.read(GuestAddress.of(t.physical()), chunk), 0, out, done, chunk);
            done += chunk;
        }
        return out;
    }
}
