package io.actorvm.mmu;

/**
 * What backs guest RAM besides 4 KiB pages. Large host pages let the MMU map guest memory with
 * fewer, larger nested page-table entries: fewer TLB misses and shorter two-dimensional walks
 * for a guest that touches much memory.
 */
public enum HugePages {
    /** 4 KiB pages only (the default). */
    NONE("none"),
    /** Transparent huge pages: the anonymous mapping is madvised, the kernel uses 2 MiB pages where it can. */
    TRANSPARENT("thp"),
    /**
     * 2 MiB pages from the hugetlbfs pool ({@code /proc/sys/vm/nr_hugepages}), all taken when the
     * VM starts (as Firecracker's {@code huge_pages: "2M"}); RAM must be a multiple of 2 MiB.
     */
    HUGETLB_2M("2M");

    public static final long TWO_MIB = 2L << 20;

    private final String flag;

    HugePages(String flag) {
        this.flag = flag;
    }

    /** As the CLI and the journal write it: {@code none}, {@code thp} or {@code 2M}. */
    public String flag() {
        return flag;
    }

    /** The value of {@code flag}; IllegalArgumentException naming the choices for anything else. */
    public static HugePages parse(String flag) {
        for (HugePages h : values()) if (h.flag.equalsIgnoreCase(flag)) return h;
        throw new IllegalArgumentException("huge pages '" + flag + "': expected none, thp or 2M");
    }
}
