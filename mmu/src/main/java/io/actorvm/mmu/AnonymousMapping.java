package io.actorvm.mmu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Host memory for guest RAM: an anonymous private mapping with MAP_NORESERVE, so a large guest
 * costs only the pages it touches. Zero-filled by the kernel; never allocated on the Java heap.
 */
public final class AnonymousMapping implements AutoCloseable {
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20,
            MAP_NORESERVE = 0x4000;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MMAP = LINKER.downcallHandle(LINKER.defaultLookup().find("mmap").orElseThrow(),
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = LINKER.downcallHandle(LINKER.defaultLookup().find("munmap").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));

    private final Arena arena;
    private final MemorySegment segment;

    private AnonymousMapping(Arena arena, MemorySegment segment) {
        this.arena = arena;
        this.segment = segment;
    }

    /** Maps {@code size} bytes (a multiple of 4 KiB) of zeroed, lazily allocated memory. */
    public static AnonymousMapping map(long size) {
        if (size <= 0 || (size & 0xFFF) != 0) throw new IllegalArgumentException("mapping size must be a positive multiple of 4 KiB: " + size);
        MemorySegment p;
        try {
            p = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (p.address() == -1L) throw new OutOfMemoryError("mmap of " + size + " bytes of guest memory failed");
        // The segment's lifetime is a shared arena whose closing unmaps it: any access after
        // close() (from any thread, through any slice) throws instead of touching freed memory.
        Arena arena = Arena.ofShared();
        return new AnonymousMapping(arena, p.reinterpret(size, arena, AnonymousMapping::unmap));
    }

    private static void unmap(MemorySegment s) {
        try {
            int unused = (int) MUNMAP.invokeExact(s, s.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public MemorySegment segment() {
        return segment;
    }

    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
