package io.actorvm.mmu.paging;

/** What walking the page tables for one virtual address found. */
public sealed interface PageWalk {

    /**
     * A mapped address: where it lands, the size of the page that maps it, and the access the
     * walk allows (writable and user only if every level allows it; executable unless a level
     * sets XD while EFER.NXE is on).
     */
    record Translation(long virtual, long physical, long pageSize, boolean writable, boolean user, boolean executable)
            implements PageWalk {}

    /**
     * No translation: {@code level} is the table level whose entry stopped the walk (5 or 4 for
     * the top, 1 for a page table; 0 before any table was read) and {@code reason} says why, as
     * a page fault would (not present, a reserved bit set, not canonical, a table outside RAM).
     */
    record Fault(long virtual, int level, String reason) implements PageWalk {
        @Override
        public String toString() {
            return "no translation for 0x%x (level %d): %s".formatted(virtual, level, reason);
        }
    }
}
