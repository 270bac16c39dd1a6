package io.actorvm.mmu;

import io.actorvm.libc.Libc;
import io.actorvm.libc.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Host memory for guest RAM, never on the Java heap: a private mapping with MAP_NORESERVE, so a
 * large guest costs only the pages it touches. Either anonymous (zero-filled by the kernel) or of
 * a file, copy-on-write: a page is read from the file when the guest (or the VMM) first touches it
 * and becomes the VM's own when first written; the file never changes. That is how a snapshot's
 * memory file is restored without copying it (as Firecracker's File backend does).
 */
public final class PrivateMapping implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment segment;

    private PrivateMapping(Arena arena, MemorySegment segment) {
        this.arena = arena;
        this.segment = segment;
    }

    /** Maps {@code size} bytes (a multiple of 4 KiB) of zeroed, lazily allocated memory. */
    public static PrivateMapping anonymous(long size) {
        return anonymous(size, HugePages.NONE);
    }

    /**
     * Maps {@code size} bytes of zeroed memory on pages of the kind {@code huge} says: lazily
     * allocated 4 KiB pages, the same madvised for transparent huge pages, or 2 MiB hugetlbfs pages
     * all reserved now ({@code size} a multiple of 2 MiB; a pool too small is an
     * IllegalStateException naming it, not a SIGBUS later).
     */
    public static PrivateMapping anonymous(long size, HugePages huge) {
        checkSize(size);
        if (huge == HugePages.HUGETLB_2M && size % HugePages.TWO_MIB != 0) {
            throw new IllegalArgumentException("2M huge pages need RAM in whole 2 MiB pages, not " + size + " bytes");
        }
        // The segment's lifetime is a shared arena whose closing unmaps it: any access after
        // close() (from any thread, through any slice) throws instead of touching freed memory.
        Arena arena = Arena.ofShared();
        String what = "mmap of " + size + " bytes of guest memory";
        MemorySegment segment;
        try {
            segment = huge == HugePages.HUGETLB_2M ? Libc.mmapAnonymousHuge2M(size, arena, what) : Libc.mmapAnonymous(size, arena, what);
        } catch (SyscallException e) {
            arena.close();
            if (huge == HugePages.HUGETLB_2M) {
                throw new IllegalStateException("cannot take " + (size / HugePages.TWO_MIB) + " huge pages of 2 MiB for guest memory ("
                        + e.getMessage() + "); the pool is /proc/sys/vm/nr_hugepages");
            }
            throw new OutOfMemoryError(e.getMessage());
        }
        if (huge == HugePages.TRANSPARENT) {
            try {
                Libc.madvise(segment, Libc.MADV_HUGEPAGE, "madvise(MADV_HUGEPAGE) of guest memory");
            } catch (SyscallException e) {
                arena.close();
                throw new IllegalStateException(e.getMessage() + ": transparent huge pages are off here (/sys/kernel/mm/transparent_hugepage/enabled)");
            }
        }
        return new PrivateMapping(arena, segment);
    }

    /**
     * Maps {@code size} bytes of {@code file} from {@code offset} (both multiples of 4 KiB),
     * copy-on-write. The file is opened read-only and closed at once (the mapping keeps it). The
     * caller checks the file is long enough: a page past its end would fault the touching thread.
     */
    public static PrivateMapping ofFile(Path file, long offset, long size) {
        checkSize(size);
        if (offset < 0 || (offset & 0xFFF) != 0) throw new IllegalArgumentException("file offset must be a multiple of 4 KiB: " + offset);
        int fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        Arena arena = Arena.ofShared();
        try {
            return new PrivateMapping(arena, Libc.mmapPrivateFile(fd, offset, size, arena, "mmap of " + file));
        } catch (SyscallException e) {
            arena.close();
            throw e;
        } finally {
            Libc.close(fd);
        }
    }

    private static void checkSize(long size) {
        if (size <= 0 || (size & 0xFFF) != 0) throw new IllegalArgumentException("mapping size must be a positive multiple of 4 KiB: " + size);
    }

    public MemorySegment segment() {
        return segment;
    }

    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
